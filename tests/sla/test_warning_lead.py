"""A warning given as a lead time (`SLATarget.warning_lead`) instead of a percentage: the warning
instant is the deadline minus the lead time in business time, and the lead wins over a
percentage that is also set."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation.sweep import sweep
from sla.clock import business_time_between
from sla.models import SLAPolicy, SLATarget
from sla.services import calendar_spec
from tests.sla.test_services import at, create
from tickets.models import TicketEvent

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("target", "lead", "percent", "offset"),
    [
        (4 * H, 30 * M, None, 3 * H + 30 * M),
        (4 * H, 30 * M, 75, 3 * H + 30 * M),  # the lead time is used instead of the percentage
        (4 * H, None, 75, 3 * H),
        (H, 2 * H, None, dt.timedelta(0)),  # a lead longer than the target warns at once
        (H, None, None, None),
    ],
)
def test_warning_offset(target, lead, percent, offset):
    rule = SLATarget(warning_lead=lead, warning_percent=percent)
    assert rule.warning_offset(target) == offset


@pytest.mark.django_db
def test_the_warning_comes_the_lead_time_before_the_deadline_in_business_time(agent, team_a):
    """Sev 2 answers within 1 h on office hours (Mon–Fri 08:00–18:00 Berlin). Opened on Friday
    at 17:30, it is due on Monday at 08:30; a 40-minute lead warns on Friday at 17:50 (40
    business minutes before), where the 75 % also set would have said 17:45 and clock time
    Monday 07:50."""
    policy = SLAPolicy.objects.get(name="Standard office hours")
    SLATarget.objects.filter(policy=policy, priority=2).update(
        warning_lead=40 * M, warning_percent=75
    )
    ticket = create(agent, team_a, impact=2, urgency=2, now=at(6, 17, 30))
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.sla_policy) == (2, policy)
    assert ticket.first_response_due_at == at(9, 8, 30)
    assert ticket.first_response_warning_at == at(6, 17, 50)
    office = calendar_spec(policy.calendar)
    assert business_time_between(office, ticket.first_response_warning_at, at(9, 8, 30)) == 40 * M

    assert sweep(now=at(6, 17, 49)).sla_events == 0
    assert sweep(now=at(6, 17, 50)).sla_events == 1
    event = ticket.events.get(kind=TicketEvent.Kind.SLA_WARNING)
    assert event.payload == {
        "target": "first_response",
        "due_at": at(9, 8, 30).astimezone(dt.UTC).isoformat(),
        "at": at(6, 17, 50).astimezone(dt.UTC).isoformat(),
    }
