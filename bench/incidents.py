"""Benchmark of major incidents on PostgreSQL (not a test: it prints figures).

  * an incident status update to 1,000 linked tickets: one public reply per ticket in its
    customer's language, its timeline entry, a webhook delivery per ticket and one email per
    customer, set-based (target ≤ 2 s); also the SQL statements it takes;
  * the wave trigger's cost per sweep with 100,000 open tickets, 300 of them recent (the
    rules from the per-process configuration cache, the read of the recent unlinked tickets
    and the pure decision; target ≤ 20 ms, median of 20 runs), and the same sweep while a
    wave flows that fired already (then the firings and the held services are read too).

Usage: python bench/incidents.py [--tickets 100000] [--linked 1000]
Database: BENCH_INCIDENTS_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/helpdesk_bench_incidents (dropped and created anew).
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

from bench.sweep import QueryCounter, recreate_database, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_incidents"


def seed(total: int, linked: int, now: dt.datetime) -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from notifications.models import WebhookEndpoint, new_webhook_secret
    from tickets.models import Contact, Customer, Service, SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    User = get_user_model()
    manager = User.objects.create_user("manager", password="x", is_superuser=True)  # noqa: S106
    level1 = SupportLevel.objects.get(rank=1)
    team = Team.objects.create(name="Service desk", level=level1)
    checkout = Service.objects.create(name="Checkout", name_de="Kasse")
    others = [Service.objects.create(name=f"Service {i}") for i in range(20)]
    customer = Customer.objects.create(name="Many customers")
    contacts = Contact.objects.bulk_create(
        [
            Contact(customer=customer, email=f"c{i}@example.com", language="de" if i % 2 else "en")
            for i in range(linked)
        ]
    )
    WebhookEndpoint.objects.create(url="https://hooks.example.com/in", secret=new_webhook_secret())
    recent = 300
    batch = 5000
    made = 0
    while made < total:
        size = min(batch, total - made)
        refs = allocate_references(2026, size)
        rows = []
        for i, ref in enumerate(refs):
            n = made + i
            if n < recent:  # the last minutes: spread over services, none reaching a wave
                created = now - dt.timedelta(seconds=2 * n)
                service = others[n % len(others)]
            else:
                created = now - dt.timedelta(minutes=30 + n % (60 * 24 * 30))
                service = others[n % len(others)] if n % 3 else None
            rows.append(
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {n} about invoices and logins",
                    team=team,
                    level=level1,
                    service=checkout if n < recent + linked and n >= recent else service,
                    requester=contacts[n - recent] if recent <= n < recent + linked else None,
                    created_at=created,
                    updated_at=created,
                    cycle_started_at=created,
                )
            )
        Ticket.objects.bulk_create(rows)
        made += size
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"manager": manager, "checkout": checkout}


def run(total: int, linked: int) -> dict[str, float]:
    from django.db import connection
    from django.utils import timezone

    from helpdesk import configcache
    from incidents import services
    from incidents.detection import WaveRuleSpec, detect
    from incidents.models import WaveFiring, WaveRule
    from incidents.updates import EMAIL_KIND
    from notifications.models import Delivery
    from tickets.models import Ticket

    now = timezone.now()
    started = time.perf_counter()
    seeded = seed(total, linked, now)
    seed_s = time.perf_counter() - started
    WaveRule.objects.update(is_active=False)  # the default rule would see the seed as a wave
    bench_rule = WaveRule.objects.create(name="bench wave", min_tickets=25, window_minutes=15)

    times: list[float] = []
    cpu_times: list[float] = []
    counter = QueryCounter()
    for _ in range(20):
        counter.count = 0
        configcache.begin_scope()  # as in the beat task: one configuration check per run
        with connection.execute_wrapper(counter):
            t, cpu = time.perf_counter(), time.process_time()
            specs = services.wave_rules()
            waves = detect(services.wave_facts(specs, now), specs, now)
            times.append((time.perf_counter() - t) * 1000)
            cpu_times.append((time.process_time() - cpu) * 1000)
        configcache.end_scope()
    wave_ms, wave_cpu_ms = statistics.median(times), statistics.median(cpu_times)
    assert waves == [], "the seed must not contain a wave"
    wave_queries = counter.count
    # A rule the recent tickets reach (15 per service), each of its waves fired already.
    flowing = [WaveRuleSpec(id=bench_rule.pk, min_tickets=10, window=dt.timedelta(minutes=15))]
    for wave in detect(services.wave_facts(flowing, now), flowing, now):
        WaveFiring.objects.create(
            rule=bench_rule, key=wave.key, fired_at=now, started_at=wave.started_at
        )
    times = []
    for _ in range(20):
        counter.count = 0
        with connection.execute_wrapper(counter):
            t = time.perf_counter()
            waves = detect(services.wave_facts(flowing, now), flowing, now)
            times.append((time.perf_counter() - t) * 1000)
    assert waves == [], "every flowing wave fired already"
    flowing_ms, flowing_queries = statistics.median(times), counter.count

    incident = services.incident_declare(
        actor=seeded["manager"],
        title="Checkout down",
        severity=1,
        manager=seeded["manager"],
        services=[seeded["checkout"]],
        now=now,
    )
    tickets = list(Ticket.objects.filter(service=seeded["checkout"]).order_by("pk")[:linked])
    t = time.perf_counter()
    services.incident_link(incident=incident, tickets=tickets, actor=seeded["manager"], now=now)
    link_s = time.perf_counter() - t
    counter.count = 0
    with connection.execute_wrapper(counter):
        t, cpu = time.perf_counter(), time.process_time()
        update = services.incident_post_update(
            incident=incident,
            actor=seeded["manager"],
            text="Our payment provider is down; no order is lost.",
            now=now + dt.timedelta(minutes=5),
        )
        update_s, update_cpu = time.perf_counter() - t, time.process_time() - cpu
    assert update.recipients == linked
    emails = Delivery.objects.filter(kind=EMAIL_KIND).count()
    # The next update in the same (now warm) process: templates and code paths loaded.
    t, cpu = time.perf_counter(), time.process_time()
    services.incident_post_update(
        incident=incident,
        actor=seeded["manager"],
        text="The provider is restoring the service.",
        now=now + dt.timedelta(minutes=35),
    )
    next_s, next_cpu = time.perf_counter() - t, time.process_time() - cpu
    return {
        "next_s": next_s,
        "next_cpu": next_cpu,
        "update_cpu": update_cpu,
        "tickets": total,
        "linked": linked,
        "seed_s": seed_s,
        "wave_ms": wave_ms,
        "wave_cpu_ms": wave_cpu_ms,
        "wave_queries": wave_queries,
        "flowing_ms": flowing_ms,
        "flowing_queries": flowing_queries,
        "link_s": link_s,
        "update_s": update_s,
        "update_queries": counter.count,
        "emails": emails,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--linked", type=int, default=1000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_INCIDENTS_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    before = os.getloadavg()
    r = run(args.tickets, args.linked)
    after = os.getloadavg()
    print("\nMajor incidents on PostgreSQL")
    print(f"load average before {before[0]:.1f}, after {after[0]:.1f} (1 min)")
    print(
        f"wave trigger per sweep, {r['tickets']:,} open tickets: {r['wave_ms']:.1f} ms "
        f"({r['wave_queries']} queries; target ≤ 20 ms; {r['wave_cpu_ms']:.1f} ms CPU here)"
    )
    print(
        f"the same while waves flow that fired already: {r['flowing_ms']:.1f} ms "
        f"({r['flowing_queries']} queries)"
    )
    print(
        f"status update to {r['linked']:,} linked tickets (replies, events, webhook deliveries, "
        f"{r['emails']:,} customer emails): "
        f"{r['update_s']:.2f} s, {r['update_queries']} SQL statements (target ≤ 2 s)"
    )
    print(f"the next update to them, in the warm process: {r['next_s']:.2f} s")
    # The benchmark process's own CPU time: the Python side, less swayed by the machine's
    # load than the wall-clock figures (PostgreSQL's share is not in it).
    print(f"their CPU time in this process: {r['update_cpu']:.2f} s and {r['next_cpu']:.2f} s")
    print(f"linking {r['linked']:,} tickets in bulk: {r['link_s']:.2f} s")
    print(f"(seeding took {r['seed_s']:.0f} s)")


if __name__ == "__main__":
    main()
