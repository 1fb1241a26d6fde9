"""The SLA clock kept by the ticket services: policy choice, segments, deadlines, pause,
warnings and breaches recorded once, and deterministic recomputation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from escalation.sweep import sweep
from sla import services as sla
from sla.models import BusinessCalendar, CalendarException, ClockSegment, SeverityMatrix
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Customer, Ticket, TicketEvent

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2 March 2026, 09:00 in Berlin (no holiday that week).
MON_9 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def create(agent, team, *, impact=3, urgency=3, now=MON_9, customer=None) -> Ticket:
    return services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject="VPN drops",
            description="",
            team=team,
            impact=impact,
            urgency=urgency,
            customer=customer or CustomerFactory(tier=Customer.Tier.STANDARD),
        ),
        now=now,
    )


def sla_events(now: dt.datetime) -> int:
    """One escalation sweep (which records SLA warnings and breaches); how many it recorded."""
    return sweep(now=now).sla_events


def segments(ticket, target):
    return list(
        ClockSegment.objects.filter(ticket=ticket, target=target)
        .order_by("started_at", "pk")
        .values_list("state", "reason", "started_at", "ended_at", "series")
    )


@pytest.mark.django_db
class TestDeadlines:
    def test_sev3_in_office_hours(self, agent, team_a):
        ticket = create(agent, team_a)
        ticket.refresh_from_db()
        assert ticket.sla_policy.name == "Standard office hours"
        assert ticket.first_response_due_at == at(2, 13)  # 4 business hours
        assert ticket.first_response_warning_at == at(2, 12)  # 75 %
        # 30 business hours: Mon 9 h + Tue 10 h + Wed 10 h + Thu 1 h.
        assert ticket.resolution_due_at == at(5, 9)
        assert ticket.next_update_due_at is None  # the cadence starts with the first response
        assert ticket.next_check_at == at(2, 12)

    def test_created_after_hours_starts_next_morning(self, agent, team_a):
        ticket = create(agent, team_a, now=at(6, 17, 30))  # Friday 17:30
        ticket.refresh_from_db()
        assert ticket.first_response_due_at == at(9, 11, 30)  # Monday

    def test_sev1_runs_around_the_clock(self, agent, team_a):
        ticket = create(agent, team_a, impact=1, urgency=1, now=at(6, 23))  # Friday night
        ticket.refresh_from_db()
        assert ticket.sla_policy.name == "Sev 1 around the clock"
        assert ticket.first_response_due_at == at(6, 23, 15)

    def test_enterprise_customers_get_24_7(self, agent, team_a):
        customer = CustomerFactory(tier=Customer.Tier.ENTERPRISE)
        ticket = create(agent, team_a, customer=customer, now=at(7, 10))  # Saturday
        ticket.refresh_from_db()
        assert ticket.sla_policy.name == "Enterprise 24/7"
        assert ticket.first_response_due_at == at(7, 14)

    def test_active_severity_matrix_decides_priority(self, agent, team_a):
        matrix = SeverityMatrix.objects.get(is_active=True)
        matrix.grid[SeverityMatrix.key(3, 3)] = 2
        matrix.save()
        ticket = create(agent, team_a)
        assert ticket.priority == 2


@pytest.mark.django_db
class TestPauseAndResponse:
    def test_pending_pauses_and_the_history_explains_it(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_transition(ticket=ticket, actor=agent, name="open", now=at(2, 9, 30))
        services.ticket_transition(ticket=ticket, actor=agent, name="pend", now=at(2, 10))
        ticket.refresh_from_db()
        assert ticket.sla_paused_at == at(2, 10)
        assert ticket.first_response_due_at is None  # stopped: nobody can say when
        services.ticket_transition(ticket=ticket, actor=agent, name="resume", now=at(2, 14))
        ticket.refresh_from_db()
        assert ticket.sla_paused_at is None
        assert ticket.sla_paused_seconds == 4 * 3600
        assert ticket.first_response_due_at == at(2, 17)  # 1 h used, 3 h left from 14:00
        R = ClockSegment.Reason
        assert [(s, r) for s, r, *_ in segments(ticket, "first_response")] == [
            ("running", R.CREATED),
            ("paused", R.WAITING),
            ("running", R.RESUMED),
        ]
        views = {v.target: v for v in sla.clock_views(ticket, now=at(2, 15))}
        fr = views["first_response"]
        assert fr.clock.elapsed == dt.timedelta(hours=2)
        assert fr.clock.remaining == dt.timedelta(hours=2)
        assert fr.segments[1].business_seconds == 4 * 3600

    def test_first_reply_meets_first_response_and_starts_the_update_cadence(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_reply(ticket=ticket, actor=agent, body="Looking", now=at(2, 10))
        ticket.refresh_from_db()
        assert ticket.first_responded_at == at(2, 10)
        assert ticket.first_response_due_at == at(2, 13)  # kept for the record
        assert ticket.next_update_due_at == at(3, 10)  # 10 business hours later
        assert not ClockSegment.objects.filter(
            ticket=ticket, target="first_response", ended_at__isnull=True
        ).exists()
        services.ticket_reply(ticket=ticket, actor=agent, body="Update", now=at(3, 9))
        ticket.refresh_from_db()
        assert ticket.next_update_due_at == at(4, 9)
        assert [series for *_, series in segments(ticket, "next_update")] == [0, 1]

    def test_internal_note_does_not_meet_first_response(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_add_note(ticket=ticket, actor=agent, body="hm", now=at(2, 10))
        ticket.refresh_from_db()
        assert ticket.first_responded_at is None
        assert ticket.first_response_due_at == at(2, 13)

    def test_resolution_clock_continues_after_reopen(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_transition(ticket=ticket, actor=agent, name="resolve", now=at(2, 11))
        ticket.refresh_from_db()
        assert ticket.resolution_due_at == at(5, 9)
        services.ticket_transition(ticket=ticket, actor=agent, name="reopen", now=at(3, 8))
        ticket.refresh_from_db()
        # 2 h used on Monday, 28 h left from Tuesday 08:00: Tue 10 + Wed 10 + Thu 8.
        assert ticket.resolution_due_at == at(5, 16)

    def test_priority_change_moves_the_deadline(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_change_priority(
            ticket=ticket, actor=agent, impact=2, urgency=2, reason="More users", now=at(2, 9, 30)
        )
        ticket.refresh_from_db()
        assert ticket.priority == 2
        assert ticket.first_response_due_at == at(2, 10)  # Sev 2: 1 h from creation


@pytest.mark.django_db
class TestWarningsAndBreaches:
    def test_recorded_once_whatever_runs_how_often(self, agent, team_a):
        ticket = create(agent, team_a)
        assert sla_events(now=at(2, 11)) == 0
        assert sla_events(now=at(2, 12, 1)) == 1
        assert sla_events(now=at(2, 12, 2)) == 0
        assert sla_events(now=at(2, 13, 5)) == 1
        assert sla_events(now=at(2, 13, 6)) == 0
        ticket.refresh_from_db()
        assert ticket.first_response_warned_at == at(2, 12, 1)
        assert ticket.first_response_breached_at == at(2, 13, 5)
        kinds = list(
            ticket.events.filter(kind__in=["sla_warning", "sla_breach"]).values_list(
                "kind", "payload__target"
            )
        )
        assert kinds == [("sla_warning", "first_response"), ("sla_breach", "first_response")]
        assert ticket.next_check_at == ticket.resolution_warning_at

    def test_a_late_reply_after_breach_keeps_the_breach(self, agent, team_a):
        ticket = create(agent, team_a)
        sla_events(now=at(2, 14))
        services.ticket_reply(ticket=ticket, actor=agent, body="Sorry", now=at(2, 15))
        ticket.refresh_from_db()
        assert ticket.first_response_breached_at == at(2, 14)
        assert ticket.first_responded_at == at(2, 15)
        views = {v.target: v for v in sla.clock_views(ticket, now=at(2, 15))}
        assert views["first_response"].state == "breached"

    def test_paused_ticket_cannot_breach(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_transition(ticket=ticket, actor=agent, name="open", now=at(2, 9))
        services.ticket_transition(ticket=ticket, actor=agent, name="pend", now=at(2, 9, 1))
        assert sla_events(now=at(20, 9)) == 0
        ticket.refresh_from_db()
        assert ticket.next_check_at is None


@pytest.mark.django_db
class TestRecompute:
    def test_added_holiday_moves_deadlines_deterministically(self, agent, team_a):
        ticket = create(agent, team_a)
        calendar = BusinessCalendar.objects.get(name="Office hours DE")
        CalendarException.objects.create(calendar=calendar, date=dt.date(2026, 3, 3))
        calendar.save()  # bumps updated_at: the cached clock spec is rebuilt
        sla.sla_recompute(ticket=ticket, now=at(2, 10))
        ticket.refresh_from_db()
        assert ticket.resolution_due_at == at(6, 9)  # Tuesday closed: one day later
        first = {f: getattr(ticket, f) for f in sla.SLA_FIELDS}
        sla.sla_recompute(ticket=ticket, now=at(2, 10))
        ticket.refresh_from_db()
        assert {f: getattr(ticket, f) for f in sla.SLA_FIELDS} == first
        assert ticket.events.filter(kind=TicketEvent.Kind.SLA_RECOMPUTED).count() == 1

    def test_tickets_affected_by_policy_and_calendar(self, agent, team_a):
        ticket = create(agent, team_a)
        ticket.refresh_from_db()
        calendar = ticket.sla_policy.calendar
        assert list(sla.tickets_affected_by(calendar=calendar)) == [ticket]
        assert list(sla.tickets_affected_by(policy=ticket.sla_policy)) == [ticket]


@pytest.mark.django_db
class TestMetTargets:
    def test_a_first_response_in_time_is_never_recorded_as_breached(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_reply(ticket=ticket, actor=agent, body="On it", now=at(2, 10))
        sla_events(now=at(2, 20))
        ticket.refresh_from_db()
        assert ticket.first_response_breached_at is None
        assert ticket.first_response_warned_at is None
        assert not ticket.events.filter(payload__target="first_response").exists()
        assert ticket.first_response_due_at == at(2, 13)

    def test_a_late_resolution_is_recorded_when_resolving(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_reply(ticket=ticket, actor=agent, body="On it", now=at(2, 10))
        services.ticket_transition(ticket=ticket, actor=agent, name="resolve", now=at(9, 10))
        ticket.refresh_from_db()
        assert ticket.resolution_breached_at == at(9, 10)

    def test_each_status_update_period_can_warn_and_breach_again(self, agent, team_a):
        ticket = create(agent, team_a)
        services.ticket_reply(ticket=ticket, actor=agent, body="On it", now=at(2, 10))
        sla_events(now=at(3, 11))  # the first period (due Tue 10:00) breached
        ticket.refresh_from_db()
        assert ticket.next_update_breached_at == at(3, 11)
        services.ticket_reply(ticket=ticket, actor=agent, body="Update", now=at(3, 12))
        ticket.refresh_from_db()
        assert ticket.next_update_breached_at is None
        assert ticket.next_update_due_at == at(4, 12)
        sla_events(now=at(4, 13))
        ticket.refresh_from_db()
        assert ticket.next_update_breached_at == at(4, 13)
        assert ticket.events.filter(kind="sla_breach", payload__target="next_update").count() == 2


@pytest.mark.django_db
def test_policy_validity_counts_in_local_days(agent, team_a):
    """A policy valid until 2 March governs a ticket created at 00:30 on 3 March in Berlin
    no more, although it is still 2 March in UTC."""
    from sla.models import SLAPolicy

    standard = SLAPolicy.objects.get(name="Standard office hours")
    ending = SLAPolicy.objects.create(
        name="Ends on 2 March",
        order=0,
        calendar=standard.calendar,
        valid_until=dt.date(2026, 3, 2),
    )
    for target in standard.targets.all():
        target.pk, target.policy = None, ending
        target.save()
    before = create(agent, team_a, now=at(2, 23, 30))
    after = create(agent, team_a, now=at(3, 0, 30).astimezone(dt.UTC))
    before.refresh_from_db()
    after.refresh_from_db()
    assert before.sla_policy == ending
    assert after.sla_policy == standard


@pytest.mark.django_db
def test_a_hand_off_to_another_policy_measures_the_closing_segment_on_its_own_calendar(
    agent, team_a, team_b
):
    """Paused 09:00–20:00 under office hours (08–18) is 9 business hours, even when the
    hand-off that ends the pause moves the ticket to a 24/7 policy."""
    from sla.models import SLAPolicy

    standard = SLAPolicy.objects.get(name="Standard office hours")
    assert standard.pending_pauses
    around = SLAPolicy.objects.create(
        name="Team B around the clock",
        order=0,
        calendar=BusinessCalendar.objects.get(always_open=True),
        pending_pauses=False,
    )
    around.teams.add(team_b)
    for target in standard.targets.all():
        target.pk, target.policy = None, around
        target.save()
    ticket = create(agent, team_a, now=at(2, 8))
    services.ticket_transition(ticket=ticket, actor=agent, name="open", now=at(2, 8, 30))
    services.ticket_transition(ticket=ticket, actor=agent, name="pend", now=at(2, 9))
    services.ticket_hand_off(ticket=ticket, team=team_b, actor=None, now=at(2, 20))
    ticket.refresh_from_db()
    assert ticket.sla_policy == around
    paused = ClockSegment.objects.get(ticket=ticket, target="resolution", state="paused")
    assert paused.ended_at == at(2, 20)
    assert paused.business_seconds == 9 * 3600
    assert ticket.sla_paused_seconds == 9 * 3600
