"""Guarantees of the escalation core that hand-made mutants showed to be untested: who may hand a
ticket down, who hears that an escalation went unanswered, the acknowledgement deadline in
business time, and the status-update reminder's fallback to the lead on both sweep lanes.
Each test here failed against one of those mutants."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from escalation import services as esc
from escalation import sweep as sweeping
from escalation.engine import SLAInstants, Trigger
from escalation.models import Escalation
from notifications.models import Notification
from sla.clock import business_time_between
from sla.models import BusinessCalendar
from sla.services import calendar_spec
from tests.escalation.test_engine import facts as engine_facts
from tests.escalation.test_engine import fired
from tests.escalation.test_engine import rule as engine_rule
from tests.escalation.test_services import BERLIN, MON_9, Chain, package
from tests.notifications.test_services import escalated_with_owner, told
from tickets.models import TicketEvent

K = Notification.Kind
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
LANES = pytest.mark.parametrize("lane", ["bulk", "single"])
pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def sweep_in(lane: str, now: dt.datetime):
    """One sweep in the named lane; asserts the ticket was decided in that lane."""
    report = sweeping.sweep(now=now, bulk=lane == "bulk")
    assert (report.bulk, report.single) == ((1, 0) if lane == "bulk" else (0, 1))
    return report


class TestDeEscalation:
    def test_the_lead_of_another_team_cannot_hand_the_ticket_down(self, chain):
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=MON_9
        )
        ticket.refresh_from_db()
        assert ticket.team == chain.teams[1]
        # The lead of the team it came from, and a lead above: both lead a team, neither this one.
        for outsider in (chain.leads[0], chain.leads[2]):
            assert not esc.can_deescalate(ticket, outsider)
            with pytest.raises(PermissionDenied):
                esc.escalation_deescalate(
                    ticket=ticket, actor=outsider, to_team=chain.teams[0], reason="Known issue"
                )
        ticket.refresh_from_db()
        assert ticket.team == chain.teams[1]
        assert not ticket.events.filter(kind=TicketEvent.Kind.DE_ESCALATED).exists()
        assert not Escalation.objects.filter(kind=Escalation.Kind.DE_ESCALATION).exists()
        # The lead of the current team can.
        assert esc.can_deescalate(ticket, chain.leads[1])


class TestLateralKeepsTheLevel:
    def test_a_lateral_escalation_changes_the_team_not_the_level(self, chain):
        ticket = chain.ticket()
        assert chain.security.level.rank == 2
        esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="functional",
            to_team=chain.security,
            package=package(),
            now=MON_9,
        )
        ticket.refresh_from_db()
        assert ticket.team == chain.security
        assert ticket.level.rank == 1
        assert not ticket.events.filter(kind=TicketEvent.Kind.LEVEL_CHANGED).exists()


class TestOneBreachOneStep:
    """DESIGN: a trigger instant that lies at or before the start of the current escalation
    cycle never fires in that cycle, so a sweep that runs exactly at a deadline escalates
    once, not up the whole chain."""

    def test_an_sla_instant_at_the_start_of_the_cycle_does_not_fire(self):
        handed = MON_9 + 4 * H
        f = engine_facts(
            sla={"first_response": SLAInstants(None, handed)}, cycle=1, cycle_started_at=handed
        )
        assert fired(f, [engine_rule(Trigger.SLA_BREACH)], handed + H) == []

    @LANES
    def test_a_sweep_exactly_at_the_deadline_escalates_once(self, chain, lane):
        ticket = chain.ticket()
        ticket.refresh_from_db()
        due = ticket.first_response_due_at
        assert due == MON_9 + 4 * H
        sweeping.sweep(now=due, bulk=lane == "bulk")
        ticket.refresh_from_db()
        assert ticket.escalations.count() == 1
        assert ticket.level.rank == 2


class TestAcknowledgementDeadline:
    def test_the_tier_target_runs_in_business_time_over_the_weekend(self, chain):
        """Level 2 must acknowledge within 30 minutes of business time (the default tier
        target) on the ticket's calendar (Mon–Fri 08:00–18:00 Europe/Berlin): raised on Friday
        at 17:50, it is due on Monday at 08:20, not on Friday at 18:20."""
        friday_1750 = dt.datetime(2026, 3, 6, 17, 50, tzinfo=BERLIN)
        monday_0820 = dt.datetime(2026, 3, 9, 8, 20, tzinfo=BERLIN)
        ticket = chain.ticket(now=friday_1750)
        ticket.refresh_from_db()
        assert ticket.sla_policy.calendar.name == "Office hours DE"
        escalation = esc.escalation_raise(
            ticket=ticket,
            actor=chain.agents[0],
            kind="hierarchical",
            package=package(),
            now=friday_1750,
        )
        assert escalation.ack_due_at == monday_0820
        escalation.refresh_from_db()
        assert escalation.ack_due_at == monday_0820

        # Saturday: nothing goes further up.
        sweeping.sweep(now=dt.datetime(2026, 3, 7, 12, tzinfo=BERLIN))
        escalation.refresh_from_db()
        ticket.refresh_from_db()
        assert escalation.status == Escalation.Status.RAISED
        assert ticket.level.rank == 2
        # Monday 08:20: it does.
        sweeping.sweep(now=monday_0820)
        escalation.refresh_from_db()
        ticket.refresh_from_db()
        assert escalation.status == Escalation.Status.ESCALATED_FURTHER
        assert ticket.level.rank == 3


class TestUnacknowledgedNotice:
    @LANES
    def test_the_escalating_team_and_the_silent_teams_lead_are_told(self, chain, lane):
        """As the code defines it: the members and the lead of the team that escalated
        (`from_team`), and the lead of the team that did not acknowledge (the ticket's team
        when the rule fires); not the silent team's members, not the team above."""
        ticket = chain.ticket()
        esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=MON_9
        )
        sweep_in(lane, MON_9 + 31 * M)
        assert told(K.ESCALATION_UNACKNOWLEDGED) == ["agent1", "lead1", "lead2"]
        notice = Notification.objects.get(kind=K.ESCALATION_UNACKNOWLEDGED, user=chain.leads[0])
        assert notice.ticket == ticket
        assert notice.payload["to_team"] == "L2"
        # Told once: a later sweep (before level 3's own 15 minutes run out) does not repeat it.
        sweeping.sweep(now=MON_9 + 40 * M, bulk=lane == "bulk")
        assert told(K.ESCALATION_UNACKNOWLEDGED) == ["agent1", "lead1", "lead2"]


class TestStatusUpdateFallback:
    """While escalated, the status-update reminder goes to the assignee, else the team lead;
    the missed update to the team lead, else the assignee. An inactive user counts as none."""

    @LANES
    def test_an_inactive_assignee_leaves_the_reminder_to_the_lead(self, chain, lane):
        ticket = escalated_with_owner(chain)
        get_user_model().objects.filter(pk=chain.agents[1].pk).update(is_active=False)
        sweep_in(lane, ticket.next_update_warning_at)
        assert told(K.STATUS_UPDATE_DUE) == ["lead2"]

    @LANES
    def test_an_inactive_lead_leaves_the_missed_update_to_the_assignee(self, chain, lane):
        ticket = escalated_with_owner(chain)
        get_user_model().objects.filter(pk=chain.leads[1].pk).update(is_active=False)
        sweep_in(lane, ticket.next_update_warning_at)
        sweep_in(lane, ticket.next_update_due_at)
        assert told(K.STATUS_UPDATE_DUE) == ["agent2"]
        assert told(K.STATUS_UPDATE_MISSED) == ["agent2"]


def test_friday_to_monday_is_thirty_business_minutes(db):
    """The calendar the deadline test relies on, checked on its own."""
    office = calendar_spec(BusinessCalendar.objects.get(name="Office hours DE"))
    start = dt.datetime(2026, 3, 6, 17, 50, tzinfo=BERLIN)
    end = dt.datetime(2026, 3, 9, 8, 20, tzinfo=BERLIN)
    assert business_time_between(office, start, end) == 30 * M
