"""Writes of the monitoring app: the sweep's heartbeat."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.db.models import F

from monitoring.models import SweepHeartbeat


def record_sweep(
    *, started_at: dt.datetime, ended_at: dt.datetime, summary: Mapping[str, object]
) -> None:
    """Add one finished sweep to the running totals (one UPDATE; the row is made on first use).

    Several sweeps (helpers) may end at once: the totals are added in SQL, and the "last"
    figures are those of whichever wrote last, which is the most recent one to end."""

    def count(key: str) -> int:
        value = summary.get(key, 0)
        return value if isinstance(value, int) else 0

    duration = max(0.0, (ended_at - started_at).total_seconds())
    changes = {
        "runs": F("runs") + 1,
        "examined": F("examined") + count("examined"),
        "fired": F("fired") + count("fired"),
        "failed": F("failed") + count("failed"),
        "seconds": F("seconds") + duration,
        "last_started_at": started_at,
        "last_finished_at": ended_at,
        "last_duration": duration,
    }
    row = SweepHeartbeat.objects.filter(pk=SweepHeartbeat.ONE)
    if row.update(**changes):
        return
    try:
        with transaction.atomic():
            SweepHeartbeat.objects.create(pk=SweepHeartbeat.ONE)
    except IntegrityError:
        pass  # another sweep made it first
    row.update(**changes)
