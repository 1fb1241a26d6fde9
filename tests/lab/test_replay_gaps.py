"""The replay's reopens and the risk signals that need other records (low ratings, recurrences),
with answers worked out by hand on a 24/7 calendar, and how the backtest reads them from the
recorded events."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from datetime import time

import pytest

from escalation.engine import Trigger
from lab import backtest
from lab.replay import History, PolicySpec, Step, TargetSpec, replay
from sla.clock import ALWAYS_OPEN, CalendarSpec
from tests.factories import CustomerFactory, TicketFactory
from tests.lab.test_replay_coverage import MONDAY, UNTIL, H, M, config, courses, rule, ticket
from tickets.models import Service, TicketEvent

D = 24 * H
AT_RISK_50 = rule(3, Trigger.SOFT_SIGNAL, risk_at_least=50)
BREACH = rule(2, Trigger.SLA_BREACH)
# A calendar open from 08:00 to 18:00 UTC every day (another calendar than 24/7).
OFFICE_LIKE = CalendarSpec(tz="UTC", weekly=(((time(8), time(18)),),) * 7)
RESOLUTION_4H = PolicySpec(
    name="Standard",
    order=1,
    calendar=ALWAYS_OPEN,
    targets={2: {"resolution": TargetSpec(4 * H, 3 * H)}},
)


# -- Reopens ----------------------------------------------------------------------------------


def test_a_reopen_runs_the_resolution_clock_on_from_where_it_stopped():
    # Resolved after 2 h of the 4 h target, reopened at 10 h: 2 h remain, so the warning
    # (3 h) comes at 11 h and the breach at 12 h, where the breach rule escalates (a new
    # cycle began at the reopen, so nothing answered it). Without the reopen: nothing.
    h = ticket(Step(MONDAY + 2 * H, "end"), Step(MONDAY + 10 * H, "reopen"))
    assert courses(replay(h, config(BREACH, policies=(RESOLUTION_4H,)), UNTIL)) == [
        ("sla_warning", 11 * H, "resolution"),
        ("sla_breach", 12 * H, "resolution"),
        ("escalated", 12 * H, "sla_breach"),
    ]
    resolved_only = ticket(Step(MONDAY + 2 * H, "end"))
    assert replay(resolved_only, config(BREACH, policies=(RESOLUTION_4H,)), UNTIL) == ()


def test_a_reopen_counts_in_the_risk_score():
    # VIP 20 points, the reopen 15: 35 at 5 h, assessed as the reopen starts a new cycle, which
    # answers it (as a hand-off does). The next follow-up at 6 h adds 15: 50 fires. Without the
    # reopen counted it would be 35.
    h = ticket(
        Step(MONDAY + 1 * H, "end"),
        Step(MONDAY + 5 * H, "customer", text="Hello."),
        Step(MONDAY + 5 * H, "reopen"),
        Step(MONDAY + 6 * H, "customer", text="Any news?"),
        vip=True,
    )
    assert courses(replay(h, config(AT_RISK_50), UNTIL)) == [("escalated", 6 * H, "soft_signal")]
    assert replay(h, config(rule(3, Trigger.SOFT_SIGNAL, risk_at_least=51)), UNTIL) == ()


def test_a_closed_ticket_is_not_swept_and_a_second_end_changes_nothing():
    # Closed after resolution: the 4 h target stopped at 1 h, nothing follows.
    h = ticket(Step(MONDAY + 1 * H, "end"), Step(MONDAY + 2 * H, "end"))
    assert replay(h, config(BREACH, policies=(RESOLUTION_4H,)), UNTIL) == ()


# -- Low ratings ------------------------------------------------------------------------------


def test_a_low_rating_counts_once_the_ticket_is_reopened():
    # At 6 h: the reopen 15, the low rating 20, two follow-ups 15 = 50. Without the rating 30.
    def history(*rating: Step) -> History:
        return ticket(
            Step(MONDAY + 1 * H, "end"),
            *rating,
            Step(MONDAY + 5 * H, "customer", text="Hello."),
            Step(MONDAY + 5 * H, "reopen"),
            Step(MONDAY + 6 * H, "customer", text="Any news?"),
        )

    rated = history(Step(MONDAY + 2 * H, "rated"))
    assert courses(replay(rated, config(AT_RISK_50), UNTIL)) == [
        ("escalated", 6 * H, "soft_signal")
    ]
    assert replay(history(), config(AT_RISK_50), UNTIL) == ()


# -- Recurrences ------------------------------------------------------------------------------


def with_recurrences(h: History, *pairs: tuple[dt.timedelta, int]) -> History:
    return History(**{**h.__dict__, "recurrences": tuple((MONDAY + t, n) for t, n in pairs)})


def test_recurrences_are_read_as_they_stood_at_each_assessment():
    # Two earlier tickets of the service resolved in the 30 days: 40 points from creation.
    # At 3 h the second follow-up adds 15: 55 >= 50. When one of them was reopened at 1 h,
    # it no longer counts then: 20 + 15 = 35, nothing fires.
    h = ticket(
        Step(MONDAY + 2 * H, "customer", text="Any news?"),
        Step(MONDAY + 3 * H, "customer", text="Hello?"),
    )
    both = with_recurrences(h, (-2 * D, 1), (-1 * D, 2))
    assert both.recurrences_at(MONDAY) == 2
    assert courses(replay(both, config(AT_RISK_50), UNTIL)) == [("escalated", 3 * H, "soft_signal")]
    one_reopened = with_recurrences(h, (-2 * D, 1), (-1 * D, 2), (1 * H, 1))
    assert one_reopened.recurrences_at(MONDAY + 3 * H) == 1
    assert replay(one_reopened, config(AT_RISK_50), UNTIL) == ()


@pytest.mark.django_db
def test_the_backtest_reads_reopens_ratings_and_recurrences_from_the_events():
    service = Service.objects.create(name="Checkout")
    customer = CustomerFactory()
    earlier = TicketFactory(service=service, customer=customer, created_at=MONDAY - 20 * D)
    other_customer = TicketFactory(service=service, created_at=MONDAY - 20 * D)
    too_old = TicketFactory(service=service, customer=customer, created_at=MONDAY - 60 * D)
    now = TicketFactory(service=service, customer=customer, created_at=MONDAY)

    def transition(t, at, before, after):
        TicketEvent.objects.create(
            ticket=t, kind="transitioned", payload={"from": before, "to": after}, created_at=at
        )

    transition(earlier, MONDAY - 10 * D, "open", "resolved")  # in the 30 days: counts
    transition(other_customer, MONDAY - 10 * D, "open", "resolved")  # another customer's
    transition(too_old, MONDAY - 40 * D, "open", "resolved")  # before the 30 days
    transition(earlier, MONDAY + 3 * H, "resolved", "open")  # reopened: counts no more
    transition(now, MONDAY + 1 * H, "open", "resolved")
    TicketEvent.objects.create(
        ticket=now, kind="rated", payload={"score": 1}, created_at=MONDAY + 2 * H
    )
    TicketEvent.objects.create(
        ticket=now, kind="rated", payload={"score": 5}, created_at=MONDAY + 2 * H
    )
    transition(now, MONDAY + 4 * H, "resolved", "open")
    [h] = backtest.read_histories([now.pk], {})
    assert h.recurrences == ((MONDAY - 10 * D, 1), (MONDAY + 3 * H, 0))
    assert [(s.kind, s.at - MONDAY) for s in h.steps] == [
        ("end", 1 * H),
        ("rated", 2 * H),  # the score 5 is no low rating
        ("reopen", 4 * H),
    ]


# -- Customer messages that change nothing the engine reads ----------------------------------


def test_a_quiet_customer_message_still_sweeps_what_is_due_between_minutes():
    # Created at 9:00:30: 2 h without progress is due at 11:00:30, the beat's sweep at 11:01.
    # A message at 10:00 leaves the score at 0 (below 50) and decides nothing; one at 11:00:45
    # finds the rule due and the change hook escalates there, before the beat.
    created = MONDAY + dt.timedelta(seconds=30)
    rules = config(rule(1, Trigger.NO_PROGRESS, threshold=2 * H), AT_RISK_50)

    def history(at: dt.datetime) -> History:
        return History(
            ticket_id=7,
            reference="HD-7",
            created_at=created,
            priority=2,
            team_id=1,
            steps=(Step(at, "customer", text="Hello."),),
        )

    early = replay(history(MONDAY + H), rules, UNTIL)
    assert (early[0].kind, early[0].at) == ("escalated", MONDAY + 2 * H + M)
    late = replay(history(MONDAY + 2 * H + dt.timedelta(seconds=45)), rules, UNTIL)
    assert (late[0].kind, late[0].at) == ("escalated", MONDAY + 2 * H + dt.timedelta(seconds=45))


# -- The policy chosen again ------------------------------------------------------------------


def test_a_hand_off_by_a_person_brings_the_policy_of_the_new_team():
    # Second line has its own policy: resolution within 4 h (warning at 3 h) against 8 h (6 h)
    # for the others, over the same clock since creation (24/7). Handed over at 1 h: warning
    # at 3 h, breach at 4 h, where the breach rule escalates to Third line; the general policy
    # there (due at 8 h) records no second warning or breach: the ticket's flags are set. With
    # the policy of creation: warning at 6 h, breach and escalation at 8 h.
    second_line = PolicySpec(
        name="Second line",
        order=1,
        calendar=ALWAYS_OPEN,
        team_ids=frozenset({2}),
        targets={2: {"resolution": TargetSpec(4 * H, 3 * H)}},
    )
    general = replace(RESOLUTION_4H, order=2, targets={2: {"resolution": TargetSpec(8 * H, 6 * H)}})
    h = ticket(Step(MONDAY + H, "team", team_id=2))
    assert courses(replay(h, config(BREACH, policies=(second_line, general)), UNTIL)) == [
        ("sla_warning", 3 * H, "resolution"),
        ("sla_breach", 4 * H, "resolution"),
        ("escalated", 4 * H, "sla_breach"),
    ]
    assert courses(replay(h, config(BREACH, policies=(general,)), UNTIL)) == [
        ("sla_warning", 6 * H, "resolution"),
        ("sla_breach", 8 * H, "resolution"),
        ("escalated", 8 * H, "sla_breach"),
    ]


def test_a_raise_that_moves_a_recorded_warning_records_it_once():
    # Priority 3: resolution 8 h, warning at 4 h (recorded). Raised to 1 at 5 h: 4 h, warning
    # at 2 h (passed, on record already: not again); the breach at 4 h has passed: recorded,
    # and the breach rule escalates at the raise.
    targets = {
        3: {"resolution": TargetSpec(8 * H, 4 * H)},
        1: {"resolution": TargetSpec(4 * H, 2 * H)},
    }
    policy = replace(RESOLUTION_4H, targets=targets)
    h = ticket(Step(MONDAY + 5 * H, "priority", priority=1), priority=3)
    assert courses(replay(h, config(BREACH, policies=(policy,)), UNTIL)) == [
        ("sla_warning", 4 * H, "resolution"),
        ("sla_breach", 4 * H, "resolution"),
        ("escalated", 5 * H, "sla_breach"),
    ]


def test_a_ticket_that_comes_under_a_policy_starts_its_clock_then():
    # No policy for priority 4; raised to 2 at 2 h, the 4 h resolution runs from then (as the
    # live clock opens its segments when a policy first governs the ticket): due at 6 h.
    h = ticket(Step(MONDAY + 2 * H, "priority", priority=2), priority=4)
    policy = replace(RESOLUTION_4H, priority_max=2)
    assert courses(replay(h, config(BREACH, policies=(policy,)), UNTIL)) == [
        ("sla_warning", 5 * H, "resolution"),
        ("sla_breach", 6 * H, "resolution"),
        ("escalated", 6 * H, "sla_breach"),
    ]


# -- Work shared between live and draft -------------------------------------------------------


def test_a_ticket_whose_configurations_agree_is_replayed_once(monkeypatch):
    # The draft lengthens the resolution target of priority 2 only: a priority 3 ticket (no
    # policy in either) has the same course under both and is replayed once; a priority 2
    # ticket twice, and its courses differ.
    live = config(BREACH, policies=(replace(RESOLUTION_4H, priority_max=2),))
    longer = {2: {"resolution": TargetSpec(8 * H, 6 * H)}}
    draft = config(BREACH, policies=(replace(RESOLUTION_4H, priority_max=2, targets=longer),))
    two = History(ticket_id=2, reference="HD-2", created_at=MONDAY, priority=2, team_id=1)
    three = History(ticket_id=3, reference="HD-3", created_at=MONDAY, priority=3, team_id=1)
    calls, part = replayed(monkeypatch, live, draft, [two, three])
    assert calls == [2, 2, 3]
    assert part.differing == 1


def test_the_backtest_replays_twice_where_a_reachable_priority_has_another_policy(monkeypatch):
    # The draft differs for priority 1 only: a priority 3 ticket that a person raises to 1 is
    # replayed under both, one that stays at 3 once.
    live = config(BREACH, policies=(replace(RESOLUTION_4H, priority_min=1, priority_max=4),))
    sev1 = replace(RESOLUTION_4H, name="Sev 1", priority_max=1, calendar=OFFICE_LIKE)
    draft = config(BREACH, policies=(sev1, *live.policies))
    stays = History(ticket_id=3, reference="HD-3", created_at=MONDAY, priority=3, team_id=1)
    raised = replace(stays, ticket_id=4, steps=(Step(MONDAY + H, "priority", priority=1),))
    calls, _part = replayed(monkeypatch, live, draft, [stays, raised])
    assert calls == [3, 4, 4]


def replayed(monkeypatch, live, draft, histories):
    """The tickets replayed (one id per replay) and the part the backtest adds up."""
    calls = []
    real = backtest.replay
    monkeypatch.setattr(
        backtest, "replay", lambda h, c, u: calls.append(h.ticket_id) or real(h, c, u)
    )
    part = backtest.Backtest(live=live, draft=draft, until=UNTIL).replayed(histories)
    return calls, part
