"""Benchmark of the rule lab's backtest replay (figures, no assertions).

Run with ``python bench/backtest.py`` (20,000 tickets) or ``--full`` (100,000; target: at most
60 s for live and draft together). It builds N ticket histories over 90 days in memory — each
with a first reply, some progress, now and then a pending pause and a hand-off by a person, and
its resolution — and replays every one of them under a live configuration and under a draft
(the no-progress threshold halved, the resolution targets lengthened) with the pure replay
(`lab.replay`), the real engine and the real clock, as `lab.backtest` does batch by batch. The
database reads (two queries per 2,000 tickets) are not part of this figure. Prints seconds,
tickets per second, the evaluations' outcome and the load average beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time as timer
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import holidays

from escalation.engine import Escalate, RuleSpec, Trigger
from lab.replay import Config, History, PolicySpec, Step, TargetSpec, replay
from sla.clock import CalendarSpec

SEED = 20261207
H = timedelta(hours=1)
OFFICE = CalendarSpec(
    tz="Europe/Berlin",
    weekly=(((time(8), time(18)),),) * 5 + ((),) * 2,
    closed_dates=frozenset(holidays.country_holidays("DE", years=range(2026, 2028))),
)
UNTIL = datetime(2026, 12, 7, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=90)


def config(threshold: timedelta, stretch: float) -> Config:
    rules = (
        RuleSpec(id=1, order=10, trigger=Trigger.SLA_WARNING, notify=True),
        RuleSpec(id=2, order=20, trigger=Trigger.SLA_BREACH, escalate=Escalate.HIERARCHICAL),
        RuleSpec(
            id=3,
            order=30,
            trigger=Trigger.NO_PROGRESS,
            threshold=threshold,
            escalate=Escalate.HIERARCHICAL,
        ),
        RuleSpec(
            id=4,
            order=40,
            trigger=Trigger.SEVERITY,
            priority_at_least=1,
            level_ranks=frozenset({1}),
        ),
    )
    targets = {
        p: {
            "first_response": TargetSpec(fr, fr * 0.75),
            "resolution": TargetSpec(res * stretch, res * stretch * 0.75),
        }
        for p, fr, res in (
            (1, 0.25 * H, 4 * H),
            (2, H, 10 * H),
            (3, 4 * H, 30 * H),
            (4, 8 * H, 100 * H),
        )
    }
    return Config(
        rules=rules,
        policies=(PolicySpec(name="Office", order=1, calendar=OFFICE, targets=targets),),
        up={1: 2, 2: 3, 3: None},
        level_of={1: 1, 2: 2, 3: 3},
        team_names={1: "Service desk", 2: "Second level", 3: "Experts"},
    )


def histories(count: int) -> list[History]:
    rng = random.Random(SEED)
    span = (UNTIL - SINCE).total_seconds()
    result = []
    for n in range(count):
        created = SINCE + timedelta(seconds=rng.random() * span)
        at, steps = created, []
        for _ in range(rng.randint(1, 6)):
            at += timedelta(minutes=rng.randint(10, 3000))
            kind = rng.choices(["reply", "progress", "pause", "team"], [4, 3, 2, 1])[0]
            steps.append(Step(at, kind, team_id=2 if kind == "team" else None))
            if kind == "pause":
                at += timedelta(minutes=rng.randint(60, 4000))
                steps.append(Step(at, "resume"))
        if rng.random() < 0.9:
            steps.append(Step(at + timedelta(minutes=rng.randint(10, 2000)), "end"))
        result.append(
            History(
                ticket_id=n,
                reference=f"HD-2026-{n:06d}",
                created_at=created,
                priority=rng.choice((1, 2, 2, 3, 3, 3, 4)),
                team_id=1,
                steps=tuple(steps),
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="100,000 tickets instead of 20,000")
    parser.add_argument("--tickets", type=int, help="any number of tickets")
    args = parser.parse_args()
    count = args.tickets or (100_000 if args.full else 20_000)
    live, draft = config(2 * 10 * H, 1.0), config(10 * H, 1.5)
    batch = histories(count)
    started = timer.perf_counter()
    happened = {"live": 0, "draft": 0}
    differing = 0
    for h in batch:
        a, b = replay(h, live, UNTIL), replay(h, draft, UNTIL)
        happened["live"] += len(a)
        happened["draft"] += len(b)
        differing += a != b
    seconds = timer.perf_counter() - started
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"backtest replay, 90 days, {count} tickets, live and draft: {seconds:.1f} s, "
        f"{count / seconds:,.0f} tickets/s (load average {load})"
    )
    print(
        f"  happenings live {happened['live']}, draft {happened['draft']}; "
        f"{differing} tickets with a different course"
    )


if __name__ == "__main__":
    main()
