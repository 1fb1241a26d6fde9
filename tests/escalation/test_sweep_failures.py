"""A ticket whose evaluation keeps failing in the sweep: backed off (1, 2, 4 … minutes, at
most an hour), shown in the admin with its last error, the admins told once per streak, and
never holding up the other tickets; on both sweep lanes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from escalation import bulk
from escalation import sweep as sweeping
from escalation.models import SweepFailure
from notifications.models import Notification
from tests.escalation.test_services import MON_9, Chain
from tests.factories import AdminFactory
from tickets import services
from tickets.models import Ticket

M = dt.timedelta(minutes=1)


@pytest.fixture
def broken(db, monkeypatch):
    """Two due tickets; the evaluation of the first one fails on both lanes."""
    chain = Chain()
    bad, good = chain.ticket(), chain.ticket()
    Ticket.objects.filter(pk__in=[bad.pk, good.pk]).update(next_check_at=MON_9)
    state = {"failing": True}
    real_evaluate, real_plan = sweeping.evaluate_ticket, bulk.Batch.plan

    def evaluate(ticket, **kw):
        if state["failing"] and ticket.pk == bad.pk:
            raise RuntimeError("the rule engine choked on this ticket")
        return real_evaluate(ticket, **kw)

    def plan(self, ticket):
        if state["failing"] and ticket.pk == bad.pk:
            raise RuntimeError("the rule engine choked on this ticket")
        return real_plan(self, ticket)

    monkeypatch.setattr(sweeping, "evaluate_ticket", evaluate)
    monkeypatch.setattr(bulk.Batch, "plan", plan)
    return chain, bad, good, state


def test_the_retry_delay_doubles_up_to_an_hour():
    delays = [sweeping.retry_delay(n) for n in range(1, 10)]
    assert delays == [M * m for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]


@pytest.mark.parametrize("lane", [True, False], ids=["bulk", "single"])
def test_a_failing_ticket_backs_off_and_the_admins_are_told_once(broken, lane):
    _chain, bad, good, state = broken
    admin = AdminFactory(username="root")
    now = MON_9
    report = sweeping.sweep(now=now, bulk=lane)
    assert report.failed == [bad.pk]
    good.refresh_from_db()
    assert good.next_check_at > now  # the other ticket was evaluated
    retries = []
    for _ in range(7):
        failure = SweepFailure.objects.get(ticket=bad)
        bad.refresh_from_db()
        assert bad.next_check_at == failure.retry_at
        retries.append(failure.retry_at - failure.last_failed_at)
        # Not due before the retry instant: a sweep in between leaves it alone.
        sweeping.sweep(now=failure.retry_at - dt.timedelta(seconds=1), bulk=lane)
        assert SweepFailure.objects.get(ticket=bad).failures == failure.failures
        now = failure.retry_at
        sweeping.sweep(now=now, bulk=lane)
    failure = SweepFailure.objects.get(ticket=bad)
    assert failure.failures == 8
    assert failure.first_failed_at == MON_9
    assert "the rule engine choked on this ticket" in failure.last_error
    assert retries == [M * m for m in (1, 2, 4, 8, 16, 32, 60)]
    notices = Notification.objects.filter(kind=Notification.Kind.SWEEP_FAILED)
    assert [(n.user, n.ticket) for n in notices] == [(admin, bad)]
    assert bad.reference in notices.get().text

    # A success ends the streak; a new streak tells the admins again.
    state["failing"] = False
    sweeping.sweep(now=failure.retry_at, bulk=lane)
    assert not SweepFailure.objects.exists()
    state["failing"] = True
    Ticket.objects.filter(pk=bad.pk).update(next_check_at=failure.retry_at + M)
    sweeping.sweep(now=failure.retry_at + M, bulk=lane)
    assert SweepFailure.objects.get(ticket=bad).failures == 1
    assert notices.all().count() == 2  # a fresh count (`notices` was read above)


def test_the_admin_lists_failures_with_the_last_error(broken, client):
    _chain, bad, _good, _state = broken
    admin = AdminFactory(username="root")
    sweeping.sweep(now=MON_9, bulk=False)
    client.force_login(admin)
    page = client.get(reverse("admin:escalation_sweepfailure_changelist"))
    assert page.status_code == 200
    assert bad.reference in page.content.decode()
    failure = SweepFailure.objects.get()
    detail = client.get(reverse("admin:escalation_sweepfailure_change", args=[failure.pk]))
    assert detail.status_code == 200
    assert "the rule engine choked on this ticket" in detail.content.decode()
    assert client.get(reverse("admin:escalation_sweepfailure_add")).status_code == 403


def test_resolving_a_failing_ticket_ends_its_streak(broken):
    chain, bad, _good, _state = broken
    sweeping.sweep(now=MON_9, bulk=False)
    assert SweepFailure.objects.filter(ticket=bad).exists()
    services.ticket_transition(ticket=bad, actor=chain.agents[0], name="resolve", now=MON_9 + M)
    assert not SweepFailure.objects.exists()
