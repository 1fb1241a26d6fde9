"""Benchmark of the customer portal's ticket list on PostgreSQL (not a test: it prints figures).

Seeds organisation A with N tickets (requested by 50 of its contacts) and organisation B with
as many, then requests /portal/tickets/ through the whole Django stack (session, contact,
visibility, page, template) as:
  * a contact who sees all of A's tickets (the first page, and a page deep in the list),
  * a contact who sees only their own (about N/50 tickets).
Prints median and p95 in milliseconds and the SQL statements per request. Target: ≤ 100 ms
for the organisation-wide list at 10,000 tickets.

Usage: python bench/portal.py [--tickets 10000] [--runs 40]
Database: BENCH_PORTAL_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helpdesk_bench_portal
(dropped and created anew).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sweep  # noqa: E402 - bench/sweep.py: the database helpers

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_portal"
CONTACTS = 50


def setup_django(url: str) -> None:
    # The demo's settings (its secret key) and the test client's host.
    os.environ.setdefault("DEMO", "true")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    sweep.setup_django(url)


def seed(total: int) -> dict[str, object]:
    from django.db import connection

    from tickets.models import Contact, Customer, SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    level1 = SupportLevel.objects.get(rank=1)
    team = Team.objects.create(name="Service desk", level=level1)
    now = dt.datetime.now(dt.UTC)
    result: dict[str, object] = {}
    for org_name in ("A", "B"):
        org = Customer.objects.create(name=f"Organisation {org_name}")
        contacts = Contact.objects.bulk_create(
            Contact(customer=org, name=f"{org_name} {n}", email=f"c{n}@{org_name.lower()}.example")
            for n in range(CONTACTS)
        )
        batch = 5000
        for start in range(0, total, batch):
            size = min(batch, total - start)
            refs = allocate_references(2026, size)
            Ticket.objects.bulk_create(
                Ticket(
                    reference=ref,
                    subject=f"Portal bench ticket {start + i}",
                    team=team,
                    level=level1,
                    customer=org,
                    requester=contacts[(start + i) % CONTACTS],
                    status=("new", "open", "pending", "resolved", "closed")[(start + i) % 5],
                    channel="portal",
                    created_at=now - dt.timedelta(minutes=start + i),
                    updated_at=now,
                )
                for i, ref in enumerate(refs)
            )
        result[org_name] = contacts
    wide = result["A"][0]
    wide.sees_organisation_tickets = True
    wide.save()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"wide": wide, "own": result["A"][1]}


def measure(contact, url: str, runs: int) -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal.session import CHECK_KEY, CONTACT_KEY, contact_check

    client = Client()
    session = client.session
    session[CONTACT_KEY] = contact.pk
    session[CHECK_KEY] = contact_check(contact)
    session.save()
    client.cookies["sessionid"] = session.session_key
    assert client.get(url).status_code == 200  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    times.sort()
    return {
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[max(int(len(times) * 0.95) - 1, 0)] * 1000,
        "queries": len(queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    url = os.environ.get("BENCH_PORTAL_DATABASE_URL", DEFAULT_URL)
    sweep.recreate_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    people = seed(args.tickets)
    seed_seconds = time.perf_counter() - start
    cases = [
        ("organisation-wide, page 1", people["wide"], "/portal/tickets/?state=all"),
        ("organisation-wide, open", people["wide"], "/portal/tickets/"),
        ("organisation-wide, page 300", people["wide"], "/portal/tickets/?state=all&page=300"),
        ("own tickets only, page 1", people["own"], "/portal/tickets/?state=all"),
    ]
    print(
        f"\nPortal ticket list on PostgreSQL: organisation A with {args.tickets:,} tickets "
        f"(and B with as many); seeded in {seed_seconds:.1f} s; {args.runs} requests each"
    )
    print(f"{'case':<30} {'median ms':>10} {'p95 ms':>8} {'SQL/request':>12}")
    worst = 0.0
    for label, contact, path in cases:
        figures = measure(contact, path, args.runs)
        worst = max(worst, figures["median_ms"]) if "page 1" in label else worst
        print(
            f"{label:<30} {figures['median_ms']:>10.1f} {figures['p95_ms']:>8.1f} "
            f"{figures['queries']:>12}"
        )
    print(
        f"target: ≤ 100 ms for the organisation-wide list ({'met' if worst <= 100 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
