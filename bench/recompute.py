"""Benchmark of recomputing SLA clocks after a configuration change (prints figures).

Seeds N tickets on PostgreSQL, the open ones (about 20 %, as in the demo scaled up) opened in
the last hours with a policy and running clock segments, lengthens the policy's targets by
half (the usual change: a contract renegotiated; nothing new breaches), and recomputes every
open ticket: in committed batches through the sweep's set-based lane
(`escalation.recompute`, what `manage.py recompute_sla` runs), and, for the ratio, one ticket
at a time (`sla_recompute`) on a sample.

It prints tickets per second (wall), the process's CPU time (the database server's is not in
it), the statements per batch, and the load average: on a busy machine the wall time mostly
waits for a core, so judge a change by CPU time and statements.

Usage: python bench/recompute.py [--tickets 100000] [--sample 300] [--batch 500] [--runs 1]
[--profile]
(`--runs N`: N recomputations from one seed, the targets lengthened by half, then back, and so
on: every run moves every open ticket's deadlines and nothing new comes due, so the runs do the
same work; `--profile`: each batched run under cProfile, its 30 costliest functions printed
after, by own time and by cumulative time.)
Database: BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helpdesk_bench_recompute
(dropped and created anew).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sweep import recreate_database, setup_django  # noqa: E402 - bench/ is this script's folder

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_recompute"


def seed(total: int, now: dt.datetime) -> list[int]:
    from django.core.management import call_command
    from django.db import connection

    from sla.models import ClockSegment, SLAPolicy
    from tickets.models import SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    call_command("migrate", verbosity=0)
    policy = SLAPolicy.objects.filter(is_active=True).order_by("order").first()
    level1 = SupportLevel.objects.get(rank=1)
    team = Team.objects.create(name="Service desk", level=level1)
    rng = random.Random(11)
    batch = 5000
    for start in range(0, total, batch):
        size = min(batch, total - start)
        refs = allocate_references(now.year, size)
        rows = []
        for i, ref in enumerate(refs):
            created = now - dt.timedelta(minutes=rng.randint(5, 60))
            is_open = (start + i) % 5 == 0
            rows.append(
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {start + i}",
                    team=team,
                    level=level1,
                    status="open" if is_open else "closed",
                    priority=rng.choices([1, 2, 3, 4], [1, 10, 50, 39])[0],
                    sla_policy=policy if is_open else None,
                    created_at=created,
                    updated_at=created,
                    cycle_started_at=created,
                    next_check_at=created if is_open else None,
                )
            )
        tickets = Ticket.objects.bulk_create(rows)
        ClockSegment.objects.bulk_create(
            [
                ClockSegment(
                    ticket=t,
                    target=target,
                    state="running",
                    reason="created",
                    started_at=t.created_at,
                )
                for t in tickets
                if t.status == "open"
                for target in ("first_response", "resolution")
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    # The engine looks at every ticket once, as it would have when they were opened (rules
    # that fire on creation, deadlines and next checks): the state a live desk is in.
    from escalation.sweep import sweep

    sweep(now=now)
    change_targets(3 / 2)
    return list(Ticket.objects.active().order_by("pk").values_list("pk", flat=True))


def change_targets(factor: float) -> None:
    """Every target of the policy the open tickets have, first response and resolution, times
    `factor`; then the writes settled. Lengthened by half, nothing new comes due; shortened
    back to the seed's targets, nothing either (what was due then is recorded already): each
    run moves every open ticket's deadlines, with the same work."""
    from django.db import connection

    from sla.models import SLAPolicy

    policy = SLAPolicy.objects.filter(is_active=True).order_by("order").first()
    for target in policy.targets.all():
        target.first_response = target.first_response * factor
        target.resolution = target.resolution * factor
        target.save()
    # The seed's and the sweep's writes settled and flushed first: otherwise the measured run
    # shares the two cores with autovacuum and the checkpointer writing them out (on this
    # machine that halved the figure, whatever the code did).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")  # the bench's role is a superuser, as in CI


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--batch", type=int, default=None, help="tickets per batch (setting)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="recompute this many times from one seed (the targets lengthened, then back, ...)",
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    setup_django(url)
    from django.conf import settings
    from django.db import transaction

    from sla.services import sla_recompute_many_alone

    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    ids = seed(args.tickets, now)
    print(
        f"seeded {args.tickets:,} tickets ({len(ids):,} open) in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )

    sample = ids[: args.sample]
    started = time.perf_counter()
    with transaction.atomic():
        sla_recompute_many_alone(sample, now=now)
        transaction.set_rollback(True)  # the batched run below starts from the same state
    alone = len(sample) / (time.perf_counter() - started)

    batch = args.batch or settings.SLA_RECOMPUTE_BATCH
    print(f"\nSLA recomputation of every open ticket at {args.tickets:,} tickets (PostgreSQL)")
    print(f"  one at a time (sample of {len(sample)}): {alone:,.0f} tickets/s")
    for run in range(args.runs):
        if run:
            change_targets(2 / 3 if run % 2 else 3 / 2)
        measure(ids, now, batch, alone, profile=args.profile)


def measure(ids: list[int], now: dt.datetime, batch: int, alone: float, *, profile: bool) -> None:
    """One recomputation of every open ticket in batches, with its figures printed."""
    from django.db import connection

    from escalation.recompute import recompute_many

    statements = [0]

    def counting(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return execute(sql, params, many, context)

    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    with connection.execute_wrapper(counting):
        count = recompute_many(ids, now=now, batch=batch)
    if profiler is not None:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    batches = -(-len(ids) // batch)
    print(
        f"  in batches (manage.py recompute_sla): {count:,} tickets in {elapsed:.1f} s "
        f"= {count / elapsed:,.0f} tickets/s (ratio {count / elapsed / alone:.1f}×)"
    )
    print(
        f"    CPU time of this process: {cpu:.2f} s ({cpu / max(count, 1) * 1000:.3f} ms a "
        f"ticket); {statements[0]:,} statements in {batches} batches of {batch} "
        f"= {statements[0] / max(batches, 1):.1f} a batch"
    )
    print(f"    load average: {' '.join(f'{n:.2f}' for n in os.getloadavg())}", flush=True)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
