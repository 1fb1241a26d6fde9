"""`manage.py roll_up_reports`: write the reports' daily rollups now (what beat does every five
minutes, repeated until nothing is due): after a deployment, to fill the past at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from reporting import rollups


class Command(BaseCommand):
    help = "Write the reports' daily rollups of every closed day that is missing or stale."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--runs", type=int, default=40, help="at most this many runs of 31 days (default 40)"
        )

    def handle(self, *args: Any, runs: int, **options: Any) -> None:
        days = rows = 0
        for _ in range(runs):
            done = rollups.roll_up(timezone.now())
            if not done.days:
                break
            days += len(done.days)
            rows += done.rows
        self.stdout.write(f"{days} days rolled up, {rows} rows written")
