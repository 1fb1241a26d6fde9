"""What `/healthz` checks: the database and the broker (must answer), the last sweep's age and
the outbox's age (may lag: the answer says "degraded", the web process stays in service)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Min
from django.utils import timezone

from monitoring.models import SweepHeartbeat
from notifications.models import Delivery

OK = "ok"
DEGRADED = "degraded"
ERROR = "error"


@dataclasses.dataclass
class Report:
    status: str
    checks: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checks": self.checks}


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"status": ERROR, "error": type(exc).__name__}
    return {"status": OK}


def _broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return {"status": OK, "transport": url.split(":", 1)[0]}
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return {"status": ERROR, "error": type(exc).__name__}
    finally:
        client.close()
    return {"status": OK}


def _sweep(now: Any) -> dict[str, Any]:
    beat = SweepHeartbeat.objects.filter(pk=SweepHeartbeat.ONE).first()
    if beat is None or beat.last_finished_at is None:
        # A new installation (or workers that never ran): say so, it is not yet a lag.
        return {"status": DEGRADED, "last_finished_seconds_ago": None}
    age = max(0.0, (now - beat.last_finished_at).total_seconds())
    late = age > settings.HEALTH_SWEEP_MAX_AGE_SECONDS
    return {"status": DEGRADED if late else OK, "last_finished_seconds_ago": round(age, 1)}


def _outbox(now: Any) -> dict[str, Any]:
    oldest = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    late = age > settings.HEALTH_OUTBOX_MAX_AGE_SECONDS
    return {"status": DEGRADED if late else OK, "oldest_due_seconds": round(age, 1)}


def check() -> Report:
    checks: dict[str, dict[str, Any]] = {"database": _database(), "broker": _broker()}
    if checks["database"]["status"] == OK:
        now = timezone.now()
        checks["sweep"] = _sweep(now)
        checks["outbox"] = _outbox(now)
    statuses = {check["status"] for check in checks.values()}
    status = ERROR if ERROR in statuses else DEGRADED if DEGRADED in statuses else OK
    return Report(status=status, checks=checks)
