"""The real Prometheus Alertmanager (Debian's 0.25) pointed at our alert intake: alerts posted
to it come in as its own webhook notifications, open one ticket, and its "resolved" resolves
it. Nothing of the payload is built by us."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.models import AlertGroup
from tests.factories import TeamFactory
from tests.integrations.conftest import make_integration
from tickets.models import Ticket

pytestmark = [
    pytest.mark.alertmanager,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BINARY = "prometheus-alertmanager"
WAIT = 45.0


def free_port() -> int:
    """A port the OS picks (bound to port 0), for Alertmanager to listen on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {WAIT} s\n{log.read_text()[-3000:]}")


@pytest.fixture
def alertmanager(live_server, settings, tmp_path) -> Iterator[tuple[str, object, Path]]:
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    integration, secret = make_integration(TeamFactory(name="On call"))
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "route": {
                    "receiver": "helpdesk",
                    "group_by": ["alertname"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "helpdesk",
                        "webhook_configs": [
                            {
                                "url": f"{live_server.url}/api/v1/alerts/",
                                "send_resolved": True,
                                "http_config": {
                                    "authorization": {"type": "Bearer", "credentials": secret}
                                },
                            }
                        ],
                    }
                ],
            }
        )
    )
    port = free_port()
    log = tmp_path / "alertmanager.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, "Alertmanager starting", log)
        yield base, integration, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def post_alert(base: str, *, ends_at: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-1"},
        "annotations": {"summary": "Disk full on db-1", "description": "/var at 99 %"},
        "startsAt": (now - timedelta(minutes=5)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(  # noqa: S310 - our own local Alertmanager
        f"{base}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 200


def test_alertmanager_opens_one_ticket_and_resolves_it(alertmanager):
    base, integration, log = alertmanager
    post_alert(base)
    post_alert(base)  # the same alert again: Alertmanager merges it, we see one group
    wait_for(lambda: Ticket.objects.exists(), "a ticket from Alertmanager", log)
    ticket = Ticket.objects.get()
    assert ticket.subject == "Disk full on db-1"
    assert ticket.channel == Ticket.Channel.MONITORING
    assert (ticket.impact, ticket.urgency, ticket.priority) == (1, 1, 1)
    assert ticket.created_by == integration.account.user
    post_alert(base, ends_at=datetime.now(UTC))
    wait_for(
        lambda: Ticket.objects.filter(status=Ticket.Status.RESOLVED).exists(),
        "the ticket resolved by Alertmanager's resolved notification",
        log,
    )
    assert Ticket.objects.count() == 1
    group = AlertGroup.objects.get()
    assert not group.is_open and len(group.dedup_key) == 16  # Alertmanager's fingerprint
