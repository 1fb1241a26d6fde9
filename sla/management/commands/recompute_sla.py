"""Recompute the SLA clocks of open tickets after a policy, calendar or holiday change."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sla.models import BusinessCalendar, SLAPolicy
from sla.services import sla_recompute_many, tickets_affected_by
from tickets.models import Ticket


class Progress:
    """A one-line progress bar on stderr (only when it is a terminal, else a line per tenth)."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.started, self.shown = stream, time.monotonic(), -1
        self.live = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        tenth = done * 10 // max(total, 1)
        if not self.live and tenth == self.shown and done < total:
            return
        self.shown = tenth
        bar = "#" * (done * 30 // max(total, 1))
        line = f"[{bar:<30}] {done:,}/{total:,} tickets, {done / elapsed:,.0f}/s"
        self.stream.write(f"\r{line}" if self.live else f"{line}\n")
        if self.live and done >= total:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Recompute the SLA deadlines of open tickets (all, or those of a policy/calendar), in "
        "committed batches. Interrupted, it says where to resume (--from-id)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--policy", help="name or id of an SLA policy")
        parser.add_argument("--calendar", help="name or id of a business calendar")
        parser.add_argument("--ticket", action="append", default=[], help="a ticket reference")
        parser.add_argument(
            "--from-id", type=int, default=0, help="resume: only tickets with this id or above"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["ticket"]:
            tickets = Ticket.objects.filter(reference__in=options["ticket"])
        elif options["policy"]:
            tickets = tickets_affected_by(policy=self._get(SLAPolicy, options["policy"]))
        elif options["calendar"]:
            tickets = tickets_affected_by(calendar=self._get(BusinessCalendar, options["calendar"]))
        else:
            tickets = Ticket.objects.active()
        ids = list(
            tickets.filter(pk__gte=options["from_id"]).order_by("pk").values_list("pk", flat=True)
        )
        bar = None if options["no_progress"] else Progress(sys.stderr)
        finished = [0]

        def progress(done: int, total: int) -> None:
            finished[0] = done
            if bar is not None:
                bar(done, total)

        started = time.monotonic()
        try:
            count = sla_recompute_many(ids, progress=progress)
        except KeyboardInterrupt:
            # Batches commit as they go: what is done stays done.
            resume = ids[finished[0]] if finished[0] < len(ids) else None
            raise CommandError(
                f"Interrupted after {finished[0]:,} of {len(ids):,} tickets"
                + (f"; resume with --from-id {resume}." if resume is not None else ".")
            ) from None
        elapsed = time.monotonic() - started
        rate = f" ({count / elapsed:,.0f} tickets/s)" if elapsed > 0 and count else ""
        self.stdout.write(
            self.style.SUCCESS(f"Recomputed {count:,} of {len(ids):,} tickets{rate}.")
        )

    def _get(self, model: type, value: str) -> Any:
        lookup = {"pk": int(value)} if value.isdigit() else {"name": value}
        try:
            return model.objects.get(**lookup)
        except model.DoesNotExist:
            raise CommandError(f"No {model._meta.verbose_name} “{value}”.") from None
