"""Benchmark of the escalation sweep on PostgreSQL (not a test: it prints figures).

Seeds a fresh database with N open tickets of which 1 % are due for a hierarchical
escalation ("no progress for an hour"), then measures:
  * a sweep with nothing due (median of several runs),
  * the sweep that applies all due escalations: time, rate, SQL statements per escalation
    (the set-based lane; the per-ticket lane's rate on up to 200 of them for comparison),
  * the floor: the same rows changed and written by bare bulk SQL, for the ratio engine/floor,
  * a rule change: every open ticket evaluated again by one sweep.

Usage: python bench/sweep.py [--tickets 10000 100000] [--full]   (--full adds 1,000,000)
Database: BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helpdesk_bench
(dropped and created anew).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    if os.environ.get("DEBUG") == "false":
        # Without DEBUG the pages name the hashed files of the manifest: collect them first.
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)


def debug_off() -> None:
    """Settings as in production for the in-process client: DEBUG off, a throwaway secret
    key (the demo key is refused without DEBUG), plain HTTP to localhost."""
    import secrets

    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["ALLOWED_HOSTS"] = "localhost"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("STATIC_ROOT", str(Path(tempfile.gettempdir()) / "helpdesk-bench-static"))


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def seed(total: int, due: int, now: dt.datetime) -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from escalation.models import EscalationRule
    from tickets.models import SupportLevel, Team, Ticket
    from tickets.services import allocate_references

    User = get_user_model()
    EscalationRule.objects.update(is_active=False)
    EscalationRule.objects.create(
        name="bench: no progress for an hour",
        order=1,
        trigger="no_progress",
        threshold=dt.timedelta(hours=1),
        escalate="hierarchical",
        notify_target_team=True,
    )
    level1, level2 = SupportLevel.objects.get(rank=1), SupportLevel.objects.get(rank=2)
    expert = User.objects.create_user("expert", password="x")  # noqa: S106
    team2 = Team.objects.create(name="Experts", level=level2, lead=expert)
    team2.members.add(expert)
    team1 = Team.objects.create(name="Service desk", level=level1, escalates_to=team2)
    long_ago = now - dt.timedelta(days=2)
    due_at = now - dt.timedelta(minutes=1)
    later = now + dt.timedelta(days=30)
    batch = 5000
    for start in range(0, total, batch):
        size = min(batch, total - start)
        refs = allocate_references(2026, size)
        Ticket.objects.bulk_create(
            [
                Ticket(
                    reference=ref,
                    subject=f"Bench ticket {start + i}",
                    team=team1,
                    level=level1,
                    created_at=long_ago,
                    updated_at=long_ago,
                    cycle_started_at=long_ago,
                    next_check_at=due_at if (start + i) % (total // due) == 0 else later,
                )
                for i, ref in enumerate(refs)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"team1": team1, "team2": team2, "due_at": due_at}


def floor(
    due_ids: list[int], team2_id: int, level2_id: int, rule_id: int, user_id: int, now: dt.datetime
) -> float:
    """The same writes as the engine's, as bare set-based SQL, rolled back afterwards."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as c:
            c.execute(
                "UPDATE tickets_ticket SET team_id=%s, level_id=%s, "
                "escalation_cycle=escalation_cycle+1, cycle_started_at=%s, next_check_at=NULL, "
                "updated_at=%s WHERE id = ANY(%s)",
                [team2_id, level2_id, now, now, due_ids],
            )
            c.execute(
                "INSERT INTO escalation_rulefiring (ticket_id, rule_id, cycle, trigger, reason,"
                " reason_facts, fired_at) SELECT id, %s, 0, 'no_progress', '', '{}'::jsonb, %s"
                " FROM unnest(%s::bigint[]) id",
                [rule_id, now, due_ids],
            )
            c.execute(
                "INSERT INTO escalation_escalation (ticket_id, kind, status, cycle, trigger, "
                "reason, reason_facts, rule_id, from_team_id, to_team_id, from_level_id, "
                "to_level_id, summary, affected, impact, actions_taken, next_steps, risks, "
                "package_facts, raised_at) "
                "SELECT id, 'hierarchical', 'raised', 0, 'no_progress', '', '{}'::jsonb, %s, "
                "t.team_id, %s, t.level_id, %s, '', '', '', '', '', '', '{}'::jsonb, %s "
                "FROM tickets_ticket t "
                "WHERE id = ANY(%s)",
                [rule_id, team2_id, level2_id, now, due_ids],
            )
            for kind in ("escalated", "team_changed", "level_changed"):
                c.execute(
                    "INSERT INTO tickets_ticketevent (ticket_id, kind, payload, created_at) "
                    "SELECT id, %s, '{}'::jsonb, %s FROM unnest(%s::bigint[]) id",
                    [kind, now, due_ids],
                )
            c.execute(
                "INSERT INTO notifications_notification (user_id, kind, ticket_id, payload, "
                "dedupe_key, created_at) SELECT %s, 'escalation_raised', id, '{}'::jsonb, "
                "'escalation:' || id, %s FROM unnest(%s::bigint[]) id",
                [user_id, now, due_ids],
            )
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed


def run(total: int) -> dict[str, float]:
    from django.db import connection, reset_queries, transaction
    from django.utils import timezone

    from escalation.models import Escalation, EscalationRule
    from escalation.sweep import rules_changed, sweep
    from notifications.models import Notification
    from sla.models import BusinessCalendar
    from sla.services import calendar_spec
    from tickets.models import Ticket

    now = timezone.now()
    due = max(total // 100, 1)
    t0 = time.perf_counter()
    seeded = seed(total, due, now)
    seed_seconds = time.perf_counter() - t0

    empty = []
    for _ in range(7):
        start = time.perf_counter()
        report = sweep(now=seeded["due_at"] - dt.timedelta(seconds=1))
        empty.append(time.perf_counter() - start)
        assert report.examined == 0

    due_ids = list(Ticket.objects.filter(next_check_at__lte=now).values_list("pk", flat=True))
    rule = EscalationRule.objects.get(name="bench: no progress for an hour")
    floor_seconds = floor(
        due_ids, seeded["team2"].pk, seeded["team2"].level_id, rule.pk, seeded["team2"].lead_id, now
    )

    # A worker that has swept before has its calendars compiled (once a day per calendar).
    for calendar in BusinessCalendar.objects.all():
        calendar_spec(calendar)

    # The per-ticket lane, for comparison: up to 200 due tickets, rolled back afterwards.
    with transaction.atomic():
        start = time.perf_counter()
        single = sweep(now=now, bulk=False, limit=200)
        single_seconds = time.perf_counter() - start
        transaction.set_rollback(True)

    counter = QueryCounter()
    reset_queries()
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        report = sweep(now=now)
    seconds = time.perf_counter() - start
    escalated = Escalation.objects.count()
    assert escalated == len(due_ids) == report.fired, (escalated, len(due_ids), report.fired)
    assert report.bulk == len(due_ids), (report.bulk, report.single)
    assert Notification.objects.count() == len(due_ids)

    # A rule change: every open ticket is looked at again by the next sweep (nothing fires).
    rule.threshold = dt.timedelta(days=365)
    rule.save()
    rules_changed(now=now)
    start = time.perf_counter()
    again = sweep(now=now)
    reevaluate_seconds = time.perf_counter() - start
    assert again.examined == total and again.fired == 0, (again.examined, again.fired)
    return {
        "tickets": total,
        "due": len(due_ids),
        "seed_s": seed_seconds,
        "empty_ms": statistics.median(empty) * 1000,
        "sweep_s": seconds,
        "rate": escalated / seconds,
        "queries_per": counter.count / escalated,
        "floor_s": floor_seconds,
        "floor_rate": len(due_ids) / floor_seconds,
        "single_rate": single.fired / single_seconds,
        "reevaluate_s": reevaluate_seconds,
        "reevaluate_rate": total / reevaluate_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--full", action="store_true", help="also 1,000,000 tickets")
    args = parser.parse_args()
    sizes = list(args.tickets) + ([1_000_000] if args.full else [])
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    rows = []
    for total in sizes:
        recreate_database(url)
        if "django" not in sys.modules:
            setup_django(url)
        from django.core.management import call_command
        from django.db import connection

        connection.close()
        call_command("migrate", verbosity=0)
        rows.append(run(total))
        connection.close()
    print(
        "\nEscalation sweep on PostgreSQL (1 % of open tickets due; each escalation = rule "
        "firing, escalation row, hand-off with events and SLA bookkeeping, notification)"
    )
    header = (
        f"{'open tickets':>12} {'due':>6} {'empty sweep':>12} {'sweep':>9} "
        f"{'escalations/s':>14} {'SQL/escalation':>15} {'floor':>8} {'floor/s':>9} "
        f"{'engine/floor':>13} {'per-ticket lane/s':>18}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['tickets']:>12,} {r['due']:>6,} {r['empty_ms']:>9.1f} ms {r['sweep_s']:>7.2f} s"
            f" {r['rate']:>14,.0f} {r['queries_per']:>15.1f} {r['floor_s']:>6.3f} s"
            f" {r['floor_rate']:>9,.0f} {r['sweep_s'] / r['floor_s']:>12.0f}x"
            f" {r['single_rate']:>18,.0f}"
        )
    print("(seeding took " + ", ".join(f"{r['seed_s']:.0f} s" for r in rows) + ")")
    print("\nAfter a rule change: every open ticket evaluated again by one sweep (nothing fires)")
    for r in rows:
        print(
            f"{r['tickets']:>12,} tickets {r['reevaluate_s']:>8.1f} s"
            f" {r['reevaluate_rate']:>10,.0f} tickets/s"
        )
    print(
        "sweep: the set-based lane (escalation/bulk.py), one process; per-ticket lane: the same\n"
        "escalations through the services one at a time (up to 200, rolled back), for comparison"
    )


if __name__ == "__main__":
    main()
