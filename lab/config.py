"""The escalation configuration as a document: what is exported, how it is read back, how two
versions differ.

A document is a mapping of sections (`SECTIONS`, in this order) to lists of items. Items are
mappings of a model's fields, in the model's field order; a related row is written by its
natural key (a level by its rank, a team, calendar or policy by its name, a user by their
username), never by a database id, and every list is sorted by natural keys, so exporting the
same configuration twice gives the same text. Durations read "4h", "1d2h30m"; times "08:00";
dates "2026-12-24". Webhook secrets are never exported.

`read_document` checks the shapes and converts values, collecting `Problem`s with the path
in the file (`sla_policies[2].targets[1].first_response: not a duration`); the admin's own
validation runs when the document is applied (lab.services).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import models

from escalation.models import EscalationRule
from helpdesk.durations import parse_duration_text
from incidents.models import WaveRule
from notifications.models import MessageTemplate, WebhookEndpoint
from sla.models import (
    BusinessCalendar,
    CalendarException,
    OpeningHours,
    SeverityMatrix,
    SLAPolicy,
    SLATarget,
    TierTarget,
    Weekday,
)
from tickets.models import SupportLevel, Team

# Never written: bookkeeping, and the signing secret of a webhook endpoint.
LEFT_OUT = {"id", "created_at", "updated_at", "secret"}


@dataclass(frozen=True)
class Inline:
    """Rows that belong to an item (a calendar's opening hours), written inside it."""

    key: str
    model: type[models.Model]
    sort: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    name: str
    model: type[models.Model]
    key: tuple[str, ...]
    inlines: tuple[Inline, ...] = ()

    def fields(self) -> list[models.Field]:
        return model_fields(self.model, parent=None)


SECTIONS: tuple[Section, ...] = (
    Section("support_levels", SupportLevel, ("rank",)),
    Section(
        "business_calendars",
        BusinessCalendar,
        ("name",),
        (
            Inline("opening_hours", OpeningHours, ("weekday", "start")),
            Inline("exceptions", CalendarException, ("date", "start")),
        ),
    ),
    Section("teams", Team, ("name",)),
    Section("sla_policies", SLAPolicy, ("name",), (Inline("targets", SLATarget, ("priority",)),)),
    Section("tier_targets", TierTarget, ("level",)),
    Section("severity_matrices", SeverityMatrix, ("name",)),
    Section("escalation_rules", EscalationRule, ("name",)),
    Section("message_templates", MessageTemplate, ("name", "language")),
    Section("webhook_endpoints", WebhookEndpoint, ("url",)),
    Section("wave_rules", WaveRule, ("name",)),
)

# How a row of another table is named in the file.
NATURAL_KEYS: dict[str, str] = {
    "tickets.supportlevel": "rank",
    "tickets.team": "name",
    "sla.businesscalendar": "name",
    "auth.user": "username",
}


def model_fields(model: type[models.Model], parent: type[models.Model] | None) -> list[Any]:
    """The editable fields of `model` (many-to-many included), in declaration order, without
    bookkeeping and without the link to `parent` (an inline's owner)."""
    result = []
    for f in model._meta.get_fields():
        if f.auto_created or not f.concrete or not getattr(f, "editable", False):
            continue
        if f.name in LEFT_OUT or (parent is not None and f.related_model is parent):
            continue
        result.append(f)
    return result


# Opening hours name their day: "monday" reads better than 0.
WEEKDAYS: tuple[str, ...] = tuple(name.lower() for name in Weekday.names)


def is_weekday(f: Any) -> bool:
    return f.model is OpeningHours and f.name == "weekday"


def natural_key_field(f: Any) -> str:
    return NATURAL_KEYS[f.related_model._meta.label_lower]


# -- Values -----------------------------------------------------------------------------------


def format_duration(value: dt.timedelta | None) -> str | None:
    """ "1d4h30m", "45m", "0m"; seconds (never typed in the admin) as "HH:MM:SS"."""
    if value is None:
        return None
    total = int(value.total_seconds())
    if total % 60:
        hours, rest = divmod(total, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    minutes = total // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    return text or "0m"


def export_value(f: Any, obj: models.Model) -> Any:
    if f.many_to_many:
        key = natural_key_field(f)
        return sorted(getattr(related, key) for related in getattr(obj, f.name).all())
    value = getattr(obj, f.name)
    if is_weekday(f):
        return WEEKDAYS[value]
    if f.is_relation:
        return None if value is None else getattr(value, natural_key_field(f))
    if isinstance(f, models.DurationField):
        return format_duration(value)
    if isinstance(f, models.TimeField):
        return None if value is None else value.strftime("%H:%M")
    if isinstance(f, models.DateField):
        return None if value is None else value.isoformat()
    if isinstance(f, models.JSONField):
        return canonical_json(value)
    if isinstance(value, str):
        return value.strip()  # as the admin's form keeps it (a seeded text may end in "\n")
    return value


def canonical_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: canonical_json(value[k]) for k in sorted(value)}
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return sorted(value, key=str)
    return value


def sort_key(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[str, ...]]:
    def key(item: dict[str, Any]) -> tuple[str, ...]:
        values = [item.get(k) for k in keys]
        values = [
            WEEKDAYS.index(v) if k == "weekday" and v in WEEKDAYS else v
            for k, v in zip(keys, values, strict=True)
        ]
        return tuple(f"{v:010d}" if isinstance(v, int) else str(v or "") for v in values)

    return key


def export_item(section: Section, obj: models.Model) -> dict[str, Any]:
    item = {f.name: export_value(f, obj) for f in section.fields()}
    for inline in section.inlines:
        fields = model_fields(inline.model, parent=section.model)
        rows = [
            {f.name: export_value(f, row) for f in fields} for row in getattr(obj, inline.key).all()
        ]
        item[inline.key] = sorted(rows, key=sort_key(inline.sort))
    return item


def export_configuration() -> dict[str, list[dict[str, Any]]]:
    """The live configuration as a document."""
    document: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        items = [export_item(section, obj) for obj in section.model.objects.all()]
        document[section.name] = sorted(items, key=sort_key(section.key))
    return document


class Dumper(yaml.SafeDumper):
    """Block style; texts of several lines as literal blocks (a template's body reads as
    written)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _represent_str)


def dump(document: dict[str, Any]) -> str:
    return yaml.dump(
        document, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


# -- Reading a file ---------------------------------------------------------------------------


@dataclass
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class Reader:
    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def value(self, f: Any, raw: Any, path: str) -> Any:
        """`raw` from the file in the export's canonical form (a duration "240m" reads back
        as "4h"), or the problem noted and None returned."""
        if f.many_to_many:
            if raw is None:
                return []
            if not isinstance(raw, list) or any(isinstance(v, dict | list) for v in raw):
                self.problem(path, "not a list of names")
                return []
            return sorted(raw, key=str)
        if raw is None:
            return None
        if is_weekday(f):
            if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(WEEKDAYS):
                return WEEKDAYS[raw]
            if isinstance(raw, str) and raw.strip().lower() in WEEKDAYS:
                return raw.strip().lower()
            self.problem(path, f"not a weekday ({raw!r}; write monday … sunday)")
            return None
        if isinstance(f, models.DurationField):
            try:
                return format_duration(parse_duration_text(str(raw)))
            except ValueError:
                self.problem(path, f"not a duration ({raw!r}; write e.g. 4h, 30m, 1d2h)")
                return None
        if isinstance(f, models.TimeField):
            if isinstance(raw, int):  # YAML 1.1 reads 08:00 unquoted as sexagesimal minutes
                raw = f"{raw // 60:02d}:{raw % 60:02d}"
            try:
                return dt.time.fromisoformat(str(raw)).strftime("%H:%M")
            except ValueError:
                self.problem(path, f"not a time of day ({raw!r}; write e.g. 08:00)")
                return None
        if isinstance(f, models.DateField):
            if isinstance(raw, dt.date):
                return raw.isoformat()
            try:
                return dt.date.fromisoformat(str(raw)).isoformat()
            except ValueError:
                self.problem(path, f"not a date ({raw!r}; write e.g. 2026-12-24)")
                return None
        if isinstance(f, models.JSONField):
            return canonical_json(raw)
        if isinstance(raw, dict | list):
            self.problem(path, "expected a single value")
            return None
        if isinstance(f, models.BooleanField) and not isinstance(raw, bool):
            self.problem(path, "expected true or false")
            return None
        return raw.strip() if isinstance(raw, str) else raw

    def rows(
        self, fields: list[Any], raw: Any, path: str, extra: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(path, "expected a list")
            return []
        names = {f.name for f in fields}
        result = []
        for index, entry in enumerate(raw):
            here = f"{path}[{index}]"
            if not isinstance(entry, dict):
                self.problem(here, "expected a mapping of fields")
                continue
            for unknown in sorted(set(entry) - names - set(extra), key=str):
                self.problem(f"{here}.{unknown}", "unknown field")
            row = {}
            for f in fields:
                if f.name in entry:
                    row[f.name] = self.value(f, entry[f.name], f"{here}.{f.name}")
            row.update({k: entry[k] for k in extra if k in entry})
            result.append(row)
        return result


def read_document(text: str) -> tuple[dict[str, list[dict[str, Any]]], list[Problem]]:
    """The file's document in the export's canonical form, and what is wrong with its
        shape. A section left out of the file is left as it is; a field left out of an item keeps
    its current value (a new item: the model's default)."""
    reader = Reader()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return {}, [Problem("", f"not valid YAML: {exc}")]
    if not isinstance(raw, dict):
        return {}, [Problem("", "expected a mapping of sections")]
    known = {s.name for s in SECTIONS}
    for unknown in sorted(set(raw) - known, key=str):
        reader.problem(str(unknown), f"unknown section (known: {', '.join(sorted(known))})")
    document: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        if section.name not in raw:
            continue
        inline_keys = tuple(i.key for i in section.inlines)
        items = reader.rows(section.fields(), raw.get(section.name), section.name, inline_keys)
        for index, item in enumerate(items):
            here = f"{section.name}[{index}]"
            for inline in section.inlines:
                fields = model_fields(inline.model, parent=section.model)
                item[inline.key] = reader.rows(fields, item.get(inline.key), f"{here}.{inline.key}")
            missing = [k for k in section.key if item.get(k) in (None, "")]
            if missing:
                reader.problem(here, f"missing {', '.join(missing)}")
        seen: dict[tuple[str, ...], int] = {}
        for index, item in enumerate(items):
            key = sort_key(section.key)(item)
            if key in seen:
                reader.problem(
                    f"{section.name}[{index}]",
                    f"the same {'/'.join(section.key)} as {section.name}[{seen[key]}]",
                )
            seen.setdefault(key, index)
        document[section.name] = items
    return document, reader.problems


# -- Differences ------------------------------------------------------------------------------


@dataclass
class Change:
    section: str
    key: str
    action: str  # "added", "changed", "removed"
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{self.section}: {self.action} {self.key}"] + [
            f"    {name}: {describe(before, after)}" for name, before, after in self.fields
        ]


def describe(before: Any, after: Any) -> str:
    """One field's change; an inline row (a mapping) added or removed as a whole."""
    if isinstance(after, dict) and before is None:
        return f"added {after!r}"
    if isinstance(before, dict) and after is None:
        return f"removed {before!r}"
    return f"{before!r} -> {after!r}"


def item_label(section: Section, item: dict[str, Any]) -> str:
    return " / ".join(str(item.get(k)) for k in section.key)


def row_differences(
    inline: Inline, before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[tuple[str, Any, Any]]:
    """An inline's rows compared by their sort key (a target by its priority, opening hours
    by day and time): rows added or removed, and the fields changed in the others."""

    def label(row: dict[str, Any]) -> str:
        return ", ".join(f"{k}={row.get(k)}" for k in inline.sort if row.get(k) is not None)

    old = {sort_key(inline.sort)(r): r for r in before}
    new = {sort_key(inline.sort)(r): r for r in after}
    result: list[tuple[str, Any, Any]] = []
    for key in sorted(set(old) | set(new)):
        row_old, row_new = old.get(key), new.get(key)
        where = f"{inline.key}[{label(row_old or row_new)}]"
        if row_old is None or row_new is None:
            result.append((where, row_old, row_new))
            continue
        for name, value in row_new.items():
            if row_old.get(name) != value:
                result.append((f"{where}.{name}", row_old.get(name), value))
    return result


def differences(live: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What applying `new` changes in `live`, item by item and field by field (an item's
    fields left out of `new` are compared only when given)."""
    changes: list[Change] = []
    for section in SECTIONS:
        if section.name not in new:
            continue
        before = {sort_key(section.key)(i): i for i in live.get(section.name, [])}
        after = {sort_key(section.key)(i): i for i in new.get(section.name, [])}
        for key in sorted(set(before) | set(after)):
            old, fresh = before.get(key), after.get(key)
            if old is None:
                changes.append(Change(section.name, item_label(section, fresh), "added"))
            elif fresh is None:
                changes.append(Change(section.name, item_label(section, old), "removed"))
            else:
                inlines = {i.key: i for i in section.inlines}
                fields: list[tuple[str, Any, Any]] = []
                for name, value in fresh.items():
                    if name in inlines:
                        fields += row_differences(inlines[name], old.get(name) or [], value)
                    elif old.get(name) != value:
                        fields.append((name, old.get(name), value))
                if fields:
                    changes.append(
                        Change(section.name, item_label(section, fresh), "changed", fields)
                    )
    return changes
