"""The replay's shortcuts against the full evaluation (a differential test).

The replay skips evaluations that cannot decide anything (a quiet step: progress, a pause, an
acknowledgement, a rating, a customer message that leaves the risk score below every
soft-signal threshold) and, while no fact the engine reads has changed, decides from the
last evaluation's candidates instead of building the facts and computing every trigger
instant again. `replay(..., shortcuts=False)` asks the engine in full at every change and
every sweep, as the live system does. On random histories under random configurations —
every step kind, instants on and off the beat's minute grid, office hours with holidays and
24/7, pauses that stop the clock or not, a second policy chosen when the priority or the
team changes — both must give the same course, happening for happening.
"""

from __future__ import annotations

import datetime as dt
import random
from datetime import time

import holidays
import pytest

from escalation.engine import Escalate, RuleSpec, Trigger
from lab.replay import (
    Config,
    History,
    PolicySpec,
    State,
    Step,
    TargetSpec,
    clock_instant,
    replay,
)
from sla.clock import ALWAYS_OPEN, CalendarSpec, business_time_between
from sla.deadlines import Segment, instant_at

UTC = dt.UTC
H = dt.timedelta(hours=1)
START = dt.datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
UNTIL = START + dt.timedelta(days=21)
OFFICE = CalendarSpec(
    tz="Europe/Berlin",
    weekly=(((time(8), time(18)),),) * 5 + ((),) * 2,
    closed_dates=frozenset(holidays.country_holidays("DE", years=[2026, 2027])),
)
TEXTS = ("Hello.", "Any news?", "This is unacceptable.", "Ridiculous, still broken!", "Thanks.")
TEAMS = (1, 2, 3, 4)  # 1 -> 2 -> 3 is the chain; 4 is a functional team


def random_config(rng: random.Random) -> Config:
    pool = [
        RuleSpec(
            id=1,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.NO_PROGRESS,
            threshold=rng.choice((0, 1, 2, 4, 8)) * H
            + rng.choice((0, 17)) * dt.timedelta(minutes=1),
            escalate=Escalate.HIERARCHICAL,
            level_ranks=rng.choice((frozenset(), frozenset({1, 2}))),
        ),
        RuleSpec(
            id=2,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.SLA_WARNING,
            sla_target=rng.choice(("", "first_response", "resolution")),
            notify=True,
        ),
        RuleSpec(
            id=3,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.SLA_BREACH,
            sla_target=rng.choice(("", "next_update", "resolution")),
            escalate=rng.choice((Escalate.HIERARCHICAL, Escalate.NONE)),
            notify=True,
        ),
        RuleSpec(
            id=4,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.SEVERITY,
            priority_at_least=rng.choice((1, 2)),
            level_ranks=frozenset({1}),
            escalate=Escalate.HIERARCHICAL,
        ),
        RuleSpec(
            id=5,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.UNACKNOWLEDGED,
            escalate=Escalate.HIERARCHICAL,
            notify=True,
        ),
        RuleSpec(
            id=6,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.SOFT_SIGNAL,
            risk_at_least=rng.choice((20, 35, 50)),
            escalate=rng.choice((Escalate.FUNCTIONAL, Escalate.NONE)),
            functional_team_id=4,
            notify=True,
        ),
        RuleSpec(
            id=7,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.SLA_BREACH,
            sla_target="first_response",
            raise_priority_to=1,
            priority_max=3,
        ),
        RuleSpec(
            id=8,
            order=rng.randint(1, 9) * 10,
            trigger=Trigger.NO_PROGRESS,
            threshold=rng.choice((3, 6)) * H,
            escalate=Escalate.FUNCTIONAL,
            functional_team_id=4,
            team_ids=frozenset({2}),
        ),
    ]
    rules = tuple(rule for rule in pool if rng.random() < 0.7)
    stretch = rng.choice((0.5, 1.0, 2.0))
    targets = {
        p: {
            "first_response": TargetSpec(first * stretch, first * stretch * 0.75),
            "next_update": TargetSpec(first * 3, first * 2 if rng.random() < 0.8 else None),
            "resolution": TargetSpec(whole * stretch, whole * stretch * 0.8),
        }
        for p, first, whole in (
            (1, H / 2, 4 * H),
            (2, H, 8 * H),
            (3, 2 * H, 16 * H),
            (4, 4 * H, 40 * H),
        )
    }
    policy = PolicySpec(
        name="Standard",
        order=1,
        calendar=rng.choice((OFFICE, ALWAYS_OPEN)),
        pending_pauses=rng.random() < 0.7,
        priority_max=rng.choice((3, 4)),
        targets=targets,
    )
    policies: tuple[PolicySpec, ...] = (policy,)
    if rng.random() < 0.6:
        # A policy before it for the urgent priorities or the upper teams, on another
        # calendar, that pauses or not: the policy is chosen again when the priority (a
        # person's change, a rule's raise) or the team (any hand-off) changes.
        urgent = PolicySpec(
            name="Urgent",
            order=0,
            calendar=OFFICE if policy.calendar is ALWAYS_OPEN else ALWAYS_OPEN,
            pending_pauses=rng.random() < 0.5,
            priority_max=rng.choice((1, 2, 4)),
            team_ids=rng.choice((frozenset(), frozenset({2, 4}), frozenset({3}))),
            targets={
                p: {name: TargetSpec(spec.duration / 2, spec.warning) for name, spec in t.items()}
                for p, t in targets.items()
                if p <= 2 or rng.random() < 0.5
            },
        )
        policies = (urgent, policy)
    return Config(
        rules=rules,
        policies=policies,
        up={1: 2, 2: 3, 3: None, 4: None},
        level_of={1: 1, 2: 2, 3: 3, 4: 2},
        team_names={1: "First", 2: "Second", 3: "Third", 4: "Network"},
        ack=rng.choice(({}, {2: (H, None), 3: (2 * H, ALWAYS_OPEN)}, {2: (dt.timedelta(0), None)})),
    )


def random_history(rng: random.Random, n: int) -> History:
    created = START + dt.timedelta(minutes=rng.randint(0, 14 * 24 * 60))
    if rng.random() < 0.5:
        created += dt.timedelta(seconds=rng.randint(1, 59))  # off the minute grid
    at, steps = created, []
    for _ in range(rng.randint(0, 9)):
        at += rng.choice(
            (
                dt.timedelta(0),  # two steps at one instant
                dt.timedelta(seconds=rng.randint(1, 600)),
                dt.timedelta(minutes=rng.randint(1, 600)),
                dt.timedelta(minutes=rng.randint(600, 4000)),
            )
        )
        kind = rng.choice(
            (
                "reply", "reply", "progress", "pause", "team", "customer", "customer", "ack",
                "priority", "raised", "deescalated", "linked", "end", "rated",
            )
        )  # fmt: skip
        if kind == "pause":
            steps.append(Step(at, "pause"))
            at += dt.timedelta(minutes=rng.randint(1, 3000))
            steps.append(Step(at, "resume"))
        elif kind == "team":
            steps.append(Step(at, "team", team_id=rng.choice(TEAMS)))
        elif kind in ("raised", "deescalated"):
            level = rng.choice((1, 2, 3)) if kind == "raised" else None
            steps.append(Step(at, kind, level=level))
            steps.append(Step(at, "team", team_id=rng.choice(TEAMS)))
        elif kind == "customer":
            steps.append(Step(at, "customer", text=rng.choice(TEXTS)))
        elif kind == "priority":
            steps.append(Step(at, "priority", priority=rng.randint(1, 4)))
        elif kind == "linked":
            steps.append(Step(at, "linked"))
            at += dt.timedelta(minutes=rng.randint(1, 900), seconds=rng.randint(0, 59))
            steps.append(Step(at, "unlinked"))
        elif kind == "end":
            steps.append(Step(at, "end"))
            if rng.random() < 0.5:
                at += dt.timedelta(minutes=rng.randint(1, 2000))
                steps.append(Step(at, "reopen"))
        else:
            steps.append(Step(at, kind))
    if rng.random() < 0.7:
        steps.append(Step(at + dt.timedelta(minutes=rng.randint(1, 3000)), "end"))
    return History(
        ticket_id=n,
        reference=f"HD-{n}",
        created_at=created,
        priority=rng.randint(1, 4),
        team_id=rng.choice((1, 1, 1, 2)),
        vip=rng.random() < 0.3,
        steps=tuple(steps),
        recurrences=((created - 5 * H, 1),) if rng.random() < 0.2 else (),
    )


@pytest.mark.parametrize("seed", range(8))
def test_the_shortcuts_give_the_course_of_the_full_evaluation(seed: int) -> None:
    rng = random.Random(seed)
    config = random_config(rng)
    happened = 0
    for n in range(150):
        h = random_history(rng, n)
        fast = replay(h, config, UNTIL)
        full = replay(h, config, UNTIL, shortcuts=False)
        assert fast == full, (seed, n, h)
        happened += len(full)
    assert happened > 150  # the histories make things happen (warnings, breaches, escalations)


def test_the_random_configurations_escalate_on_every_trigger() -> None:
    """The comparison above covers every trigger: over its seeds, each one escalates or
    notifies somewhere."""
    triggers = set()
    for seed in range(8):
        rng = random.Random(seed)
        config = random_config(rng)
        for n in range(150):
            triggers |= {x.trigger for x in replay(random_history(rng, n), config, UNTIL)}
    assert triggers >= {str(t) for t in Trigger}


@pytest.mark.parametrize("calendar", [OFFICE, ALWAYS_OPEN], ids=["office", "24/7"])
def test_the_summed_clock_finds_the_instants_of_the_deadlines(calendar) -> None:
    """`clock_instant` (each closed segment's business time summed once) against
    `sla.deadlines.instant_at` on random clocks, for offsets inside segments, past the closed
    ones and exactly at each closed segment's running total (the instant lies in it then)."""
    rng = random.Random(11)
    policy = PolicySpec(name="Standard", order=1, calendar=calendar)
    for _ in range(200):
        at = START + dt.timedelta(minutes=rng.randint(0, 5000))
        segments = []
        for _ in range(rng.randint(0, 6)):
            end = at + dt.timedelta(minutes=rng.randint(0, 3000))
            segments.append(Segment(at, end, rng.random() < 0.6))
            at = end
        segments.append(Segment(at, None, rng.random() < 0.6))
        state = State(
            team_id=1, level=1, priority=2, cycle=0, cycle_started_at=START, segments=segments
        )
        state.policy = policy
        totals, total = [], dt.timedelta(0)
        for segment in segments[:-1]:
            if segment.running:
                total += business_time_between(calendar, segment.started_at, segment.ended_at)
                totals.append(total)
        offsets = [*totals, *(rng.randint(0, 4000) * dt.timedelta(minutes=1) for _ in range(5))]
        for offset in offsets:
            assert clock_instant(state, offset) == instant_at(calendar, segments, offset), offset
