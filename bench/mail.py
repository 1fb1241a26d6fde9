"""Benchmark of inbound email on PostgreSQL (not a test: it prints figures).

Feeds N raw messages through the whole inbound path (`mail.services.mail_receive`: parse,
store raw with the Message-ID check, automatic-mail and rate-limit checks, threading, contact
lookup or creation, then `ticket_create` / `ticket_add_customer_message` with their SLA and
escalation evaluation and outbox writes) one after the other, as the IMAP poll does, and
reports messages per second and SQL statements per message. The mix: 60 % new tickets (each
from a new sender), 35 % replies with German quoted history (threaded by In-Reply-To), 5 %
out-of-office replies. Target: at least 20 messages/s.

Usage: python bench/mail.py [--messages 500] [--profile]
`--profile` prints a pyinstrument profile of the measured loop (pyinstrument must be importable).
Database: BENCH_MAIL_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/helpdesk_mail_bench
(dropped and created anew).
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

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_mail_bench"

from bench.sweep import QueryCounter, recreate_database, setup_django  # noqa: E402


def messages(total: int) -> list[bytes]:
    """The raw mails, built as a mail client would (email.message.EmailMessage)."""
    from email.message import EmailMessage

    raws: list[bytes] = []
    opened: list[tuple[str, str]] = []  # (sender, message id) of mails that open tickets
    for i in range(total):
        msg = EmailMessage()
        msg["To"] = "support@desk.example"
        kind = i % 20
        if kind == 19 and opened:
            sender, _first = opened[i % len(opened)]
            msg["From"] = sender
            msg["Subject"] = "Abwesenheitsnotiz"
            msg["Auto-Submitted"] = "auto-replied"
            body = "Ich bin bis Montag nicht im Büro."
        elif kind >= 12 and opened:
            sender, first = opened[(i * 7) % len(opened)]
            msg["From"] = sender
            msg["Subject"] = "AW: Störung"
            msg["In-Reply-To"] = first
            msg["References"] = first
            body = (
                f"Das Problem besteht weiter (Nachtrag {i}).\n\nViele Grüße\n\n"
                "Am 07.12.2026 um 09:12 schrieb Support <support@desk.example>:\n"
                "> Bitte starten Sie das Gerät neu.\n> Ihr Support-Team\n"
            )
        else:
            sender = f"Kunde {i} <kunde{i}@firma{i % 50}.example>"
            msg["From"] = sender
            msg["Subject"] = f"Störung {i}: Drucker druckt nicht"
            body = f"Seit heute Morgen druckt der Drucker {i} nicht mehr.\n\nGruß"
        message_id = f"<bench{i}@kunde.example>"
        msg["Message-ID"] = message_id
        msg.set_content(body)
        if kind < 12 or not opened:
            opened.append((sender, message_id))
        raws.append(msg.as_bytes())
    return raws


def run(total: int, profile: bool = False) -> dict[str, float]:
    from django.db import connection

    from helpdesk import configcache
    from mail.models import InboundMail, Mailbox
    from mail.services import mail_receive
    from tickets.models import SupportLevel, Team

    team = Team.objects.create(name="Service Desk", level=SupportLevel.objects.get(rank=1))
    mailbox = Mailbox.objects.create(
        slug="support", address="support@desk.example", team=team, mailbox_limit=total * 2
    )
    raws = messages(total)
    # The share of the ticket services (ticket_create / ticket_add_customer_message with their
    # SLA clock, escalation evaluation and outbox writes) in the whole path.
    import mail.services as services

    in_tickets = [0.0]

    def timed(func):
        def wrapper(**kwargs):
            t0 = time.perf_counter()
            try:
                return func(**kwargs)
            finally:
                in_tickets[0] += time.perf_counter() - t0

        return wrapper

    services.ticket_create = timed(services.ticket_create)
    services.ticket_add_customer_message = timed(services.ticket_add_customer_message)
    counter = QueryCounter()
    durations = []
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    started = time.perf_counter()
    cpu_started = time.process_time()
    with connection.execute_wrapper(counter):
        for raw in raws:
            t0 = time.perf_counter()
            # As in production, where each message is handled in a request (the endpoint)
            # or a task (the IMAP poll, a whole batch): the configuration cache compares its
            # version with the shared one once per scope, here once per message.
            configcache.begin_scope()
            try:
                mail_receive(mailbox=mailbox, raw=raw)
            finally:
                configcache.end_scope()
            durations.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    outcomes = {}
    for outcome in InboundMail.objects.values_list("outcome", flat=True):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    durations.sort()
    return {
        "messages": total,
        "seconds": elapsed,
        "rate": total / elapsed,
        "queries": counter.count / total,
        "tickets_share": in_tickets[0] / elapsed,
        "cpu_ms": cpu / total * 1000,
        "median_ms": statistics.median(durations) * 1000,
        "p95_ms": durations[int(len(durations) * 0.95) - 1] * 1000,
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile")
    args = parser.parse_args()
    url = os.environ.get("BENCH_MAIL_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    result = run(args.messages, profile=args.profile)
    connection.close()
    print("\nInbound email on PostgreSQL: the whole path per message (parse, store, thread,")
    print("ticket or customer message with SLA and escalation evaluation), one process")
    print(
        f"{result['messages']:,} messages in {result['seconds']:.2f} s: "
        f"{result['rate']:.1f} messages/s (target ≥ 20/s), "
        f"median {result['median_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"{result['queries']:.1f} SQL statements per message"
    )
    print(
        f"this process's CPU time: {result['cpu_ms']:.1f} ms per message "
        f"(the rest of the wall time is waiting for PostgreSQL and Redis)"
    )
    print(
        f"of which the ticket services (SLA clock, escalation evaluation, outbox): "
        f"{result['tickets_share']:.0%}; load average at the end: {os.getloadavg()[0]:.1f}"
    )
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items())))


if __name__ == "__main__":
    main()
