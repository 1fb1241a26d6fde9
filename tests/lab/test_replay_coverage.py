"""What the replay models beyond the first response, the resolution and no progress: the next
update target, unacknowledged escalations, risk scores, major incident links and
de-escalations. Each answer is worked out by hand on a 24/7 calendar (all instants are on the
beat's minute grid)."""

from __future__ import annotations

import datetime as dt

from escalation.engine import Escalate, RuleSpec, Trigger
from lab.replay import Config, Happening, History, PolicySpec, Step, TargetSpec, replay
from sla.clock import ALWAYS_OPEN

UTC = dt.UTC
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
MONDAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FIRST, SECOND, THIRD = 1, 2, 3
UNTIL = MONDAY + 24 * H


def config(*rules: RuleSpec, policies: tuple[PolicySpec, ...] = (), ack=None) -> Config:
    return Config(
        rules=rules,
        policies=policies,
        up={FIRST: SECOND, SECOND: THIRD, THIRD: None},
        level_of={FIRST: 1, SECOND: 2, THIRD: 3},
        ack=ack or {},
    )


def ticket(*steps: Step, priority: int = 2, vip: bool = False) -> History:
    return History(
        ticket_id=7,
        reference="HD-7",
        created_at=MONDAY,
        priority=priority,
        team_id=FIRST,
        vip=vip,
        steps=steps,
    )


def courses(happened: tuple[Happening, ...]) -> list[tuple[str, dt.timedelta, str]]:
    """(kind, time since creation, trigger or target) of each happening."""
    return [(x.kind, x.at - MONDAY, x.trigger or x.target) for x in happened]


def rule(id: int, trigger: Trigger, **fields) -> RuleSpec:
    return RuleSpec(id=id, order=id * 10, trigger=trigger, escalate=Escalate.HIERARCHICAL, **fields)


# -- The next update --------------------------------------------------------------------------


def test_the_next_update_target_runs_from_each_reply():
    # First response 2 h (warning at 1.5 h): met by the reply at 1 h. The next update (4 h,
    # warning at 3 h) runs from that reply: warning at 4 h; the reply at 4.5 h starts a new
    # period: warning at 7.5 h, due at 8.5 h, where the breach rule escalates once.
    targets = {
        2: {
            "first_response": TargetSpec(2 * H, 1.5 * H),
            "next_update": TargetSpec(4 * H, 3 * H),
        }
    }
    policy = PolicySpec(name="Standard", order=1, calendar=ALWAYS_OPEN, targets=targets)
    h = ticket(Step(MONDAY + H, "reply"), Step(MONDAY + 4.5 * H, "reply"))
    breach = rule(1, Trigger.SLA_BREACH, sla_target="next_update")
    assert courses(replay(h, config(breach, policies=(policy,)), MONDAY + 10 * H)) == [
        ("sla_warning", 4 * H, "next_update"),
        ("sla_warning", 7.5 * H, "next_update"),
        ("sla_breach", 8.5 * H, "next_update"),
        ("escalated", 8.5 * H, "sla_breach"),
    ]


def test_no_next_update_before_the_first_response():
    targets = {2: {"next_update": TargetSpec(H, None)}}
    policy = PolicySpec(name="Standard", order=1, calendar=ALWAYS_OPEN, targets=targets)
    assert replay(ticket(), config(policies=(policy,)), UNTIL) == ()


# -- Unacknowledged escalations ---------------------------------------------------------------

NO_PROGRESS_ON_FIRST = rule(1, Trigger.NO_PROGRESS, threshold=H, level_ranks=frozenset({1}))
UNACKNOWLEDGED = rule(2, Trigger.UNACKNOWLEDGED)
ACK_30 = {2: (30 * M, None), 3: (30 * M, None)}


def test_an_escalation_nobody_acknowledges_goes_up_at_the_tier_target():
    # No progress for 1 h: to the second level at 1 h, which must acknowledge within 30 min;
    # at 1.5 h nobody has: up to the third level, which must acknowledge by 2 h, and at the
    # top of the chain the rule has nowhere to go.
    cfg = config(NO_PROGRESS_ON_FIRST, UNACKNOWLEDGED, ack=ACK_30)
    assert courses(replay(ticket(), cfg, UNTIL)) == [
        ("escalated", 1 * H, "no_progress"),
        ("escalated", 1.5 * H, "unacknowledged"),
    ]


def test_an_acknowledged_escalation_stays():
    cfg = config(NO_PROGRESS_ON_FIRST, UNACKNOWLEDGED, ack=ACK_30)
    h = ticket(Step(MONDAY + 80 * M, "ack"))
    assert courses(replay(h, cfg, UNTIL)) == [("escalated", 1 * H, "no_progress")]


def test_without_a_tier_target_nothing_waits_for_acknowledgement():
    cfg = config(NO_PROGRESS_ON_FIRST, UNACKNOWLEDGED)
    assert courses(replay(ticket(), cfg, UNTIL)) == [("escalated", 1 * H, "no_progress")]


def test_a_persons_escalation_waits_for_acknowledgement_too():
    # A person escalates to the second level at 20 min (due 50 min); the rule takes it up
    # at 50 min.
    cfg = config(UNACKNOWLEDGED, ack=ACK_30)
    h = ticket(
        Step(MONDAY + 20 * M, "raised", level=2), Step(MONDAY + 20 * M, "team", team_id=SECOND)
    )
    assert courses(replay(h, cfg, UNTIL)) == [("escalated", 50 * M, "unacknowledged")]


# -- Risk scores ------------------------------------------------------------------------------

AT_RISK = rule(3, Trigger.SOFT_SIGNAL, risk_at_least=30)


def test_three_customer_messages_without_an_answer_escalate():
    # Follow-ups: 15 points each after the first; the third message (3 h) makes 30.
    h = ticket(*(Step(MONDAY + n * H, "customer", text="Any news?") for n in (1, 2, 3)))
    assert courses(replay(h, config(AT_RISK), UNTIL)) == [("escalated", 3 * H, "soft_signal")]


def test_a_reply_answers_the_follow_ups():
    h = ticket(
        Step(MONDAY + 1 * H, "customer", text="Any news?"),
        Step(MONDAY + 2 * H, "customer", text="Hello?"),
        Step(MONDAY + 150 * M, "reply"),
        Step(MONDAY + 3 * H, "customer", text="Thanks."),
    )
    assert replay(h, config(AT_RISK), UNTIL) == ()


def test_a_vip_in_a_negative_tone_escalates_on_the_message():
    # VIP 20 points from creation (below 30); "unacceptable" adds 10 at 2 h.
    h = ticket(Step(MONDAY + 2 * H, "customer", text="This is unacceptable."), vip=True)
    assert courses(replay(h, config(AT_RISK), UNTIL)) == [("escalated", 2 * H, "soft_signal")]


# -- Major incidents --------------------------------------------------------------------------

NO_PROGRESS_2H = rule(1, Trigger.NO_PROGRESS, threshold=2 * H)


def test_a_linked_ticket_is_held_until_the_link_ends():
    # Alone, no progress escalates at 2 h. Linked to an incident from 1 h to 5 h, the
    # engine holds it; the link ends at 5 h and the beat's next sweep, a minute later, finds
    # the threshold passed.
    assert courses(replay(ticket(), config(NO_PROGRESS_2H), MONDAY + 3 * H)) == [
        ("escalated", 2 * H, "no_progress")
    ]
    h = ticket(Step(MONDAY + H, "linked"), Step(MONDAY + 5 * H, "unlinked"))
    assert courses(replay(h, config(NO_PROGRESS_2H), MONDAY + 6 * H)) == [
        ("escalated", 5 * H + M, "no_progress")
    ]


def test_a_ticket_unlinked_between_minutes_is_swept_on_the_next_minute():
    unlinked = MONDAY + 5 * H + dt.timedelta(seconds=20)
    h = ticket(Step(MONDAY + H, "linked"), Step(unlinked, "unlinked"))
    assert courses(replay(h, config(NO_PROGRESS_2H), MONDAY + 6 * H)) == [
        ("escalated", 5 * H + M, "no_progress")
    ]


# -- De-escalation ----------------------------------------------------------------------------

SEV1_CLIMBS = rule(4, Trigger.SEVERITY, priority_at_least=1, level_ranks=frozenset({1}))


def test_a_leads_de_escalation_holds_severity_in_its_cycle():
    # Sev 1 at the first level escalates at creation; the lead hands it back at 2 h. A plain
    # hand-back by a person lets severity climb again at once; a de-escalation does not.
    handed_back = ticket(Step(MONDAY + 2 * H, "team", team_id=FIRST), priority=1)
    assert courses(replay(handed_back, config(SEV1_CLIMBS), UNTIL)) == [
        ("escalated", 0 * H, "severity"),
        ("escalated", 2 * H, "severity"),
    ]
    deescalated = ticket(
        Step(MONDAY + 2 * H, "deescalated"), Step(MONDAY + 2 * H, "team", team_id=FIRST), priority=1
    )
    assert courses(replay(deescalated, config(SEV1_CLIMBS), UNTIL)) == [
        ("escalated", 0 * H, "severity")
    ]
