"""Export the escalation configuration as YAML, or check and apply such a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab import versions
from lab.config import dump, export_configuration
from lab.services import acting_user


class Command(BaseCommand):
    help = (
        "The escalation configuration as code. 'config export [--output FILE]' writes it as "
        "YAML; 'config import FILE [--dry-run]' checks a file with the admin's validation, "
        "prints what it changes and (without --dry-run) applies it in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="write the configuration as YAML")
        export.add_argument("--output", "-o", help="file to write (default: standard output)")
        load = actions.add_parser("import", help="check and apply a configuration file")
        load.add_argument("file", help="the YAML file ('-' reads standard input)")
        load.add_argument(
            "--dry-run", action="store_true", help="check and show the changes, write nothing"
        )
        load.add_argument("--reason", default="", help="why: kept with the new version")
        load.add_argument(
            "--user", help="the superuser the admin log names (default: the first superuser)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            self.export(options["output"])
        else:
            self.load(
                options["file"],
                dry_run=options["dry_run"],
                username=options["user"],
                reason=options["reason"],
            )

    def export(self, output: str | None) -> None:
        text = dump(export_configuration())
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote the configuration to {output}.")
        else:
            self.stdout.write(text, ending="")

    def load(self, name: str, *, dry_run: bool, username: str | None, reason: str) -> None:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {name}: {exc}") from exc
        user = acting_user(username)
        if user is None:
            raise CommandError(
                f"No active superuser {username!r}."
                if username
                else "No active superuser: "
                "the admin log needs one (create it with createsuperuser)."
            )
        result = versions.import_document(text, user=user, reason=reason, dry_run=dry_run)
        if result.problems:
            for problem in result.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{name}: {len(result.problems)} problem(s); nothing was written.")
        for change in result.changes:
            self.stdout.write("\n".join(change.lines()))
        if not result.changes:
            self.stdout.write("No differences from the live configuration.")
        if dry_run:
            self.stdout.write(f"Dry run: {len(result.changes)} change(s) checked, nothing written.")
        else:
            applied = f"Applied {len(result.changes)} change(s)"
            if result.version is not None:
                applied += f" as configuration version {result.version.number}"
            self.stdout.write(f"{applied}.")
            if result.recomputed:
                self.stdout.write(
                    f"Recomputing the SLA clocks of {result.recomputed} open ticket(s) in the "
                    "background."
                )
