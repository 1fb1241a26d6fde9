"""Request ids and structured logs: one escalation can be followed by its request id and ticket."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from pythonjsonlogger.json import JsonFormatter

from helpdesk import logcontext
from monitoring import signals
from monitoring.models import SweepHeartbeat
from tests.factories import TicketFactory
from tickets import selectors

pytestmark = pytest.mark.django_db


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(logcontext.ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_sane_incoming_request_id_is_kept_and_a_crafted_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-4f2a9c1e")["X-Request-ID"] == "lb-4f2a9c1e"
    crafted = client.get("/healthz", HTTP_X_REQUEST_ID='x"\n{"level":"ERROR"}')["X-Request-ID"]
    assert '"' not in crafted and len(crafted) == 32


def test_the_view_runs_with_the_request_id_and_reference_in_the_context(
    client, agent, team_a, monkeypatch, captured
):
    client.force_login(agent)
    ticket = TicketFactory(team=team_a)
    logger = logging.getLogger("tests.monitoring")
    original = selectors.ticket_page_timeline

    def spy(*args, **kwargs):
        logger.warning("inside the ticket page")
        return original(*args, **kwargs)

    monkeypatch.setattr(selectors, "ticket_page_timeline", spy)
    response = client.get(f"/tickets/{ticket.reference}/", HTTP_X_REQUEST_ID="req-12345678")
    assert response.status_code == 200
    logger.warning("outside")
    inside = next(r for r in captured if r.getMessage() == "inside the ticket page")
    outside = next(r for r in captured if r.getMessage() == "outside")
    assert (inside.request_id, inside.ticket) == ("req-12345678", ticket.reference)
    assert (outside.request_id, outside.ticket) == (None, None)


def test_the_json_format_writes_one_object_with_the_context_fields():
    formatter = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(ticket)s %(task_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )
    record = logging.LogRecord("escalation", logging.INFO, __file__, 1, "fired %s", ("x",), None)
    with logcontext.bind(request_id="r-1", ticket="HD-2026-000001", task_id="t-1"):
        logcontext.ContextFilter().filter(record)
    line = json.loads(formatter.format(record))
    assert line["message"] == "fired x"
    assert line["level"] == "INFO" and line["logger"] == "escalation"
    assert (line["request_id"], line["ticket"], line["task_id"]) == ("r-1", "HD-2026-000001", "t-1")


def test_production_settings_log_json_and_the_demo_plain_lines():
    code = (
        "import helpdesk.settings as s; "
        "print(s.LOG_FORMAT, s.LOGGING['handlers']['console']['formatter'])"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG", "DEMO"}}
    production = {**base, "DEMO": "false", "DEBUG": "false", "SECRET_KEY": "k" * 60}
    demo = {**base, "DEMO": "true", "DEBUG": "true"}
    for env, expected in ((production, "json json"), (demo, "plain plain")):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.split()[-2:] == expected.split()


# --- Celery ------------------------------------------------------------------------------------


def test_the_request_id_travels_with_a_queued_task():
    headers: dict[str, str] = {}
    with logcontext.bind(request_id="req-queued-1"):
        signals.add_request_id(headers=headers)
    assert headers == {signals.REQUEST_ID_HEADER: "req-queued-1"}
    untouched: dict[str, str] = {}
    signals.add_request_id(headers=untouched)
    assert untouched == {}


def test_a_task_runs_with_its_id_and_the_carried_request_id():
    task = SimpleNamespace(
        name="notifications.tasks.send_delivery",
        request=SimpleNamespace(**{signals.REQUEST_ID_HEADER: "req-from-web"}),
    )
    signals.task_started(task_id="task-1", task=task)
    assert logcontext.task_id.get() == "task-1"
    assert logcontext.request_id.get() == "req-from-web"
    signals.task_ended(task_id="task-1", task=task, retval="sent", state="SUCCESS")
    assert logcontext.task_id.get() is None and logcontext.request_id.get() is None
    assert not SweepHeartbeat.objects.exists()


def test_a_finished_sweep_task_beats_the_heart_and_a_failed_one_does_not():
    task = SimpleNamespace(name=signals.SWEEP_TASK, request=SimpleNamespace())
    signals.task_started(task_id="s-1", task=task)
    signals.task_ended(
        task_id="s-1", task=task, retval={"examined": 5, "fired": 2, "failed": 0}, state="SUCCESS"
    )
    signals.task_started(task_id="s-2", task=task)
    signals.task_ended(task_id="s-2", task=task, retval=None, state="FAILURE")
    beat = SweepHeartbeat.objects.get()
    assert (beat.runs, beat.examined, beat.fired, beat.failed) == (1, 5, 2, 0)
    assert beat.last_finished_at is not None and beat.last_duration >= 0
