"""A real worker's sweep beats the heart that /healthz and /metrics read."""

from __future__ import annotations

import pytest

from escalation.tasks import sweep_escalations
from monitoring.models import SweepHeartbeat
from tests.integration.conftest import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_sweep_run_by_a_worker_is_seen_by_healthz(start_worker, client):
    before = client.get("/healthz").json()["checks"]["sweep"]
    assert before["last_finished_seconds_ago"] is None
    start_worker("heart")
    sweep_escalations.delay()
    sweep_escalations.delay()
    wait_until(lambda: SweepHeartbeat.objects.filter(runs=2).exists(), 60, "two sweeps recorded")
    after = client.get("/healthz").json()
    assert after["checks"]["sweep"]["status"] == "ok"
    assert after["checks"]["sweep"]["last_finished_seconds_ago"] < 60
