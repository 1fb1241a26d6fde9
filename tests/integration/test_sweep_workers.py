"""The escalation sweep with real parts: PostgreSQL, Redis and Celery worker processes.

Exactly once under concurrency, worker crashes and broker outages.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time

import pytest
from django.db.models import Count
from django.utils import timezone

from escalation.models import Escalation, EscalationRule, RuleFiring
from escalation.tasks import sweep_escalations
from helpdesk.celery import app
from tests.factories import SupportLevelFactory, TeamFactory, UserFactory
from tests.integration.conftest import wait_until
from tickets.models import Ticket

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    # serialized_rollback: the data migrations' rows (levels, policies, rules) come back after
    # each test truncates the tables, for the tests that run after this one.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def make_due_tickets(count: int) -> tuple[list[int], object]:
    """`count` open tickets at level 1 that a 'no progress' rule escalates to level 2 now."""
    EscalationRule.objects.update(is_active=False)
    rule = EscalationRule.objects.create(
        name="No progress for an hour",
        order=1,
        trigger="no_progress",
        threshold=dt.timedelta(hours=1),
        escalate="hierarchical",
        notify_target_team=True,
    )
    level2 = TeamFactory(
        name="L2", level=SupportLevelFactory(rank=2), members=[UserFactory(username="expert")]
    )
    level1 = TeamFactory(name="L1", level=SupportLevelFactory(rank=1), escalates_to=level2)
    long_ago = timezone.now() - dt.timedelta(days=2)
    Ticket.objects.bulk_create(
        [
            Ticket(
                reference=f"HD-2026-{n:06d}",
                subject=f"Ticket {n}",
                team=level1,
                level=level1.level,
                created_at=long_ago,
                cycle_started_at=long_ago,
                next_check_at=long_ago,
            )
            for n in range(1, count + 1)
        ],
        batch_size=1000,
    )
    return list(Ticket.objects.values_list("pk", flat=True)), rule


def assert_each_escalated_exactly_once(ids: list[int]) -> None:
    per_ticket = dict(
        Escalation.objects.values("ticket").annotate(n=Count("pk")).values_list("ticket", "n")
    )
    assert set(per_ticket) == set(ids), f"missing: {len(set(ids) - set(per_ticket))}"
    assert set(per_ticket.values()) == {1}
    assert RuleFiring.objects.count() == len(ids)
    assert set(Ticket.objects.values_list("level__rank", flat=True)) == {2}


def all_escalated(count: int) -> bool:
    return Escalation.objects.count() >= count


@pytest.fixture(autouse=True)
def _empty_queue():
    app.control.purge()
    yield
    app.control.purge()


def test_two_workers_sweeping_at_once_escalate_each_ticket_once(start_worker):
    ids, _rule = make_due_tickets(2000)
    start_worker("w1")
    start_worker("w2")
    for _ in range(4):  # duplicate beats: four sweeps for two workers
        sweep_escalations.delay()
    wait_until(lambda: all_escalated(len(ids)), timeout=600, what="all tickets escalated")
    time.sleep(2)  # let any straggling sweep finish: it must find nothing more to do
    assert_each_escalated_exactly_once(ids)


def test_a_worker_killed_mid_sweep_loses_nothing(start_worker):
    ids, _rule = make_due_tickets(600)
    worker = start_worker("victim")
    sweep_escalations.delay()
    wait_until(lambda: Escalation.objects.count() >= 50, timeout=120, what="the sweep to start")
    worker.kill()
    done_before = Escalation.objects.count()
    assert 0 < done_before < len(ids)
    start_worker("survivor")
    sweep_escalations.delay()
    wait_until(lambda: all_escalated(len(ids)), timeout=300, what="the rest escalated")
    time.sleep(1)
    assert_each_escalated_exactly_once(ids)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    import redis

    wait_until(
        lambda: _pings(redis.Redis(port=port, socket_connect_timeout=0.2)), 10, "redis to start"
    )
    return process


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_broker_outage_then_recovery_escalates_everything_once(start_worker, tmp_path):
    """Redis is down while tickets become due; once it is back, everything due escalates."""
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_process = _start_redis(port, tmp_path)
    worker = start_worker("outage", broker_url=url)
    redis_process.kill()
    redis_process.wait()
    ids, _rule = make_due_tickets(300)  # they become due while the broker is gone
    producer = app.connection_for_write(url)
    with pytest.raises(Exception):  # noqa: B017 - any broker error: the beat cannot enqueue
        sweep_escalations.apply_async(connection=producer, retry=False)
    assert Escalation.objects.count() == 0
    redis_process = _start_redis(port, tmp_path)
    try:
        worker.wait_for("Connected to redis", timeout=60)
        sweep_escalations.apply_async(connection=app.connection_for_write(url))
        sweep_escalations.apply_async(connection=app.connection_for_write(url))
        wait_until(lambda: all_escalated(len(ids)), timeout=300, what="recovery")
        time.sleep(1)
        assert_each_escalated_exactly_once(ids)
    finally:
        worker.stop()
        redis_process.kill()


def test_rule_and_sla_changes_take_effect_on_the_next_evaluation(start_worker):
    from escalation.sweep import rules_changed
    from sla.models import BusinessCalendar, SLAPolicy, SLATarget
    from sla.services import sla_recompute
    from tests.escalation.test_services import Chain
    from tickets.models import TicketEvent

    EscalationRule.objects.update(is_active=False)
    breach_rule, _ = EscalationRule.objects.update_or_create(
        name="First response breached: next level",
        defaults={
            "trigger": "sla_breach",
            "sla_target": "first_response",
            "escalate": "hierarchical",
            "is_active": False,
            "order": 30,
        },
    )
    office = BusinessCalendar.objects.create(name="Night desk", timezone="Europe/Berlin")
    office.opening_hours.create(weekday=0, start=dt.time(3), end=dt.time(4))  # rarely open
    policy = SLAPolicy.objects.create(name="Changing policy", order=0, calendar=office)
    for priority in range(1, 5):
        SLATarget.objects.create(
            policy=policy,
            priority=priority,
            first_response=dt.timedelta(hours=4),
            resolution=dt.timedelta(hours=40),
        )
    chain = Chain()
    ticket = chain.ticket(now=timezone.now() - dt.timedelta(minutes=10))
    ticket.refresh_from_db()
    assert ticket.sla_policy == policy
    # The SLA changes while the ticket is open: around the clock, first response in 5 minutes.
    policy.calendar = BusinessCalendar.objects.create(name="Always", always_open=True)
    policy.save()
    policy.targets.filter(priority=ticket.priority).update(first_response=dt.timedelta(minutes=5))
    sla_recompute(ticket=ticket)
    start_worker("changes")
    sweep_escalations.delay()
    wait_until(
        lambda: TicketEvent.objects.filter(ticket=ticket, kind="sla_breach").exists(),
        timeout=60,
        what="the breach under the new SLA",
    )
    ticket.refresh_from_db()
    assert ticket.level.rank == 1  # no active rule yet
    # The rule changes while the ticket is open: the next evaluation applies it.
    EscalationRule.objects.filter(pk=breach_rule.pk).update(is_active=True)
    rules_changed()
    sweep_escalations.delay()
    wait_until(
        lambda: Ticket.objects.get(pk=ticket.pk).level.rank == 2, timeout=60, what="escalation"
    )
    assert Escalation.objects.filter(ticket=ticket).count() == 1
