"""The outbox with real parts: PostgreSQL, Redis, Celery worker processes and a webhook receiver
on 127.0.0.1.

A failing receiver gets each event after retries, signed, with one id, exactly once; a broker
outage while tickets are created and escalated fails nothing, and the relay sends everything
exactly once when the broker is back.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise

import pytest

from escalation import services as esc
from escalation.models import EscalationRule
from helpdesk.celery import app
from notifications.models import Delivery, WebhookEndpoint
from notifications.tasks import relay_deliveries
from tests.factories import SupportLevelFactory, TeamFactory, UserFactory
from tests.integration.conftest import wait_until
from tests.notifications.conftest import Receiver, start_receiver, verify_standard_webhook
from tickets import services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    # serialized_rollback: the data migrations' rows come back for the tests after these.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(autouse=True)
def fast_outbox(settings, monkeypatch):
    """Loopback receivers allowed and retries after about a second, here and in the workers
    (which read the same variables from their environment)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 1.0
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setenv("NOTIFICATIONS_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("EMAIL_URL", "consolemail://")  # emails end up in the worker's log
    EscalationRule.objects.update(is_active=False)  # only what the test does escalates


@pytest.fixture(autouse=True)
def _empty_queue():
    app.control.purge()
    yield
    app.control.purge()


def chain() -> tuple[list, list]:
    """L1 → L2, each with a lead and an agent; returns (agents, leads)."""
    lead2, agent2 = UserFactory(username="lead2"), UserFactory(username="agent2")
    l2 = TeamFactory(name="L2", level=SupportLevelFactory(rank=2), lead=lead2, members=[agent2])
    lead1, agent1 = UserFactory(username="lead1"), UserFactory(username="agent1")
    TeamFactory(
        name="L1", level=SupportLevelFactory(rank=1), lead=lead1, members=[agent1], escalates_to=l2
    )
    return [agent1, agent2], [lead1, lead2]


def new_ticket(agent, subject: str):
    return services.ticket_create(
        actor=agent,
        data=services.NewTicket(subject=subject, description="", team=agent.teams.get()),
    )


def all_sent(ids: list[int]) -> bool:
    return Delivery.objects.filter(pk__in=ids).exclude(status="sent").count() == 0


def test_a_failing_receiver_gets_the_event_after_retries_exactly_once(start_worker, receiver):
    agents, _leads = chain()
    endpoint = WebhookEndpoint.objects.create(url=receiver.url, event_types=["ticket.created"])
    receiver.responses = [500, 503, 502]  # three failures, then 204
    start_worker("w1")
    start_worker("w2")  # two workers: duplicate tasks race for the same row

    new_ticket(agents[0], "Payment fails")  # commits; the send task is queued on commit
    delivery = Delivery.objects.get(kind="ticket.created")
    for _ in range(3):  # duplicate relays while it is retrying
        relay_deliveries.delay()
        time.sleep(0.5)
    wait_until(lambda: all_sent([delivery.pk]), timeout=60, what="the webhook delivered")
    relay_deliveries.delay()
    time.sleep(3)  # any straggling duplicate must find nothing to send

    received = receiver.received
    assert len(received) == 4
    assert {r.headers["webhook-id"] for r in received} == {delivery.event_id}
    assert all(verify_standard_webhook(endpoint.secret, r.headers, r.body) for r in received)
    assert {r.body for r in received} == {received[0].body}  # the same body every time
    attempts = list(delivery.attempt_log.values_list("number", "ok", "status_code"))
    assert attempts == [(1, False, 500), (2, False, 503), (3, False, 502), (4, True, 204)]
    # Backoff: each wait at least half of base·2^(n-1) seconds (jitter), so they grow.
    stamps = [a.started_at for a in delivery.attempt_log.all()]
    gaps = [(b - a).total_seconds() for a, b in pairwise(stamps)]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0 and gaps[2] >= 2.0


# --- Broker outage ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pings(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


def _start_redis(port: int, tmp_path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: _pings(port), 10, "redis to start")
    return process


@contextlib.contextmanager
def producing_to(url: str) -> Iterator[None]:
    """Let this process publish to `url` (a private Redis the test can stop and start)."""

    def use(broker: str) -> None:
        # The pools are kombu's, shared per broker URL: drop our references, close nothing.
        app.conf.broker_url = broker
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    use(url)
    try:
        yield
    finally:
        use(previous)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_broker_outage_loses_nothing_and_the_relay_sends_everything_once(
    start_worker, receiver, tmp_path
):
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_process = _start_redis(port, tmp_path)
    try:
        with producing_to(url):
            worker = start_worker("outage", broker_url=url)
            agents, _leads = chain()
            endpoint = WebhookEndpoint.objects.create(url=receiver.url)  # every event
            redis_process.kill()
            redis_process.wait()

            # Redis is gone: creating and escalating tickets still works, and quickly.
            for n in range(4):
                started = time.monotonic()
                ticket = new_ticket(agents[0], f"Outage {n}")
                esc.escalation_raise(
                    ticket=ticket,
                    actor=agents[0],
                    kind="hierarchical",
                    package=esc.Package(summary="Down", actions_taken="Restarted"),
                )
                assert time.monotonic() - started < 3, "a broker outage must not hang a request"
            deliveries = list(Delivery.objects.values_list("pk", "channel", "status", "attempts"))
            webhooks = [pk for pk, channel, *_ in deliveries if channel == "webhook"]
            emails = [pk for pk, channel, *_ in deliveries if channel == "email"]
            assert len(webhooks) >= 4 * 4 and len(emails) == 4 * 2  # L2's agent and lead
            assert {(status, attempts) for _pk, _c, status, attempts in deliveries} == {
                ("pending", 0)
            }
            assert receiver.received == []

            redis_process = _start_redis(port, tmp_path)
            relay_deliveries.delay()
            relay_deliveries.delay()  # a duplicate beat
            wait_until(lambda: all_sent(webhooks + emails), timeout=120, what="the relay")
            relay_deliveries.delay()
            time.sleep(3)
            worker.stop()

        ids = Counter(r.headers["webhook-id"] for r in receiver.received)
        expected = set(Delivery.objects.filter(pk__in=webhooks).values_list("event_id", flat=True))
        assert set(ids) == expected and set(ids.values()) == {1}  # each exactly once
        assert all(
            verify_standard_webhook(endpoint.secret, r.headers, r.body) for r in receiver.received
        )
        log = worker.log.read_text()
        sent_ids = Counter(re.findall(r"Message-ID: <delivery-(\d+)@", log))
        assert {int(pk) for pk in sent_ids} == set(emails)
        assert set(sent_ids.values()) == {1}
        assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    finally:
        redis_process.kill()
