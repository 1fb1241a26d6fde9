"""Deliveries run on their own queue: a slow receiver holds a delivery worker, never the
worker of the escalation sweep and the SLA work."""

from __future__ import annotations

import json
import os

import pytest
import redis

from helpdesk.celery import app
from notifications import outbox
from notifications.queueing import DELIVERIES_QUEUE, RELAY_DELIVERIES, SEND_DELIVERY


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize("task_name", [SEND_DELIVERY, RELAY_DELIVERIES])
def test_sending_tasks_are_routed_to_the_deliveries_queue(task_name):
    assert queue_of(task_name) == DELIVERIES_QUEUE == "deliveries"


@pytest.mark.parametrize(
    "task_name", ["escalation.tasks.sweep_escalations", "sla.tasks.recompute_ticket_clocks"]
)
def test_the_sweep_and_sla_work_stay_on_the_default_queue(task_name):
    assert queue_of(task_name) == app.conf.task_default_queue == "celery"


def test_the_beat_entries_name_registered_tasks():
    import api.tasks  # noqa: F401
    import escalation.tasks  # noqa: F401
    import incidents.tasks  # noqa: F401
    import lessons.tasks  # noqa: F401
    import mail.tasks  # noqa: F401
    import notifications.tasks  # noqa: F401
    import reporting.tasks  # noqa: F401

    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks


@pytest.mark.redis
def test_enqueue_publishes_on_the_deliveries_queue(settings):
    # The real broker: the message lands in the Redis list of the `deliveries` queue.
    # kombu keeps one list per priority step: `deliveries`, `deliveries<sep>6`, ...
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    lists = lambda name: client.keys(f"{name}*")  # noqa: E731
    for name in (DELIVERIES_QUEUE, "celery"):
        if lists(name):
            client.delete(*lists(name))
    try:
        assert outbox.enqueue(424242) is True
        messages = [
            json.loads(m) for key in lists(DELIVERIES_QUEUE) for m in client.lrange(key, 0, -1)
        ]
        assert [m["headers"]["task"] for m in messages] == [SEND_DELIVERY]
        assert messages[0]["headers"]["argsrepr"] == "(424242,)"
        assert messages[0]["properties"]["priority"] == outbox.NORMAL_PRIORITY
        assert not lists("celery")
    finally:
        if lists(DELIVERIES_QUEUE):
            client.delete(*lists(DELIVERIES_QUEUE))


def test_the_procfile_runs_a_worker_per_queue():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "Procfile")) as procfile:
        lines = dict(line.split(":", 1) for line in procfile if line.strip())
    assert "-Q celery" in lines["worker"]
    assert "-Q deliveries" in lines["deliveries"]
