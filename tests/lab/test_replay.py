"""The backtest's pure replay, with answers worked out by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from escalation.engine import Escalate, RuleSpec, Trigger
from lab.replay import (
    Config,
    Happening,
    History,
    PolicySpec,
    Step,
    TargetSpec,
    parting,
    replay,
)
from sla.clock import ALWAYS_OPEN, CalendarSpec

UTC = dt.UTC
H = dt.timedelta(hours=1)
MONDAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
FIRST, SECOND = 1, 2


def config(*rules: RuleSpec, policies: tuple[PolicySpec, ...] = ()) -> Config:
    return Config(
        rules=rules,
        policies=policies,
        up={FIRST: SECOND, SECOND: None},
        level_of={FIRST: 1, SECOND: 2},
    )


def no_progress(threshold: dt.timedelta) -> RuleSpec:
    return RuleSpec(
        id=1, order=10, trigger=Trigger.NO_PROGRESS, threshold=threshold,
        escalate=Escalate.HIERARCHICAL,
    )  # fmt: skip


BREACH = RuleSpec(
    id=2, order=20, trigger=Trigger.SLA_BREACH, sla_target="", escalate=Escalate.HIERARCHICAL
)


def ticket(*steps: Step, created: dt.datetime = MONDAY) -> History:
    return History(
        ticket_id=7, reference="HD-7", created_at=created, priority=2, team_id=FIRST, steps=steps
    )


def escalated(at: dt.datetime, rule: int = 1, trigger: str = "no_progress") -> Happening:
    return Happening(
        at=at, kind="escalated", trigger=trigger, team_id=SECOND, level=2, rule_id=rule
    )


def test_a_lower_threshold_escalates_earlier():
    h = ticket(Step(MONDAY + 10 * H, "end"))
    until = MONDAY + 24 * H
    live = replay(h, config(no_progress(4 * H)), until)
    draft = replay(h, config(no_progress(2 * H)), until)
    # 4 h without progress: 13:00 UTC to the second level, where the chain ends.
    assert live == (escalated(MONDAY + 4 * H),)
    assert draft == (escalated(MONDAY + 2 * H),)
    assert parting(live, draft) == 0


def test_progress_restarts_the_threshold():
    h = ticket(Step(MONDAY + 3 * H, "progress"), Step(MONDAY + 10 * H, "end"))
    assert replay(h, config(no_progress(4 * H)), MONDAY + 24 * H) == (escalated(MONDAY + 7 * H),)


def resolution_policy(resolution: dt.timedelta, calendar=ALWAYS_OPEN) -> PolicySpec:
    return PolicySpec(
        name="Standard",
        order=1,
        calendar=calendar,
        targets={2: {"resolution": TargetSpec(resolution, resolution * 75 / 100)}},
    )


def test_a_longer_target_no_longer_breaches():
    h = ticket(Step(MONDAY + 5.5 * H, "end"))
    until = MONDAY + 24 * H
    live = replay(h, config(policies=(resolution_policy(4 * H),)), until)
    draft = replay(h, config(policies=(resolution_policy(8 * H),)), until)
    assert live == (
        Happening(at=MONDAY + 3 * H, kind="sla_warning", target="resolution"),
        Happening(at=MONDAY + 4 * H, kind="sla_breach", target="resolution"),
    )
    assert draft == ()  # the warning would be at 6 h, the ticket was resolved at 5.5 h
    assert parting(live, draft) == 0


def test_pending_stops_the_clock():
    # 2 h running, 3 h pending, then 2 more hours: the 4 h target is due at 7 h.
    h = ticket(Step(MONDAY + 2 * H, "pause"), Step(MONDAY + 5 * H, "resume"))
    happened = replay(h, config(policies=(resolution_policy(4 * H),)), MONDAY + 8 * H)
    assert [(x.kind, x.at) for x in happened] == [
        ("sla_warning", MONDAY + 6 * H),
        ("sla_breach", MONDAY + 7 * H),
    ]


def office(closed: frozenset[dt.date] = frozenset()) -> CalendarSpec:
    day = ((dt.time(9), dt.time(17)),)
    return CalendarSpec(tz="Europe/Berlin", weekly=(day,) * 5 + ((), ()), closed_dates=closed)


def test_a_holiday_moves_the_breach_and_the_escalation_a_day():
    h = ticket(Step(MONDAY + 72 * H, "end"))
    until = MONDAY + 96 * H
    live = config(BREACH, policies=(resolution_policy(8 * H, office()),))
    holiday = office(frozenset({dt.date(2026, 12, 8)}))
    draft = config(BREACH, policies=(resolution_policy(8 * H, holiday),))
    # Monday 10:00 Berlin + 8 business hours = Tuesday 10:00 (09:00 UTC); Wednesday with
    # Tuesday closed. The warning (6 h) is Monday 16:00 either way.
    assert [(x.kind, x.at) for x in replay(h, live, until)] == [
        ("sla_warning", MONDAY + 6 * H),
        ("sla_breach", MONDAY + 24 * H),
        ("escalated", MONDAY + 24 * H),
    ]
    assert [(x.kind, x.at) for x in replay(h, draft, until)] == [
        ("sla_warning", MONDAY + 6 * H),
        ("sla_breach", MONDAY + 48 * H),
        ("escalated", MONDAY + 48 * H),
    ]


def test_a_human_hand_off_starts_a_new_cycle():
    h = ticket(Step(MONDAY + 1 * H, "team", team_id=SECOND), Step(MONDAY + 10 * H, "end"))
    # At the second level the chain ends: nothing to escalate to.
    assert replay(h, config(no_progress(4 * H)), MONDAY + 24 * H) == ()


def test_the_replay_is_deterministic():
    h = ticket(Step(MONDAY + 2 * H, "pause"), Step(MONDAY + 30 * H, "resume"))
    cfg = config(no_progress(3 * H), BREACH, policies=(resolution_policy(8 * H, office()),))
    first = replay(h, cfg, MONDAY + 96 * H)
    assert first and first == replay(replace(h), cfg, MONDAY + 96 * H)
