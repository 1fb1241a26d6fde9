"""Benchmark of the rule lab's backtest replay (figures, no assertions).

Run with ``python bench/backtest.py`` (20,000 tickets) or ``--full`` (100,000; target: at most
60 s for live and draft together); ``--processes N`` (default: one per core) and
``--profile`` (cProfile of the replay in this process, top 25 by own time). It builds N ticket
histories over 90 days in memory — each with replies, customer messages, progress, now and
then a pending pause, a hand-off by a person and an acknowledgement, and its resolution — and
replays and adds up every one of them under a live configuration and under a draft (the
no-progress threshold halved, the resolution targets lengthened) through
`lab.backtest.Backtest`, batch by batch as a backtest run does: the pure replay
(`lab.replay`), the real engine, clock and risk assessment, in worker processes. The database
reads (two queries per 2,000 tickets) are not part of this figure. Prints seconds, tickets per
second, the outcome and the load average beside them.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time as timer
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import holidays

from escalation.engine import Escalate, RuleSpec, Trigger
from lab.replay import Config, History, PolicySpec, Step, TargetSpec
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
        RuleSpec(id=5, order=50, trigger=Trigger.UNACKNOWLEDGED, escalate=Escalate.HIERARCHICAL),
        RuleSpec(id=6, order=60, trigger=Trigger.SOFT_SIGNAL, risk_at_least=50, notify=True),
    )
    targets = {
        p: {
            "first_response": TargetSpec(fr, fr * 0.75),
            "next_update": TargetSpec(fr * 4, fr * 3),
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
        ack={2: (H, None), 3: (2 * H, None)},
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
            kind = rng.choices(
                ["reply", "progress", "pause", "team", "customer", "ack"], [4, 3, 2, 1, 3, 1]
            )[0]
            text = rng.choice(("Any news?", "This is unacceptable.")) if kind == "customer" else ""
            steps.append(Step(at, kind, team_id=2 if kind == "team" else None, text=text))
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


def cpu_seconds() -> float:
    """User and system time of this process and of its finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="100,000 tickets instead of 20,000")
    parser.add_argument("--tickets", type=int, help="any number of tickets")
    parser.add_argument("--processes", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--profile", action="store_true", help="cProfile, in this process")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()  # the sums read the time zone; no database is used
    from lab.backtest import BATCH, PROCESSES, Backtest

    processes = 1 if args.profile else (args.processes or PROCESSES)
    count = args.tickets or (100_000 if args.full else 20_000)
    backtest = Backtest(live=config(2 * 10 * H, 1.0), draft=config(10 * H, 1.5), until=UNTIL)
    batch = histories(count)
    profiler = cProfile.Profile() if args.profile else None
    cpu_before = cpu_seconds()
    started = timer.perf_counter()
    if profiler is not None:
        profiler.enable()
    backtest.start_processes(processes)
    for start in range(0, count, BATCH):
        backtest.add(batch[start : start + BATCH])
    backtest.stop_processes()
    result = backtest.result()
    if profiler is not None:
        profiler.disable()
    seconds = timer.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"backtest replay, 90 days, {count} tickets, live and draft, {processes} process(es): "
        f"{seconds:.1f} s, {count / seconds:,.0f} tickets/s (load average {load})"
    )
    # CPU time depends far less on what else the shared machine runs than the wall clock.
    print(
        f"  CPU time {cpu:.1f} s (this process and its workers), {count / cpu:,.0f} tickets/CPU s"
    )
    totals = {
        name: sum(n for day in result["days"] for _l, _t, n in day[name]["escalations"])
        for name in ("live", "draft")
    }
    print(
        f"  escalations live {totals['live']}, draft {totals['draft']}; "
        f"{result['differing']} tickets with a different course"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
