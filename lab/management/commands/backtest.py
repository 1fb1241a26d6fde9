"""Replay a draft beside the live configuration over past tickets, with a progress bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab import backtest
from lab.models import BacktestRun, Draft
from lab.results import summary_lines
from lab.services import acting_user


class Command(BaseCommand):
    help = (
        "Replay the tickets of the last DAYS days under the live configuration and under a "
        "draft, and print what differs (escalations, SLA warnings and breaches, team load, the "
        "tickets whose course parts)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--draft", type=int, required=True, help="the draft's id")
        parser.add_argument("--days", type=int, default=90, help="how far back (default 90)")
        parser.add_argument("--user", help="the superuser the run names (default: the first)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        if not Draft.objects.filter(pk=options["draft"]).exists():
            raise CommandError(f"No draft {options['draft']}.")
        user = acting_user(options["user"])
        run = backtest.start(draft_id=options["draft"], days=options["days"], user=user)
        run = backtest.execute(run.pk, report=self.bar)
        self.stderr.write("")
        if run.status == BacktestRun.Status.FAILED:
            for path, message in run.problems:
                self.stderr.write(f"{path}: {message}" if path else message)
            raise CommandError(f"The draft has {len(run.problems)} problem(s).")
        self.stdout.write("\n".join(summary_lines(run)))

    def bar(self, done: int, total: int) -> None:
        width = 40
        filled = width if not total else width * done // total
        percent = 100 if not total else done * 100 // total
        self.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({percent}%)", ending=""
        )
        self.stderr.flush()
