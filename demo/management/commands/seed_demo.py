"""`manage.py seed_demo`: the demo organisation and realistic German and English tickets."""

from __future__ import annotations

import time
from argparse import ArgumentParser, ArgumentTypeError
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from demo.knowledge import seed_articles
from demo.organisation import Organisation, seed_organisation
from demo.replay import TicketRun, describe, seed_tickets
from escalation.models import Escalation
from knowledge.models import Article
from tickets.models import Customer, Message, SupportLevel, Team, Ticket, TicketEvent

BAR_WIDTH = 30


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ArgumentTypeError("must be 0 or more")
    return number


def _instant(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ArgumentTypeError("not an ISO 8601 date and time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ArgumentTypeError("must be 1 or more")
    return number


class Command(BaseCommand):
    help = (
        "Load the demo organisation (four support levels, the escalation chain, functional "
        "teams, agents, an admin, customers) and demo tickets. Idempotent: the organisation is "
        "created only where missing, and tickets are topped up to --tickets in total, so a "
        "second run with the same arguments writes nothing. Demo passwords are printed at the "
        "end; never load demo data into a production database."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--tickets",
            type=_non_negative,
            default=200,
            help="Tickets the database should hold in total (default 200, about five a day; "
            "0: organisation only). Existing tickets count; nothing is ever deleted.",
        )
        parser.add_argument(
            "--seed", type=int, default=2026, help="Random seed; same seed, same tickets."
        )
        parser.add_argument(
            "--days",
            type=_positive,
            default=40,
            help="Spread tickets over this many days before --now (default 40).",
        )
        parser.add_argument(
            "--now",
            type=_instant,
            default=None,
            help="The instant the demo ends at (ISO 8601, default: now). Same --seed and --now "
            "on an empty database give the same data.",
        )
        parser.add_argument(
            "--via-services",
            type=_non_negative,
            default=300,
            help="At most this many tickets are played through the services and the "
            "escalation engine (full fidelity); the rest are written in bulk without SLA "
            "clocks or escalations (default 300).",
        )
        parser.add_argument(
            "--batch-size", type=_positive, default=2000, help="Rows per bulk insert batch."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        org = seed_organisation()
        new_articles = seed_articles(fallback_owner=org.admin)
        self._last_bar = ""
        show_bar = options["verbosity"] >= 1 and options["tickets"] > 0
        # The history is played through the services and the engine; what it sends (emails,
        # webhooks) is marked sent at the end, so the worker sends nothing of the past.
        run = seed_tickets(
            org,
            total=options["tickets"],
            seed=options["seed"],
            days=options["days"],
            anchor=options["now"] or timezone.now(),
            via_services=options["via_services"],
            batch_size=options["batch_size"],
            progress=self._progress if show_bar else None,
        )
        if self._last_bar:
            self.stderr.write("")
        if options["verbosity"] >= 1:
            self._summary(org, run, time.monotonic() - started)
            self.stdout.write(
                f"Knowledge base: {Article.objects.count()} articles (new {new_articles}), "
                "public help pages at /help/"
            )

    def _progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total
        percent = 100 * done // total
        bar = f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {percent:3d}% {done}/{total}"
        if bar != self._last_bar:
            self.stderr.write(bar, ending="")
            self.stderr.flush()
            self._last_bar = bar

    def _summary(self, org: Organisation, run: TicketRun, seconds: float) -> None:
        out = self.stdout.write
        created = org.created
        out(self.style.MIGRATE_HEADING("Demo organisation"))
        out(
            f"  levels {SupportLevel.objects.count()} (new {created['levels']}), "
            f"teams {Team.objects.count()} (new {created['teams']}), "
            f"customers {Customer.objects.count()} (new {created['customers']}), "
            f"demo users new {created['users']}"
        )
        for team in org.teams.values():
            chain = " → ".join(t.name for t in [team, *team.chain()])
            out(f"  {team.level.rank} · {team.name} [{team.kind}]: {chain}")

        out(self.style.MIGRATE_HEADING("Tickets"))
        if run.existing >= run.requested:
            out(
                f"  {run.existing} tickets exist already (asked for {run.requested}): none "
                "added. Pass a larger --tickets to add more."
            )
        else:
            out(
                f"  added {run.via_services + run.in_bulk}: {run.via_services} played through "
                f"the services and the engine ({run.services_seconds:.1f} s), {run.in_bulk} in "
                f"bulk ({run.bulk_seconds:.1f} s)"
                + (
                    f"; {run.skipped_steps} steps refused by the services and skipped ("
                    + ", ".join(f"{k} {n}" for k, n in run.skipped_kinds.most_common())
                    + ")"
                    if run.skipped_steps
                    else ""
                )
            )
            out("  replay: " + ", ".join(f"{k} {v}" for k, v in describe(run).items()))
        by_status = dict(
            Ticket.objects.values_list("status").annotate(n=Count("pk")).order_by("status")
        )
        labels = dict(Ticket.Status.choices)
        out(
            "  "
            + ", ".join(f"{labels[s]} {by_status.get(s, 0)}" for s in Ticket.Status.values)
            + f"; messages {Message.objects.count()}, events {TicketEvent.objects.count()}"
        )
        waiting = Escalation.objects.filter(status=Escalation.Status.RAISED).count()
        out(f"  escalations {Escalation.objects.count()}, waiting for acknowledgement {waiting}")
        out(f"  took {seconds:.1f} s")

        out(self.style.MIGRATE_HEADING("Demo logins (demo data only, never in production)"))
        width = max(len(login.username) for login in org.logins)
        for login in org.logins:
            password = login.password or "(existed before; password unchanged)"
            out(f"  {login.username:<{width}}  {password:<20}  {login.role}")
