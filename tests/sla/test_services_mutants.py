"""The SLA services (`sla.services`) condition by condition: written against the mutants `make
mutation-services` left alive (docs/mutation.md). Which instants are still to record, what a
recomputation says it moved, which tickets a policy or calendar change concerns, and a
calendar that slipped past validation."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from sla import services as sla
from sla.clock import CalendarSpec
from sla.models import BusinessCalendar, OpeningHours, SLAPolicy
from tests.sla.test_services import MON_9, at, create
from tickets.models import Ticket, TicketEvent

H = dt.timedelta(hours=1)


def due(**columns) -> Ticket:
    """A ticket in memory with these SLA columns (nothing else is read)."""
    return Ticket(**columns)


class TestPendingInstants:
    def test_each_target_warning_before_breach_in_column_order(self):
        ticket = due(
            first_response_warning_at=at(2, 11),
            first_response_due_at=at(2, 13),
            next_update_warning_at=at(3, 8),
            next_update_due_at=at(3, 10),
            resolution_warning_at=at(5, 9),
            resolution_due_at=at(6, 9),
        )
        pending = sla.pending_sla_instants(ticket)
        assert [(p.target, p.label, p.at, p.flag_column, p.event_kind) for p in pending] == [
            ("first_response", "warning", at(2, 11), "first_response_warned_at", "sla_warning"),
            ("first_response", "breach", at(2, 13), "first_response_breached_at", "sla_breach"),
            ("next_update", "warning", at(3, 8), "next_update_warned_at", "sla_warning"),
            ("next_update", "breach", at(3, 10), "next_update_breached_at", "sla_breach"),
            ("resolution", "warning", at(5, 9), "resolution_warned_at", "sla_warning"),
            ("resolution", "breach", at(6, 9), "resolution_breached_at", "sla_breach"),
        ]
        assert sla.next_sla_check(ticket) == at(2, 11)
        assert pending[1].payload(ticket) == {
            "target": "first_response",
            "due_at": at(2, 13).isoformat(),
            "at": at(2, 13).isoformat(),
        }
        assert pending[2].payload(ticket) == {
            "target": "next_update",
            "due_at": at(3, 10).isoformat(),
            "at": at(3, 8).isoformat(),
        }

    def test_recorded_ones_and_targets_met_by_then_are_not_pending(self):
        ticket = due(
            first_response_warning_at=at(2, 11),
            first_response_due_at=at(2, 13),
            first_responded_at=at(2, 11),  # met exactly at the warning: neither is due
            resolution_warning_at=at(5, 9),
            resolution_due_at=at(6, 9),
            resolution_warned_at=at(5, 9),  # recorded already
            resolved_at=at(6, 10),  # met after the deadline: the breach still counts
            next_update_due_at=at(3, 10),
        )
        pending = sla.pending_sla_instants(ticket)
        assert [(p.target, p.label) for p in pending] == [
            ("next_update", "breach"),
            ("resolution", "breach"),
        ]
        assert sla.next_sla_check(ticket) == at(3, 10)
        ticket.first_responded_at = at(2, 12)  # after the warning, before the deadline
        assert [(p.target, p.label) for p in sla.pending_sla_instants(ticket)] == [
            ("first_response", "warning"),  # met before the deadline: no breach
            ("next_update", "breach"),
            ("resolution", "breach"),
        ]

    def test_nothing_pending_has_no_next_check(self):
        assert sla.pending_sla_instants(due()) == []
        assert sla.next_sla_check(due()) is None


class TestWhatARecomputationMoved:
    def test_only_the_instants_that_moved_are_named(self):
        before = (7, {"first_response_due_at": at(2, 13), "resolution_due_at": at(6, 9)})
        after = {"first_response_due_at": at(2, 13), "resolution_due_at": at(9, 9)}
        assert sla.moved(before, 7, after)
        assert sla.moved_payload(before, "Standard", after) == {
            "policy": "Standard",
            "changed": {"resolution_due_at": [at(6, 9).isoformat(), at(9, 9).isoformat()]},
        }
        assert not sla.moved(before, 7, dict(before[1]))
        assert sla.moved(before, 8, dict(before[1]))
        assert sla.moved_payload(before, None, {**before[1], "first_response_due_at": None}) == {
            "policy": None,
            "changed": {"first_response_due_at": [at(2, 13).isoformat(), None]},
        }


@pytest.mark.django_db
class TestWhichTicketsAChangeConcerns:
    def test_a_policy_its_tickets_and_those_without_one_a_calendar_its_policies_tickets(
        self, agent, team_a
    ):
        governed, unpoliced, resolved, elsewhere = (create(agent, team_a) for _ in range(4))
        governed.refresh_from_db()
        policy, calendar = governed.sla_policy, governed.sla_policy.calendar
        other_calendar = BusinessCalendar.objects.create(name="Elsewhere", always_open=True)
        other = SLAPolicy.objects.create(name="Other", calendar=other_calendar, is_active=False)
        Ticket.objects.filter(pk=unpoliced.pk).update(sla_policy=None)
        Ticket.objects.filter(pk=elsewhere.pk).update(sla_policy=other)
        Ticket.objects.filter(pk=resolved.pk).update(status=Ticket.Status.RESOLVED)
        by_policy = set(sla.tickets_affected_by(policy=policy))
        assert by_policy == {governed, unpoliced}
        assert set(sla.tickets_affected_by(calendar=calendar)) == {governed}
        assert set(sla.tickets_affected_by(calendar=other_calendar)) == {elsewhere}
        assert set(sla.tickets_affected_by()) == {governed, unpoliced, elsewhere}


@pytest.mark.django_db
def test_an_invalid_calendar_counts_around_the_clock_and_says_so(caplog):
    calendar = BusinessCalendar.objects.create(name="Broken", timezone="Europe/Berlin")
    for start, end in ((9, 12), (11, 14)):  # overlapping: the admin would refuse it
        OpeningHours.objects.create(
            calendar=calendar, weekday=0, start=dt.time(start), end=dt.time(end)
        )
    with caplog.at_level(logging.ERROR, logger="sla.services"):
        spec = sla.calendar_spec(calendar, today=dt.date(2026, 3, 2))
    assert spec == CalendarSpec.always_open_spec("Europe/Berlin")
    assert f"Business calendar {calendar.pk} is invalid" in caplog.text
    assert "its clocks run 24/7 until it is fixed" in caplog.text
    # A valid one is its own spec.
    fine = BusinessCalendar.objects.create(name="Fine", timezone="Europe/Berlin")
    OpeningHours.objects.create(calendar=fine, weekday=0, start=dt.time(9), end=dt.time(17))
    spec = sla.calendar_spec(fine, today=dt.date(2026, 3, 2))
    assert not spec.always_open and spec.weekly[0] == ((dt.time(9), dt.time(17)),)


@pytest.mark.django_db
def test_recomputing_one_at_a_time_counts_those_that_exist_and_tells_progress(agent, team_a):
    tickets = [create(agent, team_a) for _ in range(2)]
    told = []
    count = sla.sla_recompute_many_alone(
        [tickets[0].pk, 0, tickets[1].pk],
        now=MON_9 + H,
        progress=lambda done, total: told.append((done, total)),
    )
    assert count == 2
    assert told == [(1, 3), (2, 3), (3, 3)]
    # Nothing moved: no timeline entry.
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.SLA_RECOMPUTED).exists()
