"""Benchmark of the alert intake on PostgreSQL (not a test: it prints figures).

Posts alerts to `POST /api/v1/alerts/` in-process (DRF's APIClient: the whole request path —
integration-token authentication, validation, deduplication under the group's row lock, the
ticket services with SLA and engine evaluation — but no HTTP server), half of them new keys
(each opens a ticket) and half repeats of open keys (each adds to its ticket):
  * one alert per request, generic format;
  * Alertmanager notifications of 10 alerts each;
  * for comparison, repeats only (the deduplication path alone).
Target: at least 200 alerts per second.

Usage: python bench/alerts.py [--alerts 2000] [--profile DIR]
With --profile, each shape's requests also run under pyinstrument (not a dependency of the
project: install it beside it) and its call tree is written to DIR/alerts-<shape>.txt; the
figures of such a run include the profiler's cost.
Database: BENCH_ALERTS_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helpdesk_bench_alerts
(dropped and created anew).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sweep as sweep_bench  # noqa: E402 - bench/ is on the path as the script's folder

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_alerts"
TARGET = 200.0


def setup_django(url: str) -> None:
    os.environ["ALLOWED_HOSTS"] = "testserver"  # APIClient's host
    sweep_bench.setup_django(url)


def keys_half_repeats(count: int, seed: int) -> list[str]:
    """`count` keys: every other one new, the rest repeats of a key seen before."""
    rng = random.Random(seed)
    seen: list[str] = []
    keys = []
    for n in range(count):
        if n % 2 == 0 or not seen:
            key = f"bench-{seed}-{n}"
            seen.append(key)
        else:
            key = rng.choice(seen)
        keys.append(key)
    return keys


def generic(key: str) -> dict:
    return {
        "dedup_key": key,
        "action": "trigger",
        "summary": f"Latency high ({key})",
        "severity": "warning",
        "labels": {"instance": key},
    }


def alertmanager(keys: list[str]) -> dict:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="Bench"}',
        "status": "firing",
        "receiver": "helpdesk",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Bench", "severity": "warning", "instance": key},
                "annotations": {"summary": f"Latency high ({key})"},
                "startsAt": "2026-12-07T06:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": key,
            }
            for key in keys
        ],
    }


class Profiled:
    """pyinstrument around a block when `folder` is given; its call tree written to a file."""

    def __init__(self, folder: Path | None, name: str) -> None:
        self.folder, self.name, self.profiler = folder, name, None

    def __enter__(self) -> None:
        if self.folder is not None:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.001)
            self.profiler.start()

    def __exit__(self, *exc: object) -> None:
        if self.profiler is not None:
            self.profiler.stop()
            self.folder.mkdir(parents=True, exist_ok=True)
            out = self.folder / f"alerts-{self.name}.txt"
            out.write_text(self.profiler.output_text(unicode=False, show_all=False))
            print(f"profile: {out}")


def run(count: int, profile: Path | None = None) -> list[tuple[str, int, float, float, int, float]]:
    from django.db import connection
    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    from integrations import services
    from integrations.models import Integration
    from tickets.models import SupportLevel, Team, Ticket

    SimpleRateThrottle.THROTTLE_RATES["alerts"] = "1000000/second"  # measure, do not throttle
    level = SupportLevel.objects.order_by("rank").first() or SupportLevel.objects.create(
        rank=1, name="1st level"
    )
    team = Team.objects.create(name="Bench on call", level=level)
    integration = Integration(name="Bench", team=team)
    secret = services.integration_save(integration=integration)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    rows = []
    counter = sweep_bench.QueryCounter()
    for label, batch, seed, name in (
        ("generic, 1 alert/request", 1, 1, "generic"),
        ("Alertmanager, 10/request", 10, 2, "alertmanager"),
    ):
        keys = keys_half_repeats(count, seed)
        before = Ticket.objects.count()
        counter.count = 0
        started, cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(counter), Profiled(profile, name):
            for i in range(0, len(keys), batch):
                chunk = keys[i : i + batch]
                body = generic(chunk[0]) if batch == 1 else alertmanager(chunk)
                response = client.post("/api/v1/alerts/", body, format="json")
                if response.status_code != 200:
                    raise SystemExit(f"{response.status_code}: {response.content[:300]!r}")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        tickets = Ticket.objects.count() - before
        rows.append((label, count, elapsed, cpu, tickets, counter.count / count))
    # Only repeats of open keys: the deduplication path alone (no ticket opened).
    open_keys = keys_half_repeats(count, 1)[::2]
    counter.count = 0
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(counter), Profiled(profile, "repeats"):
        for n in range(count):
            response = client.post(
                "/api/v1/alerts/", generic(open_keys[n % len(open_keys)]), format="json"
            )
            if response.status_code != 200:
                raise SystemExit(f"{response.status_code}: {response.content[:300]!r}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows.append(("generic, repeats only", count, elapsed, cpu, 0, counter.count / count))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--profile", type=Path, help="write pyinstrument's call trees here")
    args = parser.parse_args()
    url = os.environ.get("BENCH_ALERTS_DATABASE_URL", DEFAULT_URL)
    sweep_bench.recreate_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rows = run(args.alerts, args.profile)
    print("\nAlert intake on PostgreSQL, in-process (half new keys, half repeats)")
    # CPU: this process's (Django's) CPU time per alert, which the machine's load inflates
    # far less than the wall-clock rate; PostgreSQL's own is not in it.
    header = (
        f"{'format':<26} {'alerts':>7} {'tickets':>8} {'seconds':>8} {'alerts/s':>9} "
        f"{'CPU ms/alert':>12} {'SQL/alert':>9} {'target':>7}"
    )
    print(header)
    print("-" * len(header))
    worst = None
    for label, count, elapsed, cpu, tickets, statements in rows:
        rate = count / elapsed
        worst = rate if worst is None else min(worst, rate)
        print(
            f"{label:<26} {count:>7,} {tickets:>8,} {elapsed:>8.2f} {rate:>9,.0f} "
            f"{cpu * 1000 / count:>12.1f} {statements:>9.1f} "
            f"{'ok' if rate >= TARGET else 'MISSED':>7}"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores; figures scale with it)")
    if worst is not None and worst < TARGET:
        print(f"Below the target of {TARGET:.0f} alerts/s (see the load average: `uptime`).")


if __name__ == "__main__":
    main()
