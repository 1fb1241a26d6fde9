"""Benchmark of the escalation dashboard and the ticket list on PostgreSQL (not a test: it
prints figures).

Seeds a fresh database set-based (bulk_create) with N tickets across two levels and five
teams, of which 2,000 are at risk (warning passed, deadline ahead), 300 breached and 500
escalated and waiting for acknowledgement, plus 30 days of history for the trends (resolved
tickets, acknowledged escalations). Then measures the server time of each page in-process with
the test client — the whole dashboard, each of its live fragments (the services strip among
them: twelve services, two not operational), and the ticket list with filters — for an admin
(sees everything) and the lead of a 2nd-level team: median and p95 over `--runs` requests
after a warm-up, the number of SQL queries of one request, the median CPU time the request
took in this process (Python: selectors, ORM, templates; the database's own time is not in it),
and the load average beside them. On a busy machine the wall time is mostly waiting for a core:
the CPU time says what the page itself costs.
The SLA instants are spread over hours and days as in a real queue, so the planner's
statistics look like production's rather than a handful of identical values.

Usage: python bench/pages.py [--tickets 100000] [--runs 15] [--reuse] [--debug-off]
`make bench` runs with DEBUG on (templates are slower with it); `--debug-off` measures as in
production (DEBUG off, no HTTPS redirect for the in-process client).
Database: BENCH_PAGES_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/helpdesk_bench_pages (dropped and created anew).
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

from sweep import QueryCounter, debug_off, recreate_database, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_pages"
AT_RISK = 2_000
BREACHED = 300
ESCALATED = 500
TARGET_MS = 200


def seed(total: int, now: dt.datetime) -> dict[str, object]:
    """The data set, written set-based: a few statements per 5,000 tickets."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from escalation.models import Escalation
    from sla.models import SLAPolicy
    from tickets.models import Customer, Service, SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    User = get_user_model()
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    admin = User.objects.create_user("admin", password="x", is_superuser=True)  # noqa: S106
    lead = User.objects.create_user("lead", password="x", first_name="Lena")  # noqa: S106
    agents = [User.objects.create_user(f"agent{n}", password="x") for n in range(20)]  # noqa: S106
    top = [Team.objects.create(name=f"Experts {n}", level=level2, lead=lead) for n in range(2)]
    for n, team in enumerate(top):
        team.members.add(*agents[n * 5 : n * 5 + 5])
    desks = [
        Team.objects.create(name=f"Desk {n}", level=level1, escalates_to=top[n % 2])
        for n in range(3)
    ]
    for n, team in enumerate(desks):
        team.members.add(*agents[10 + n * 3 : 13 + n * 3])
    customers = Customer.objects.bulk_create(
        Customer(name=f"Customer {n}", tier=["standard", "premium", "enterprise"][n % 3])
        for n in range(50)
    )
    policy = SLAPolicy.objects.select_related("calendar").order_by("order").last()
    teams = [*desks, *top]
    hour = dt.timedelta(hours=1)
    batch = 5000
    made = 0
    for start in range(0, total, batch):
        size = min(batch, total - start)
        rows = []
        for i, ref in enumerate(allocate_references(2026, size)):
            n = start + i
            team = teams[n % len(teams)]
            created = now - dt.timedelta(minutes=n % (60 * 24 * 30))
            fields: dict[str, object] = {}
            minutes = dt.timedelta(minutes=n % 180)
            if n < AT_RISK:
                fields = {
                    "resolution_due_at": now + hour + minutes,
                    "resolution_warning_at": now - minutes,
                }
            elif n < AT_RISK + BREACHED:
                fields = {
                    "resolution_due_at": now - minutes,
                    "resolution_breached_at": now - minutes,
                }
            elif n % 3 == 0:
                fields = {"status": Ticket.Status.RESOLVED, "resolved_at": created + 4 * hour}
            else:
                due = now + (30 + n % 500) * hour + minutes
                fields = {"resolution_due_at": due, "resolution_warning_at": due - 10 * hour}
            rows.append(
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {n}",
                    team=team,
                    level=team.level,
                    customer=customers[n % len(customers)],
                    priority=1 + n % 4,
                    assignee=agents[n % len(agents)] if n % 4 else None,
                    status=fields.pop("status", Ticket.Status.OPEN),
                    sla_policy=policy,
                    created_at=created,
                    updated_at=created,
                    **fields,
                )
            )
        Ticket.objects.bulk_create(rows)
        made += size
    # Escalations: 500 waiting (tickets now with a 2nd-level team), 3,000 acknowledged over the
    # last 30 days for the trend of time to acknowledge.
    waiting_tickets = list(
        Ticket.objects.filter(team__in=top, status=Ticket.Status.OPEN).order_by("pk")[:ESCALATED]
    )
    history = list(Ticket.objects.filter(team__in=top).order_by("-pk")[:3000])
    rows = [
        Escalation(
            ticket=t,
            kind=Escalation.Kind.HIERARCHICAL,
            status=Escalation.Status.RAISED,
            cycle=1,
            from_team=desks[0],
            to_team=t.team,
            from_level=level1,
            to_level=level2,
            raised_at=now - dt.timedelta(minutes=n % 90),
            ack_due_at=now + dt.timedelta(minutes=30 - n % 90),
            summary="Down",
            actions_taken="Restarted",
        )
        for n, t in enumerate(waiting_tickets)
    ]
    rows += [
        Escalation(
            ticket=t,
            kind=Escalation.Kind.HIERARCHICAL,
            status=Escalation.Status.ACKNOWLEDGED,
            cycle=0,
            from_team=desks[0],
            to_team=t.team,
            from_level=level1,
            to_level=level2,
            raised_at=now - dt.timedelta(hours=n % (24 * 30)),
            ack_due_at=now - dt.timedelta(hours=n % (24 * 30)) + 30 * dt.timedelta(minutes=1),
            acknowledged_at=now
            - dt.timedelta(hours=n % (24 * 30))
            + dt.timedelta(minutes=5 + n % 40),
            summary="Down",
            actions_taken="Restarted",
        )
        for n, t in enumerate(history)
    ]
    Escalation.objects.bulk_create(rows, batch_size=2000)
    # The services strip: a catalogue of twelve services, two of them not operational.
    Service.objects.bulk_create(
        Service(
            name=f"Bench service {n}",
            status=["outage", "degraded"][n] if n < 2 else "operational",
            status_changed_at=now - hour if n < 2 else None,
        )
        for n in range(12)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"admin": admin, "lead": lead, "team": top[0], "level": level2}


def measure(client, url: str, runs: int) -> tuple[float, float, int, float]:
    """Median and p95 milliseconds of `runs` requests (after two warm-ups), the queries of one
    request, and the median CPU milliseconds of this process per request."""
    from django.db import connection

    for _ in range(2):
        response = client.get(url, HTTP_HX_REQUEST="true" if "/live/" in url else "")
        assert response.status_code == 200, (url, response.status_code)
    times = []
    cpu = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        client.get(url, **({"HTTP_HX_REQUEST": "true"} if "/live/" in url else {}))
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        client.get(url)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, counter.count, statistics.median(cpu)


def reused() -> dict[str, object]:
    """What `seed` returned, read back from the data set of an earlier run."""
    from django.contrib.auth import get_user_model

    from tickets.models import Team

    users = get_user_model().objects.in_bulk(["admin", "lead"], field_name="username")
    team = Team.objects.get(name="Experts 0")
    return {"admin": users["admin"], "lead": users["lead"], "team": team, "level": team.level}


Result = tuple[str, str, float, float, int, float, float]


def run(total: int, runs: int, *, reuse: bool = False) -> list[Result]:
    from django.test import Client
    from django.utils import timezone

    now = timezone.now()
    start = time.perf_counter()
    seeded = reused() if reuse else seed(total, now)
    if not reuse:
        print(f"seeded {total:,} tickets in {time.perf_counter() - start:.1f} s", flush=True)
    team, level = seeded["team"].pk, seeded["level"].pk
    pages = [
        ("dashboard", "/dashboard/"),
        ("dashboard, filtered", f"/dashboard/?level={level}&priority=2&tier=enterprise"),
        ("fragment: services", "/dashboard/live/services/"),
        ("fragment: needs a human", "/dashboard/live/needs/"),
        ("fragment: at risk/breached", "/dashboard/live/late/"),
        ("fragment: load", "/dashboard/live/load/"),
        ("ticket list", "/tickets/"),
        ("ticket list, filtered", f"/tickets/?status=open&priority=2&team={team}&sla=at_risk"),
        ("ticket list, due soonest", "/tickets/?status=open&sort=due"),
    ]
    results = []
    for who in ("admin", "lead"):
        client = Client(HTTP_HOST="localhost")
        client.force_login(seeded[who])
        for name, url in pages:
            median, p95, queries, cpu = measure(client, url, runs)
            load = os.getloadavg()[0]
            results.append((who, name, median, p95, queries, cpu, load))
            print(
                f"  {who:<6} {name:<28} {median:7.1f} ms  p95 {p95:7.1f} ms  {queries:3d} queries"
                f"  cpu {cpu:6.1f} ms  load {load:.1f}",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the data set of the last run again"
    )
    parser.add_argument(
        "--debug-off", action="store_true", help="DEBUG off, as in production (default: on)"
    )
    args = parser.parse_args()
    if args.debug_off:
        debug_off()
    url = os.environ.get("BENCH_PAGES_DATABASE_URL", DEFAULT_URL)
    if not args.reuse:
        recreate_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    connection.close()
    call_command("migrate", verbosity=0)
    results = run(args.tickets, args.runs, reuse=args.reuse)
    connection.close()
    print(
        f"\nDashboard and ticket list, {args.tickets:,} tickets on PostgreSQL "
        f"({AT_RISK:,} at risk, {BREACHED} breached, {ESCALATED} escalated and waiting); "
        f"server time in-process, target ≤ {TARGET_MS} ms"
    )
    # Server time on a shared machine includes waiting for a core: the load average (1 min)
    # beside each figure says how busy the machine was while it was taken.
    print(f"DEBUG {'off' if args.debug_off else 'on'}")
    print(f"{'who':<6} {'page':<28} {'median':>9} {'p95':>9} {'queries':>8} {'cpu':>9} {'load':>5}")
    slow = 0
    for who, name, median, p95, queries, cpu, load in results:
        flag = "" if p95 <= TARGET_MS else "  over target"
        slow += p95 > TARGET_MS
        print(
            f"{who:<6} {name:<28} {median:7.1f}ms {p95:7.1f}ms {queries:8d} {cpu:7.1f}ms"
            f" {load:5.1f}{flag}"
        )
    if slow:
        print(f"{slow} page(s) over {TARGET_MS} ms at p95")


if __name__ == "__main__":
    main()
