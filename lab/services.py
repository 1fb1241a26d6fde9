"""Applying a configuration document: through the admin's own forms, in one transaction.

Every item is saved with `api.adminforms.save_through_admin` — the admin's ModelForm and inline
formsets, `save_model`/`save_related` and the admin log — so the file is refused for exactly
what the admin refuses (a team chain with a cycle, a calendar with overlapping hours, a
target that resolves before its first response, …) with the admin's message, under the
item's path in the file. Items are matched by natural key: an item of the file that exists is
changed, a new one added, one the file leaves out is deleted. A dry run does all of it and
rolls back, so it checks what applying would check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.test import RequestFactory
from rest_framework.exceptions import ValidationError as ApiValidationError

from api.adminforms import DiscardMessages, model_admin, save_through_admin
from helpdesk.durations import parse_duration_text
from lab.config import (
    SECTIONS,
    WEEKDAYS,
    Change,
    Inline,
    Problem,
    Section,
    differences,
    export_configuration,
    export_value,
    is_weekday,
    item_label,
    model_fields,
    natural_key_field,
    read_document,
    sort_key,
)
from sla import tasks as sla_tasks
from sla.models import SeverityMatrix
from tickets.models import Team, Ticket
from tickets.priority import Impact, Urgency

ROW_FIELD = re.compile(r"(?P<key>\w+)\[(?P<index>\d+)\]\.(?P<field>\w+)")

# Sections whose change moves SLA deadlines of open tickets.
SLA_SECTIONS = {"business_calendars", "sla_policies", "severity_matrices"}


class Rollback(Exception):
    """Leaves the transaction of a dry run or of a refused file."""


@dataclass
class ImportResult:
    changes: list[Change]
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False
    recomputed: int = 0


def config_import(*, text: str, user: Any, dry_run: bool) -> ImportResult:
    """Check the document in `text` against the admin's validation and, unless `dry_run` or
    anything is wrong, apply it (one transaction) and queue the recomputation of the open
    tickets' SLA clocks when calendars, policies or the severity matrix changed."""
    document, problems = read_document(text)
    if problems:
        return ImportResult(changes=[], problems=problems)
    result = ImportResult(changes=[])
    try:
        with transaction.atomic():
            result.changes = changes = differences(export_configuration(), document)
            result.problems = Applier(user).apply(document, changes)
            if result.problems or dry_run:
                raise Rollback
            sla_changes = [c for c in changes if c.section in SLA_SECTIONS]
            if sla_changes:
                # The run's subject names what changed (names are facts, not words).
                ids = list(Ticket.objects.active().values_list("pk", flat=True))
                subject = ", ".join(c.key for c in sla_changes)
                sla_tasks.queue_recompute(ids, subject=subject, requested_by=user)
                result.recomputed = len(ids)
            result.applied = True
    except Rollback:
        pass
    return result


class Applier:
    def __init__(self, user: Any) -> None:
        self.request = RequestFactory().post("/admin/")
        self.request.user = user
        self.request._messages = DiscardMessages(self.request)
        self.problems: list[Problem] = []
        # Per inline: the position in the file of each form of the admin's formset.
        self.row_positions: dict[str, list[int | None]] = {}

    def apply(
        self, document: dict[str, list[dict[str, Any]]], changes: list[Change]
    ) -> list[Problem]:
        """Save the items that are added or changed (the others are left as they are: no
        admin log entry, no sweep woken up), then remove what the file leaves out."""
        touched = {(c.section, c.key) for c in changes if c.action != "removed"}
        kept: dict[str, set[int]] = {}
        for section in SECTIONS:
            if section.name not in document:
                continue
            items = list(enumerate(document[section.name]))  # the file's positions
            if section.model is SeverityMatrix:
                # Deactivate before activating: only one matrix may be active at a time.
                items.sort(key=lambda pair: bool(pair[1].get("is_active")))
            kept[section.name] = set()
            todo = []
            for index, item in items:
                if (section.name, item_label(section, item)) not in touched:
                    obj = self.existing(section, item)
                    if obj is not None:
                        kept[section.name].add(obj.pk)
                    continue
                todo.append((index, item))
                later = {"escalates_to"} if section.model is Team else set()
                obj = self.save(section, item, index, leave_out=later)
                if obj is not None:
                    kept[section.name].add(obj.pk)
            if section.model is Team:
                # The chain once every team exists, so a team may escalate to one listed later.
                for index, item in todo:
                    if "escalates_to" in item:
                        self.save(section, item, index, leave_out=set())
        for section in reversed(SECTIONS):
            if section.name in kept:
                self.delete_others(section, kept[section.name])
        return self.problems

    def existing(self, section: Section, item: dict[str, Any]) -> models.Model | None:
        lookup = {}
        for name in section.key:
            f = section.model._meta.get_field(name)
            lookup[f"{name}__{natural_key_field(f)}" if f.is_relation else name] = item[name]
        return section.model.objects.filter(**lookup).order_by("pk").first()

    def save(
        self, section: Section, item: dict[str, Any], index: int, leave_out: set[str]
    ) -> models.Model | None:
        path = f"{section.name}[{index}]"
        before = len(self.problems)
        body = self.form_values(section, item, path, leave_out)
        if len(self.problems) > before:
            return None
        obj = self.existing(section, item)
        try:
            with transaction.atomic():
                return save_through_admin(self.request, section.model, obj, body)
        except ApiValidationError as exc:
            for name, messages in exc.detail.items():
                where = path if name == "non_field_errors" else f"{path}.{self.in_file(name)}"
                for message in messages if isinstance(messages, list) else [messages]:
                    self.problems.append(Problem(where, str(message)))
        return None

    def in_file(self, name: str) -> str:
        """A field name of the admin's form as the path in the file: a severity cell is the
        grid's, a formset's row `targets[3].resolution` is named by its position in the file."""
        if name.startswith("cell_"):
            return "grid"
        match = ROW_FIELD.fullmatch(name)
        if match is None:
            return name
        key, index, field_name = match["key"], int(match["index"]), match["field"]
        positions = self.row_positions.get(key, [])
        position = positions[index] if index < len(positions) else None
        return f"{key}[{index if position is None else position}].{field_name}"

    def form_values(
        self, section: Section, item: dict[str, Any], path: str, leave_out: set[str]
    ) -> dict[str, Any]:
        """The item as the admin's form takes it: related rows by id, durations as
        `timedelta`s, the severity grid as its cells, inline rows as lists."""
        form_fields = set(
            model_admin(section.model)
            .get_form(self.request, self.existing(section, item))
            .base_fields
        )
        body: dict[str, Any] = {}
        for f in section.fields():
            if f.name not in item or f.name in leave_out:
                continue
            value = self.form_value(f, item[f.name], f"{path}.{f.name}")
            if f.name == "grid" and section.model is SeverityMatrix:
                body.update(self.cells(value, f"{path}.grid"))
            elif f.name in form_fields:
                body[f.name] = value
            else:
                self.problems.append(Problem(f"{path}.{f.name}", "not editable in the admin"))
        obj = self.existing(section, item)
        for inline in section.inlines:
            rows, self.row_positions[inline.key] = self.inline_rows(
                section, inline, obj, item.get(inline.key, []), f"{path}.{inline.key}"
            )
            body[inline.key] = rows
        return body

    def inline_rows(
        self, section: Section, inline: Inline, obj: models.Model | None, rows: list, path: str
    ) -> tuple[list[dict[str, Any]], list[int | None]]:
        """An inline's rows as the admin's formset takes them: a row that exists (same sort
        key: a target's priority, a day and opening time) keeps its id and is changed in
        place; and, per form of that formset, the row's position in the file."""
        fields = model_fields(inline.model, parent=section.model)
        existing: list[models.Model] = []
        if obj is not None:
            formset = next(
                (fs, admin)
                for fs, admin in model_admin(section.model).get_formsets_with_inlines(
                    self.request, obj
                )
                if admin.model is inline.model
            )
            existing = list(
                formset[1].get_queryset(self.request).filter(**{formset[0].fk.name: obj})
            )
        by_key = {
            sort_key(inline.sort)({f.name: export_value(f, row) for f in fields}): row.pk
            for row in existing
        }
        result, file_position = [], {}
        for n, row in enumerate(rows):
            values = {
                f.name: self.form_value(f, row[f.name], f"{path}[{n}].{f.name}")
                for f in fields
                if f.name in row
            }
            pk = by_key.pop(sort_key(inline.sort)(row), None)
            if pk is not None:
                values["id"] = pk
                file_position[pk] = n
            result.append(values)
        positions = [file_position.get(row.pk) for row in existing]
        positions += [n for n, values in enumerate(result) if "id" not in values]
        return result, positions

    def form_value(self, f: Any, value: Any, path: str) -> Any:
        if is_weekday(f) and value is not None:
            return WEEKDAYS.index(value)
        if f.is_relation:
            names = value if f.many_to_many else [value]
            key = natural_key_field(f)
            found = dict(
                f.related_model.objects.filter(
                    **{f"{key}__in": [v for v in names if v is not None]}
                ).values_list(key, "pk")
            )
            for name in names:
                if name is not None and name not in found:
                    what = f.related_model._meta.verbose_name
                    self.problems.append(Problem(path, f"no {what} {name!r}"))
            pks = [found.get(name) for name in names]
            return pks if f.many_to_many else pks[0]
        if isinstance(f, models.DurationField) and value is not None:
            return parse_duration_text(value)
        return value

    def cells(self, grid: Any, path: str) -> dict[str, Any]:
        """A severity matrix's grid ({"impact,urgency": priority}) as the admin's cells."""
        if not isinstance(grid, dict):
            self.problems.append(Problem(path, "expected a mapping of impact,urgency to priority"))
            return {}
        cells = {}
        for impact in Impact.values:
            for urgency in Urgency.values:
                key = SeverityMatrix.key(impact, urgency)
                if key not in grid:
                    self.problems.append(Problem(f"{path}.{key}", "missing"))
                cells[f"cell_{impact}_{urgency}"] = grid.get(key)
        return cells

    def delete_others(self, section: Section, kept: set[int]) -> None:
        madmin = model_admin(section.model)
        gone = section.model.objects.exclude(pk__in=kept)
        for obj in sorted(gone, key=lambda o: sort_key(section.key)(self.key_of(section, o))):
            try:
                with transaction.atomic():
                    madmin.log_deletions(self.request, section.model.objects.filter(pk=obj.pk))
                    madmin.delete_model(self.request, obj)
            except (ProtectedError, RestrictedError):
                self.problems.append(
                    Problem(
                        section.name,
                        f"{item_label(section, self.key_of(section, obj))} is still in use and "
                        "cannot be removed; keep it in the file (inactive, where it has an "
                        "active flag)",
                    )
                )

    def key_of(self, section: Section, obj: models.Model) -> dict[str, Any]:
        values = {}
        for name in section.key:
            value = getattr(obj, name)
            f = section.model._meta.get_field(name)
            values[name] = getattr(value, natural_key_field(f)) if f.is_relation else value
        return values


def acting_user(username: str | None) -> Any:
    """Who the admin log names for an import: the given user (an active superuser), else the
    first active superuser. None when there is none."""
    users = get_user_model().objects.filter(is_active=True, is_superuser=True)
    if username:
        users = users.filter(username=username)
    return users.order_by("pk").first()
