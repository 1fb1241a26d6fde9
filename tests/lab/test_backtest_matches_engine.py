"""The backtest's live replay against what the live engine did: a ticket opened through the
services and swept at every instant its `next_check_at` named (as the beat would), then the
same ticket's recorded history replayed under the live configuration."""

from __future__ import annotations

import datetime as dt

import pytest

from escalation import services as escalation_services
from escalation.models import Escalation
from escalation.sweep import sweep
from lab import backtest
from lab.replay import ceil_minute, replay
from sla.models import BusinessCalendar, SLAPolicy, SLATarget
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tickets import services
from tickets.models import SupportLevel, Team, Ticket

pytestmark = pytest.mark.django_db(transaction=False)

UTC = dt.UTC
CREATED = dt.datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
UNTIL = CREATED + dt.timedelta(days=4)
# With impact and urgency 2 the first response is due after an hour.
FIRST_RESPONSE_BREACH = CREATED + dt.timedelta(hours=1)


def play(ticket, steps, start=CREATED):
    """Sweep at every instant the ticket's next check names and before each step (as the
    demo's replay does), then take the step through the services."""
    steps = list(steps)
    now = start
    for _ in range(300):  # bounded: a few checks per day
        sweep(now=now)
        while steps and steps[0][0] <= now:
            steps.pop(0)[1](now)
        ticket.refresh_from_db()
        upcoming = [steps[0][0]] if steps else []
        if ticket.next_check_at is not None:
            upcoming.append(max(ceil_minute(ticket.next_check_at), now + dt.timedelta(minutes=1)))
        if not upcoming or min(upcoming) > UNTIL:
            break
        now = min(upcoming)


def open_ticket(impact: int, urgency: int, agent=None, created=CREATED):
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    second = TeamFactory(name="Second line", level=level2)
    first = TeamFactory(
        name="First line", level=level1, escalates_to=second, members=[agent] if agent else []
    )
    return services.ticket_create(
        actor=None,
        data=services.NewTicket(
            subject="Printer on fire",
            description="It smokes.",
            team=first,
            customer=CustomerFactory(),
            impact=impact,
            urgency=urgency,
        ),
        now=created,
    )


def assert_replay_matches(ticket):
    engine = [
        (e.raised_at, e.to_team.name, e.to_level.rank)
        # What the engine raised; a person's escalation or hand-back is history to replay.
        for e in Escalation.objects.filter(ticket=ticket, raised_by__isnull=True).order_by(
            "raised_at", "pk"
        )
    ]
    assert engine  # the story has something to compare
    names = dict(Team.objects.values_list("name", "pk"))
    (history,) = backtest.read_histories([ticket.pk], names)
    config = backtest.load_config(CREATED.date())
    replayed = [
        (x.at, config.team_names[x.team_id], x.level)
        for x in replay(history, config, UNTIL)
        if x.kind == "escalated"
    ]
    assert replayed == engine


@pytest.mark.parametrize(("impact", "urgency"), [(2, 2), (3, 3), (1, 1)])
def test_the_live_replay_escalates_where_the_engine_did(impact, urgency):
    ticket = open_ticket(impact, urgency)
    play(ticket, [])
    assert_replay_matches(ticket)


def test_with_a_first_reply_and_notes_the_replay_still_matches():
    agent = UserFactory(username="ada")
    ticket = open_ticket(2, 2, agent=agent)

    def reply(now):
        services.ticket_reply(
            ticket=Ticket.objects.get(pk=ticket.pk), actor=agent, body="On it.", now=now
        )

    def note(now):
        services.ticket_add_note(
            ticket=Ticket.objects.get(pk=ticket.pk), actor=agent, body="Still smoking.", now=now
        )

    play(
        ticket,
        [
            (CREATED + dt.timedelta(minutes=20), reply),
            (CREATED + dt.timedelta(hours=3), note),
        ],
    )
    assert_replay_matches(ticket)


def test_a_priority_raised_by_a_person_chooses_the_policy_again_in_the_replay_too():
    """Live, the SLA clock chooses the policy again when the priority changes: a ticket
    opened at 17:50 in Berlin as priority 3 (office hours, first response within 4 business
    hours: Friday) and raised to 2 at 18:30 comes under a round-the-clock policy for
    priority 2, whose first response (1 hour from creation, 18:50) is breached that evening.
    The replay reads the person's raise from the history and does the same; keeping the
    policy of creation, it would breach on Friday at 08:50 (office hours, priority 2)."""
    high = SLAPolicy.objects.create(
        name="High around the clock",
        order=5,
        calendar=BusinessCalendar.objects.get(name="24/7"),
        priority_min=2,
        priority_max=2,
    )
    SLATarget.objects.create(
        policy=high,
        priority=2,
        first_response=dt.timedelta(hours=1),
        next_update=dt.timedelta(hours=4),
        resolution=dt.timedelta(hours=10),
        warning_percent=75,
    )
    agent = UserFactory(username="ada")
    evening = dt.datetime(2026, 11, 19, 16, 50, tzinfo=UTC)  # Thursday 17:50 in Berlin
    ticket = open_ticket(3, 3, agent=agent, created=evening)
    assert ticket.priority == 3

    def raise_priority(now):
        services.ticket_change_priority(
            ticket=Ticket.objects.get(pk=ticket.pk),
            actor=agent,
            priority=2,
            reason="Production is down after all.",
            now=now,
        )

    play(ticket, [(evening + dt.timedelta(minutes=40), raise_priority)], start=evening)
    assert Ticket.objects.get(pk=ticket.pk).sla_policy == high
    assert human_steps(ticket) == [("priority", "")]
    (escalation,) = Escalation.objects.filter(ticket=ticket)
    assert escalation.raised_at == evening + dt.timedelta(hours=1)  # 18:50 in Berlin
    assert_replay_matches(ticket)


def three_levels(agent=None, lead=None):
    """A ticket (impact and urgency 2) at First line, whose chain goes up to Third line."""
    level1, level2, level3 = (SupportLevel.objects.get(rank=r) for r in (1, 2, 3))
    third = TeamFactory(name="Third line", level=level3)
    second = TeamFactory(
        name="Second line",
        level=level2,
        escalates_to=third,
        members=[agent] if agent else [],
        lead=lead,
    )
    first = TeamFactory(name="First line", level=level1, escalates_to=second)
    return services.ticket_create(
        actor=None,
        data=services.NewTicket(
            subject="Printer on fire",
            description="It smokes.",
            team=first,
            customer=CustomerFactory(),
            impact=2,
            urgency=2,
        ),
        now=CREATED,
    )


def test_an_unacknowledged_escalation_goes_further_up_in_the_replay_too():
    ticket = three_levels()
    play(ticket, [])
    # The story: the first response breaches (to Second line), nobody acknowledges within
    # the level's tier target (on to Third line).
    assert Escalation.objects.filter(ticket=ticket, trigger="unacknowledged").exists()
    assert_replay_matches(ticket)


def test_an_acknowledged_escalation_stays_in_the_replay_too():
    agent = UserFactory(username="ada")
    ticket = three_levels(agent=agent)

    def acknowledge(now):
        waiting = Escalation.objects.get(ticket=ticket, status=Escalation.Status.RAISED)
        escalation_services.escalation_acknowledge(escalation=waiting, actor=agent, now=now)

    play(ticket, [(FIRST_RESPONSE_BREACH + dt.timedelta(minutes=10), acknowledge)])
    assert not Escalation.objects.filter(ticket=ticket, trigger="unacknowledged").exists()
    assert ("ack", "") in human_steps(ticket)
    assert_replay_matches(ticket)


def test_a_leads_de_escalation_is_replayed():
    lead = UserFactory(username="grace")
    ticket = three_levels(lead=lead)

    def hand_back(now):
        current = Ticket.objects.get(pk=ticket.pk)
        escalation_services.escalation_deescalate(
            ticket=current,
            actor=lead,
            to_team=Team.objects.get(name="First line"),
            reason="Needs the customer's logs first.",
            now=now,
        )

    play(ticket, [(FIRST_RESPONSE_BREACH + dt.timedelta(minutes=10), hand_back)])
    assert Escalation.objects.filter(ticket=ticket, kind=Escalation.Kind.DE_ESCALATION).exists()
    assert [k for k, _t in human_steps(ticket)] == ["deescalated", "team"]
    assert_replay_matches(ticket)


def human_steps(ticket):
    names = dict(Team.objects.values_list("name", "pk"))
    (history,) = backtest.read_histories([ticket.pk], names)
    return [(s.kind, s.text) for s in history.steps]


def test_the_history_holds_a_customer_messages_text_and_not_the_engines_escalations():
    ticket = three_levels()
    services.ticket_add_customer_message(
        ticket=Ticket.objects.get(pk=ticket.pk),
        body="This is unacceptable.",
        now=CREATED + dt.timedelta(minutes=5),
    )
    play(ticket, [])
    assert Escalation.objects.filter(ticket=ticket).count() == 2
    # The engine's escalations (no person) are what the replay recomputes, not history.
    assert human_steps(ticket) == [("customer", "This is unacceptable.")]
