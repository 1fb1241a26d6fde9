"""`manage.py incident_sweep [--dry-run] [--at ISO]`: the wave trigger and update reminders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from incidents import services


class Command(BaseCommand):
    help = "Fire the wave trigger and send the incidents' update reminders (or list them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List, write nothing.")
        parser.add_argument("--at", help="An ISO instant instead of now.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["at"]:
            try:
                now = dt.datetime.fromisoformat(options["at"])
            except ValueError as exc:
                raise CommandError(f"--at: {exc}") from exc
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        if options["dry_run"]:
            for line in services.wave_dry_run(now):
                self.stdout.write(line)
            for incident, which in services.remind(now=now, dry_run=True):
                self.stdout.write(f"{incident.reference}: {which}")
            return
        self.stdout.write(str(services.incident_sweep(now=now)))
