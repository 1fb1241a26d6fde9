"""Run one escalation sweep now and print what it did (or, with --dry-run, what it would do)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from escalation import sweep as sweeping
from escalation.preview import other_triggers


class Command(BaseCommand):
    help = "Run one escalation sweep now; --dry-run previews, --at previews another instant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="change nothing")
        parser.add_argument("--at", help="ISO time to preview (with --dry-run)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["at"]:
            if not options["dry_run"]:
                raise CommandError("--at previews another instant; it needs --dry-run.")
            parsed = parse_datetime(options["at"])
            if parsed is None:
                raise CommandError(f"Not an ISO time: {options['at']}")
            now = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        report = sweeping.sweep(now=now, dry_run=options["dry_run"])
        verb = "would fire" if options["dry_run"] else "fired"
        for outcome in report.outcomes:
            for line in outcome.fired:
                self.stdout.write(f"{outcome.reference}: {verb} {line}")
            for line in outcome.sla_events:
                self.stdout.write(f"{outcome.reference}: recorded SLA {line.replace(':', ' ')}")
        for pk in report.failed:
            retry = (
                ""
                if options["dry_run"]
                else "; retried after 1, 2, 4 ... minutes, at most an hour (admin: Sweep failures)"
            )
            self.stderr.write(f"ticket {pk}: failed (see the log){retry}")
        if options["dry_run"]:
            # The other triggers decided beside the sweep (e.g. the incidents' wave rules).
            for line in other_triggers(now):
                self.stdout.write(line)
        when = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        self.stdout.write(
            self.style.SUCCESS(
                f"{'Dry run at' if options['dry_run'] else 'Sweep at'} {when}: "
                f"{report.examined} due, {report.fired} rule(s) {verb}, "
                f"{report.sla_events} SLA event(s), {len(report.failed)} failed "
                f"({report.bulk} decided in bulk, {report.single} one at a time)."
            )
        )
