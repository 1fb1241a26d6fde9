"""/healthz: the database and the broker must answer; the sweep and the outbox may lag."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from monitoring import services
from notifications.models import Delivery
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def record_sweep_ended(ago: timedelta) -> None:
    ended = timezone.now() - ago
    services.record_sweep(
        started_at=ended - timedelta(seconds=2), ended_at=ended, summary={"examined": 3}
    )


def test_ok_without_login_when_the_sweep_is_recent(client):
    record_sweep_ended(timedelta(seconds=30))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["checks"]["sweep"]["status"] == "ok"
    assert 29 <= body["checks"]["sweep"]["last_finished_seconds_ago"] < 120
    assert body["checks"]["outbox"] == {"status": "ok", "oldest_due_seconds": 0.0}
    assert "no-cache" in response["Cache-Control"]


def test_head_is_answered_for_load_balancers(client):
    assert client.head("/healthz").status_code == 200


def test_a_new_installation_without_a_sweep_is_degraded_not_down(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["sweep"] == {"status": "degraded", "last_finished_seconds_ago": None}


def test_an_old_sweep_and_a_waiting_outbox_are_degraded(client, settings):
    settings.HEALTH_SWEEP_MAX_AGE_SECONDS = 300
    settings.HEALTH_OUTBOX_MAX_AGE_SECONDS = 600
    record_sweep_ended(timedelta(minutes=10))
    Delivery.objects.create(
        channel=Delivery.Channel.EMAIL,
        user=UserFactory(),
        kind="ticket_assigned",
        next_attempt_at=timezone.now() - timedelta(minutes=20),
    )
    # A retry that is not due yet does not count as waiting.
    Delivery.objects.create(
        channel=Delivery.Channel.EMAIL,
        user=UserFactory(),
        kind="ticket_assigned",
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["checks"]["sweep"]["status"] == "degraded"
    assert body["checks"]["sweep"]["last_finished_seconds_ago"] >= 600
    assert body["checks"]["outbox"]["status"] == "degraded"
    assert 1199 <= body["checks"]["outbox"]["oldest_due_seconds"] < 1300


def test_database_errors_are_a_503_without_details(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused to 10.0.0.5 as helpdesk")

    monkeypatch.setattr("monitoring.health.connection.cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "error", "error": "OperationalError"}
    assert "10.0.0.5" not in response.content.decode()


def test_an_unreachable_broker_is_a_503(client, settings):
    # A port nobody listens on: the ping fails fast and the name of the error is reported.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    record_sweep_ended(timedelta(seconds=5))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"status": "error", "error": "ConnectionError"}


@pytest.mark.redis
def test_a_real_redis_broker_answers(client, settings):
    import os

    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    record_sweep_ended(timedelta(seconds=5))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {"status": "ok"}
