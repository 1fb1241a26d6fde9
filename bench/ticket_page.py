"""Benchmark of the ticket page on PostgreSQL (not a test: it prints figures).

Seeds a fresh database with N tickets (bulk rows) and one ticket worked through the services:
replies, notes, a follow, an SLA policy's clock and an escalation to the 2nd level, so the
page shows a real timeline, SLA panel, escalation panel and every action form. Then it
renders that ticket's page through Django's test client (the full middleware stack, no
network) for an agent of the owning team, and prints the median and p95 server time and the
SQL statements per page.

Usage: python bench/ticket_page.py [--tickets 3000] [--runs 40] [--reuse] [--debug-off]
(`--debug-off`: as in production; the peer's page is measured with DEBUG off.)
Database: BENCH_TICKET_PAGE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/helpdesk_bench_ticket_page (dropped and created anew).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sweep import QueryCounter, debug_off, recreate_database, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_ticket_page"


def seed(total: int):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from escalation import services as escalation_services
    from escalation.handoff import Package
    from tickets import services
    from tickets.models import SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    call_command("migrate", verbosity=0)
    User = get_user_model()
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    lead2 = User.objects.create_user("lead2", password="x", first_name="Lee")  # noqa: S106
    team2 = Team.objects.create(name="Bench 2nd level", level=level2, lead=lead2)
    team2.members.add(lead2)
    agent = User.objects.create_user("agent1", password="x", first_name="Ada")  # noqa: S106
    team1 = Team.objects.create(name="Bench desk", level=level1, escalates_to=team2, lead=agent)
    team1.members.add(agent, *[User.objects.create_user(f"member{i}") for i in range(8)])
    now = timezone.now()
    for start in range(0, total, 5000):
        size = min(5000, total - start)
        Ticket.objects.bulk_create(
            [
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {start + i}",
                    team=team1 if i % 2 else team2,
                    level=level1 if i % 2 else level2,
                    created_at=now,
                    updated_at=now,
                    cycle_started_at=now,
                )
                for i, ref in enumerate(allocate_references(2026, size))
            ]
        )
    ticket = services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject="Mail server down", description="Nobody gets mail.", team=team1
        ),
    )
    for i in range(10):
        services.ticket_reply(ticket=ticket, actor=agent, body=f"Reply {i}")
        services.ticket_add_note(ticket=ticket, actor=agent, body=f"Note {i}")
    services.ticket_follow(ticket=ticket, actor=agent, follow=True)
    ticket.refresh_from_db()
    escalation_services.escalation_raise(
        ticket=ticket,
        actor=agent,
        kind="hierarchical",
        reason="Needs the experts",
        package=Package(summary="Mail down", actions_taken="Restarted it"),
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    # The agent stays a mover: leads of the level above may move the ticket as well.
    return lead2, Ticket.objects.get(pk=ticket.pk)


def reused():
    """What `seed` returned, read back from the data set of an earlier run."""
    from django.contrib.auth import get_user_model

    from tickets.models import Ticket

    return get_user_model().objects.get(username="lead2"), Ticket.objects.get(
        subject="Mail server down"
    )


def measure(user, ticket, runs: int) -> tuple[list[float], int, float]:
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = ticket.get_absolute_url()
    for _ in range(5):  # warm up templates, translations, the calendar cache
        warm = client.get(url)
        assert warm.status_code == 200, (warm.status_code, warm.get("Location"))
    timings = []
    cpu = []
    counter = QueryCounter()
    for i in range(runs):
        counter.count = 0
        with connection.execute_wrapper(counter):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, response.status_code
        if i == 0:
            queries = counter.count
    return timings, queries, statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the data set of the last run again"
    )
    parser.add_argument(
        "--debug-off", action="store_true", help="DEBUG off, as in production (default: on)"
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_TICKET_PAGE_DATABASE_URL", DEFAULT_URL)
    if not args.reuse:
        recreate_database(url)
    if args.debug_off:
        debug_off()
    # As `make bench` runs it (DEMO=true DEBUG=true: no collected static files needed).
    os.environ.setdefault("DEBUG", "true")
    setup_django(url)
    user, ticket = reused() if args.reuse else seed(args.tickets)
    timings, queries, cpu = measure(user, ticket, args.runs)
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    from tickets.models import Ticket

    print(
        f"ticket page, {Ticket.objects.count():,} tickets, {args.runs} runs: "
        f"median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, {queries} queries, "
        f"CPU {cpu:.1f} ms (this process), DEBUG {'off' if args.debug_off else 'on'}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
