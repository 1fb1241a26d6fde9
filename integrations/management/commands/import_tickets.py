"""`manage.py import_tickets FILE --as ADMIN`: import tickets of another helpdesk with their
history (JSON lines, or one JSON array; docs/integrations.md), each validated as the API
validates it and played through the services and the engine (`integrations.importer`).
Progress goes to stderr; what failed is listed at the end, and the exit status says whether
anything failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.api import ImportRecordSerializer, import_one

PROGRESS_EVERY = 50


def records(path: Path) -> Iterator[tuple[int, Any]]:
    """(position, decoded record) of a JSON array file or a JSON lines file."""
    with path.open(encoding="utf-8") as handle:
        head = handle.read(1)
        while head and head.isspace():
            head = handle.read(1)
        handle.seek(0)
        if head == "[":
            try:
                items = json.load(handle)
            except json.JSONDecodeError as error:
                raise CommandError(f"{path}: not valid JSON ({error})") from error
            yield from enumerate(items, start=1)
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, error


class Command(BaseCommand):
    help = "Import tickets with their history from a JSON lines or JSON array file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            help="The admin in whose name entries without a known author are imported.",
        )

    def handle(self, *args: Any, file: Path, username: str, **options: Any) -> None:
        actor = get_user_model().objects.filter(username=username, is_superuser=True).first()
        if actor is None or not actor.is_active:
            raise CommandError(f"No active admin named {username!r}.")
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        done = created = failed = 0
        failures: list[str] = []
        users: dict = {}
        for position, raw in records(file):
            if isinstance(raw, Exception):
                failures.append(f"#{position}: {raw}")
            else:
                form = ImportRecordSerializer(data=raw)
                if form.is_valid():
                    result = import_one(actor, dict(form.validated_data), users)
                    created += result["created"]
                    if result["errors"]:
                        failures.append(f"#{position}: {'; '.join(result['errors'])}")
                else:
                    failures.append(f"#{position}: {json.dumps(form.errors, ensure_ascii=False)}")
            done += 1
            failed = len(failures)
            if done % PROGRESS_EVERY == 0:
                self.stderr.write(
                    f"\r{done} records, {created} new tickets, {failed} failed", ending=""
                )
                self.stderr.flush()
        self.stderr.write(f"\r{done} records, {created} new tickets, {failed} failed")
        for line in failures:
            self.stderr.write(line)
        self.stdout.write(f"Imported {done - failed} of {done} records ({created} new tickets).")
        if failures:
            raise CommandError(f"{failed} records were not imported.")
