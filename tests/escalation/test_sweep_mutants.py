"""The sweep (`escalation.sweep`) and its two lanes, the per-ticket evaluation
(`escalation.evaluation`) and the set-based lane (`escalation.bulk`), condition by condition:
written against the mutants `make mutation-services` left alive (docs/mutation.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation import sweep as sweeping
from escalation.models import SweepFailure
from notifications.models import ChannelPreference, Delivery, Notification, Preference
from sla.models import BusinessCalendar
from tests.escalation.test_services import BERLIN, MON_9, Chain
from tests.factories import AdminFactory, UserFactory
from tickets import services
from tickets.models import Ticket
from tickets.priority import Priority

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


@pytest.mark.parametrize("lane", ["bulk", "single"])
def test_a_limited_sweep_stops_at_the_limit_in_order_of_due_time(chain, lane):
    tickets = [chain.ticket() for _ in range(5)]
    now = MON_9 + 5 * H
    for i, ticket in enumerate(tickets):
        Ticket.objects.filter(pk=ticket.pk).update(next_check_at=now - (5 - i) * M)
    report = sweeping.sweep(now=now, batch=2, limit=3, bulk=lane == "bulk")
    assert report.examined == 3
    still_due = set(Ticket.objects.filter(next_check_at__lte=now).values_list("pk", flat=True))
    assert still_due == {tickets[3].pk, tickets[4].pk}


def test_rules_changed_brings_every_active_ticket_forward_not_back(chain):
    now = MON_9 + 5 * H
    later, earlier, unset, done = (chain.ticket() for _ in range(4))
    Ticket.objects.filter(pk=later.pk).update(next_check_at=now + H)
    Ticket.objects.filter(pk=earlier.pk).update(next_check_at=now - H)
    Ticket.objects.filter(pk=unset.pk).update(next_check_at=None)
    Ticket.objects.filter(pk=done.pk).update(status=Ticket.Status.RESOLVED, next_check_at=None)
    exactly = chain.ticket()
    Ticket.objects.filter(pk=exactly.pk).update(next_check_at=now)
    assert sweeping.rules_changed(now=now) == 2
    checks = dict(Ticket.objects.values_list("pk", "next_check_at"))
    assert checks[later.pk] == checks[unset.pk] == checks[exactly.pk] == now
    assert checks[earlier.pk] == now - H
    assert checks[done.pk] is None


def test_a_failure_keeps_the_streak_start_and_the_end_of_a_long_error(chain):
    admin = AdminFactory(username="root")
    UserFactory(username="retired", is_superuser=True, is_active=False)
    ticket = chain.ticket()
    error = RuntimeError("x" * 5000 + "THE END")
    first = sweeping.record_failure(ticket.pk, now=MON_9, error=error)
    assert (first.failures, first.first_failed_at, first.retry_at) == (1, MON_9, MON_9 + M)
    assert len(first.last_error) == 4000 and first.last_error.rstrip().endswith("THE END")
    second = sweeping.record_failure(ticket.pk, now=MON_9 + M, error=RuntimeError("again"))
    assert second.pk == first.pk
    assert (second.failures, second.first_failed_at, second.last_failed_at) == (2, MON_9, MON_9 + M)
    assert second.retry_at == MON_9 + 3 * M
    ticket.refresh_from_db()
    assert ticket.next_check_at == MON_9 + 3 * M
    notices = Notification.objects.filter(kind=Notification.Kind.SWEEP_FAILED)
    assert [n.user for n in notices] == [admin]
    assert sweeping.record_failure(0, now=MON_9, error=error) is None


def test_clearing_failures_ends_only_those_streaks(chain):
    one, two = chain.ticket(), chain.ticket()
    for ticket in (one, two):
        sweeping.record_failure(ticket.pk, now=MON_9, error=RuntimeError("no"))
    sweeping.clear_failures([one.pk])
    assert list(SweepFailure.objects.values_list("ticket_id", flat=True)) == [two.pk]
    sweeping.clear_failures([])
    assert SweepFailure.objects.count() == 1


def test_a_dry_run_reports_without_writing_or_backing_off(chain, monkeypatch):
    ticket = chain.ticket()
    now = MON_9 + 5 * H
    before = Ticket.objects.get(pk=ticket.pk).next_check_at
    Ticket.objects.filter(pk=ticket.pk).update(next_check_at=now - M)
    report = sweeping.sweep(now=now, dry_run=True)
    assert (report.examined, report.single, report.bulk) == (1, 1, 0)
    assert [o.reference for o in report.outcomes] == [ticket.reference]
    ticket.refresh_from_db()
    assert ticket.next_check_at == now - M and ticket.level.rank == 1
    assert before is not None

    def broken(ticket, **kw):
        raise RuntimeError("no")

    monkeypatch.setattr(sweeping, "evaluate_ticket", broken)
    report = sweeping.sweep(now=now, dry_run=True)
    assert report.failed == [ticket.pk]
    assert not SweepFailure.objects.exists()


def test_a_ticket_resolved_since_it_was_due_is_not_evaluated(chain):
    ticket = chain.ticket()
    now = MON_9 + 5 * H
    services.ticket_transition(ticket=ticket, actor=chain.agents[0], name="resolve", now=MON_9)
    Ticket.objects.filter(pk=ticket.pk).update(next_check_at=now - M)
    report = sweeping.sweep(now=now)
    assert (report.examined, report.bulk, report.single) == (0, 0, 0)


def test_the_failure_keeps_the_whole_traceback_as_written(chain):
    ticket = chain.ticket()
    try:
        raise RuntimeError("again")
    except RuntimeError as caught:
        error = caught
    failure = sweeping.record_failure(ticket.pk, now=MON_9, error=error)
    assert failure.last_error.startswith('Traceback (most recent call last):\n  File "')
    assert failure.last_error.endswith('raise RuntimeError("again")\nRuntimeError: again\n')


def test_two_sweeps_in_parallel_ask_one_helper_at_most_and_one_asks_nobody_without_a_query(
    chain, django_assert_num_queries
):
    for _ in range(3):
        chain.ticket()
    now = MON_9 + 5 * H
    assert sweeping.helpers_wanted(now=now, parallel=2, batch=1) == 1
    assert sweeping.helpers_wanted(now=now, parallel=3, batch=1) == 2
    with django_assert_num_queries(0):
        assert sweeping.helpers_wanted(now=now, parallel=1, batch=1) == 0


def test_a_failure_that_cannot_be_recorded_is_logged_with_the_ticket(chain, monkeypatch, caplog):
    ticket = chain.ticket()
    AdminFactory(username="root")

    def unreachable(*args, **kw):
        raise ConnectionError("no")

    monkeypatch.setattr(sweeping, "notify", unreachable)
    with caplog.at_level("ERROR", logger="escalation.sweep"):
        assert sweeping.record_failure(ticket.pk, now=MON_9, error=RuntimeError("x")) is None
    assert [r.getMessage() for r in caplog.records] == [
        f"Could not record the sweep failure of ticket {ticket.pk}"
    ]
    assert not SweepFailure.objects.exists()  # rolled back with the notice


def test_a_sweep_failure_notice_waits_for_the_admins_hours_even_for_a_sev_1(chain):
    # The notice is about the sweep, not about the ticket's emergency: an admin's email of it
    # is held for their business hours whatever the ticket's severity.
    office = BusinessCalendar.objects.get(name="Office hours DE")  # Mon–Fri 08–18, Berlin
    admin = AdminFactory(username="root")
    preference = Preference.objects.create(user=admin, calendar=office)
    ChannelPreference.objects.create(
        preference=preference, kind=Notification.Kind.SWEEP_FAILED, in_app=True, email=True
    )
    ticket = chain.ticket(impact=1, urgency=1)
    assert ticket.priority == Priority.CRITICAL
    saturday_3 = dt.datetime(2026, 3, 7, 3, tzinfo=BERLIN)
    sweeping.record_failure(ticket.pk, now=saturday_3, error=RuntimeError("no"))
    (delivery,) = Delivery.objects.filter(user=admin, kind=Notification.Kind.SWEEP_FAILED)
    assert delivery.status == Delivery.Status.HELD
    assert delivery.next_attempt_at == dt.datetime(2026, 3, 9, 8, tzinfo=BERLIN)


def test_a_ticket_another_worker_evaluated_after_the_probe_is_left_alone(chain, monkeypatch):
    # The probe reads the due tickets before any is locked; one that another worker evaluated
    # in between (its next check now lies ahead) is not evaluated a second time.
    now = MON_9 + 5 * H
    first, second = chain.ticket(), chain.ticket()
    Ticket.objects.filter(pk=first.pk).update(next_check_at=now - 2 * M)
    Ticket.objects.filter(pk=second.pk).update(next_check_at=now - M)
    evaluated = []
    evaluate = sweeping.evaluate_ticket

    def evaluate_then_the_other_worker(ticket, **kw):
        evaluated.append(ticket.pk)
        if ticket.pk == first.pk:  # meanwhile another worker took the second one
            Ticket.objects.filter(pk=second.pk).update(next_check_at=now + H)
        return evaluate(ticket, **kw)

    monkeypatch.setattr(sweeping, "evaluate_ticket", evaluate_then_the_other_worker)
    report = sweeping.sweep(now=now, bulk=False)
    assert evaluated == [first.pk]
    assert (report.examined, report.single, report.failed) == (2, 1, [])
    assert Ticket.objects.get(pk=second.pk).next_check_at == now + H


def test_the_single_lane_reads_a_ticket_with_what_its_evaluation_needs_in_one_query(
    chain, django_assert_num_queries
):
    # The lock's query brings the team, level, customer and calendar along: an evaluation
    # that decides nothing costs the same few statements for every ticket.
    now = MON_9 + 10 * M
    ticket = chain.ticket()
    ticket.refresh_from_db()
    assert ticket.customer_id and ticket.sla_policy.calendar_id and ticket.level_id
    Ticket.objects.filter(pk=ticket.pk).update(next_check_at=now - M)
    with django_assert_num_queries(15):
        report = sweeping.sweep(now=now, bulk=False)
    assert (report.examined, report.single, report.fired) == (1, 1, 0)
