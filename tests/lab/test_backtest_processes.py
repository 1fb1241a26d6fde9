"""The backtest's sums do not depend on how many processes replay: the worker processes'
parts are merged in the order of the histories."""

from __future__ import annotations

import datetime as dt

from escalation.engine import Escalate, RuleSpec, Trigger
from lab.backtest import CHUNK, KEPT_DIFFERENCES, Backtest
from lab.replay import Config, History, PolicySpec, Step, TargetSpec
from sla.clock import ALWAYS_OPEN

H = dt.timedelta(hours=1)
START = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
UNTIL = START + dt.timedelta(days=30)


def config(threshold: dt.timedelta) -> Config:
    rules = (
        RuleSpec(
            id=1,
            order=10,
            trigger=Trigger.NO_PROGRESS,
            threshold=threshold,
            escalate=Escalate.HIERARCHICAL,
        ),
        RuleSpec(id=2, order=20, trigger=Trigger.SLA_WARNING, notify=True),
    )
    targets = {p: {"resolution": TargetSpec(10 * H * p, 7.5 * H * p)} for p in (1, 2, 3, 4)}
    policy = PolicySpec(name="Standard", order=1, calendar=ALWAYS_OPEN, targets=targets)
    return Config(
        rules=rules,
        policies=(policy,),
        up={1: 2, 2: 3, 3: None},
        level_of={1: 1, 2: 2, 3: 3},
        team_names={1: "First", 2: "Second", 3: "Third"},
    )


def histories(count: int) -> list[History]:
    # Varied on purpose: the n-th ticket gets progress after n % 7 hours and ends after n % 50.
    result = []
    for n in range(count):
        created = START + dt.timedelta(minutes=37 * n)
        steps = [Step(created + (n % 7 + 1) * H, "progress")]
        steps.append(Step(created + (n % 50 + 2) * H, "end"))
        result.append(
            History(
                ticket_id=n,
                reference=f"HD-{n}",
                created_at=created,
                priority=n % 4 + 1,
                team_id=1,
                steps=tuple(steps),
            )
        )
    return result


def test_worker_processes_give_the_same_result_as_replaying_in_place():
    batch = histories(4 * CHUNK + 17)  # several chunks, the last one short
    in_place = Backtest(live=config(4 * H), draft=config(2 * H), until=UNTIL)
    in_place.add(batch)
    parallel = Backtest(live=config(4 * H), draft=config(2 * H), until=UNTIL)
    parallel.start_processes(2)
    assert parallel.pool is not None
    try:
        parallel.add(batch)
    finally:
        parallel.stop_processes()
    expected = in_place.result()
    assert expected["differing"] > KEPT_DIFFERENCES  # the kept ones are cut in order
    kept = [d["ticket"] for d in expected["differences"]]
    assert len(kept) == KEPT_DIFFERENCES and kept == sorted(kept)
    assert parallel.result() == expected
