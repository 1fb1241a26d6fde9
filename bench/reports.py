"""Benchmark of the reports page on PostgreSQL (not a test: it prints figures).

Seeds a fresh database set-based (bulk_create) with N tickets created evenly over the last 12
months across four tier teams (two levels): two thirds resolved (first response after 10-130
minutes, resolution after 2-50 hours, each with its first-response and resolution clock
segments in business seconds), one in six escalated and acknowledged (one in four of those
handed back), a rating for one resolved ticket in five, a service and customer on every
ticket (so recurrence has work to do). Then measures the server time of the whole reports
page for the last 12 months (the KPI cards for it and the 12 months before, and every table)
in-process with the test client, for an admin and for a team lead, and the XLSX of it: median
and p95 over `--runs` requests after a warm-up, and the queries of one request. First the
admin's whole page from the rows alone (no rollups), then the daily rollups are written
(`manage.py roll_up_reports`, timed) and every page measured again. The load average is
printed beside the figures, and the CPU time of a request (this process and its PostgreSQL
backend), which does not grow with the machine's load as the wall time does.

Usage: python bench/reports.py [--tickets 100000] [--runs 7] [--full] [--reuse]
Database: BENCH_REPORTS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/helpdesk_bench_reports (dropped and created anew).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import QueryCounter, recreate_database, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_reports"
TARGET_MS = 500
TARGET_FULL_MS = 1000
BATCH = 5000


def seed(total: int, now: dt.datetime) -> dict[str, object]:
    """The data set, written set-based: a few statements per 5,000 tickets."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from escalation.models import Escalation
    from portal.models import Rating
    from sla.models import ClockSegment, SLAPolicy
    from tickets.models import Customer, Service, SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    User = get_user_model()
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    admin = User.objects.create_user("admin", password="x", is_superuser=True)  # noqa: S106
    lead = User.objects.create_user("lead", password="x")  # noqa: S106
    top = [Team.objects.create(name=f"Experts {n}", level=level2, lead=lead) for n in range(2)]
    desks = [
        Team.objects.create(name=f"Desk {n}", level=level1, escalates_to=top[n % 2])
        for n in range(2)
    ]
    customers = Customer.objects.bulk_create(Customer(name=f"Customer {n}") for n in range(500))
    services = [Service.objects.create(name=f"Service {n}", owning_team=top[0]) for n in range(8)]
    policy = SLAPolicy.objects.select_related("calendar").order_by("order").first()
    minute, hour = dt.timedelta(minutes=1), dt.timedelta(hours=1)
    span = 365 * 24 * 60  # minutes in the 12 months
    for start in range(0, total, BATCH):
        size = min(BATCH, total - start)
        tickets = []
        for i, ref in enumerate(allocate_references(2026, size)):
            n = start + i
            created = now - (span - n * span // total) * minute
            resolved = n % 3 != 0 and created + (2 + n % 49) * hour < now
            team = desks[n % 2] if n % 6 else top[n % 2]
            tickets.append(
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {n}",
                    team=team,
                    level=team.level,
                    customer=customers[n % len(customers)],
                    service=services[n % len(services)],
                    priority=1 + n % 4,
                    status=Ticket.Status.RESOLVED if resolved else Ticket.Status.OPEN,
                    sla_policy=policy,
                    created_at=created,
                    updated_at=created,
                    first_responded_at=created + (10 + n % 121) * minute,
                    first_response_due_at=created + 4 * hour,
                    first_response_breached_at=created + 4 * hour if n % 50 == 0 else None,
                    resolution_due_at=created + 30 * hour,
                    resolution_breached_at=created + 30 * hour if n % 13 == 0 else None,
                    resolved_at=created + (2 + n % 49) * hour if resolved else None,
                )
            )
        tickets = Ticket.objects.bulk_create(tickets)
        segments, escalations, ratings = [], [], []
        for t in tickets:
            n = int(t.subject.rsplit(" ", 1)[1])
            answered = t.first_responded_at
            segments.append(
                ClockSegment(
                    ticket=t,
                    target="first_response",
                    state="running",
                    reason="created",
                    end_reason="responded",
                    started_at=t.created_at,
                    ended_at=answered,
                    business_seconds=int((answered - t.created_at).total_seconds() * 0.6),
                )
            )
            if t.resolved_at:
                segments.append(
                    ClockSegment(
                        ticket=t,
                        target="resolution",
                        state="running",
                        reason="created",
                        end_reason="resolved",
                        started_at=t.created_at,
                        ended_at=t.resolved_at,
                        business_seconds=int((t.resolved_at - t.created_at).total_seconds() * 0.4),
                    )
                )
                if n % 5 == 0:
                    ratings.append(
                        Rating(
                            ticket=t,
                            resolution=0,
                            score=1 + n % 5,
                            comment="Slow" if n % 10 == 0 else "",
                            escalated=n % 6 == 1,
                            created_at=t.resolved_at + hour,
                        )
                    )
            if n % 6 == 1:
                desk, expert = t.team, top[n % 2]
                raised = t.created_at + hour
                escalations.append(
                    Escalation(
                        ticket=t,
                        kind=Escalation.Kind.HIERARCHICAL,
                        status=Escalation.Status.ACKNOWLEDGED,
                        cycle=1,
                        trigger=["", "sla_breach", "no_progress", "severity"][n % 4],
                        from_team=desk,
                        to_team=expert,
                        from_level=level1,
                        to_level=level2,
                        raised_at=raised,
                        ack_due_at=raised + 30 * minute,
                        acknowledged_at=raised + (5 + n % 50) * minute,
                        summary="Down",
                        actions_taken="Restarted",
                    )
                )
                if n % 4 == 1:
                    escalations.append(
                        Escalation(
                            ticket=t,
                            kind=Escalation.Kind.DE_ESCALATION,
                            status=Escalation.Status.CLOSED,
                            cycle=2,
                            from_team=expert,
                            to_team=desk,
                            from_level=level2,
                            to_level=level1,
                            raised_at=raised + 2 * hour,
                            reason="Known issue",
                        )
                    )
        ClockSegment.objects.bulk_create(segments, batch_size=BATCH)
        Escalation.objects.bulk_create(escalations, batch_size=BATCH)
        Rating.objects.bulk_create(ratings, batch_size=BATCH)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"admin": admin, "lead": lead}


def server_cpu() -> float:
    """CPU seconds the PostgreSQL backend of this connection has used (the server runs on this
    machine: its /proc entry), or 0.0 when it cannot be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(client, url: str, runs: int) -> tuple[float, float, int, float]:
    """Median and p95 milliseconds of `runs` requests (after a warm-up), the queries of one
    request, and the median CPU milliseconds of a request (this process and its PostgreSQL
    backend: on a loaded machine the wall time waits for a core, the CPU time does not)."""
    from django.db import connection

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    times, cpu = [], []
    for _ in range(runs):
        start, started_cpu, started_server = time.perf_counter(), time.process_time(), server_cpu()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - started_cpu + server_cpu() - started_server) * 1000)
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        client.get(url)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, counter.count, statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--full", action="store_true", help="1,000,000 tickets, target 1 s")
    parser.add_argument("--reuse", action="store_true", help="measure the last data set again")
    args = parser.parse_args()
    total = args.tickets or (1_000_000 if args.full else 100_000)
    target = TARGET_FULL_MS if args.full else TARGET_MS
    url = os.environ.get("BENCH_REPORTS_DATABASE_URL", DEFAULT_URL)
    if not args.reuse:
        recreate_database(url)
    setup_django(url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    connection.close()
    call_command("migrate", verbosity=0)
    now = timezone.now()
    if args.reuse:
        users = get_user_model().objects.in_bulk(["admin", "lead"], field_name="username")
    else:
        started = time.perf_counter()
        users = seed(total, now)
        print(f"seeded {total:,} tickets in {time.perf_counter() - started:.1f} s", flush=True)
    today = timezone.localdate()
    period = f"preset=custom&start={today - dt.timedelta(days=364)}&end={today}"
    from reporting.models import DailyRollup, RolledDay

    results = []
    if not RolledDay.objects.exists():
        client = Client(HTTP_HOST="localhost")
        client.force_login(users["admin"])
        median, p95, queries, cpu = measure(client, f"/reports/?{period}", args.runs)
        load = os.getloadavg()[0]
        results.append(("admin", "reports, 12 months, no rollups", median, p95, queries, cpu, load))
        print(f"  admin  whole page from the rows  {median:7.1f} ms  load {load:.2f}", flush=True)
        started = time.perf_counter()
        call_command("roll_up_reports", stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(
            f"rolled up {RolledDay.objects.count()} days ({DailyRollup.objects.count():,} rows) "
            f"in {time.perf_counter() - started:.1f} s, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    pages = [
        ("reports, 12 months", f"/reports/?{period}"),
        ("reports, 12 months, level 2", f"/reports/?{period}&level=2"),
        ("XLSX, 12 months", f"/reports/report.xlsx?{period}"),
    ]
    for who in ("admin", "lead"):
        client = Client(HTTP_HOST="localhost")
        client.force_login(users[who])
        for name, page in pages:
            median, p95, queries, cpu = measure(client, page, args.runs)
            load = os.getloadavg()[0]
            results.append((who, name, median, p95, queries, cpu, load))
            print(
                f"  {who:<6} {name:<28} {median:7.1f} ms  p95 {p95:7.1f} ms  {queries:3d} "
                f"queries  cpu {cpu:7.1f} ms  load {load:.2f}",
                flush=True,
            )
    connection.close()
    print(
        f"\nReports page, {total:,} tickets over 12 months on PostgreSQL; the whole page for 12 "
        f"months (and the 12 before); server time in-process, target ≤ {target} ms"
    )
    print(f"{'who':<6} {'page':<32} {'median':>9} {'p95':>9} {'queries':>8} {'cpu':>9} {'load':>6}")
    for who, name, median, p95, queries, cpu, load in results:
        flag = "" if median <= target else "  over target"
        print(
            f"{who:<6} {name:<32} {median:7.1f}ms {p95:7.1f}ms {queries:8d} {cpu:7.1f}ms "
            f"{load:6.2f}{flag}"
        )


if __name__ == "__main__":
    main()
