"""Drafts, publishing and rollback: every change to the live configuration is a version.

A draft holds a configuration document (the YAML of `manage.py config export`) beside the live
configuration; checking it runs the import's own validation as a dry run, so nothing live
changes. Publishing applies it through the same import path in one transaction and records the
configuration that is then live as a new `ConfigVersion`; rolling back applies an earlier
version's document the same way. The SLA clocks of open tickets are recomputed in the worker
after the commit when calendars, policies or the severity matrix changed (the import queues it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from lab.config import (
    Change,
    Problem,
    differences,
    dump,
    export_configuration,
    read_document,
)
from lab.models import ConfigVersion, Draft
from lab.services import config_import


@dataclass
class Outcome:
    """What publishing or rolling back did: the new version, or why nothing was written."""

    version: ConfigVersion | None = None
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    recomputed: int = 0
    # Nothing to do in the current state (published already, live already, or a stale draft
    # not confirmed), not a refusal of the document: the API's 409.
    conflict: bool = False
    # A stale draft: what was made live since it was made (publishing it would undo that),
    # and the fingerprint of the live configuration that a confirmation must name.
    changed_since: list[Change] = field(default_factory=list)
    live: str = ""


def live_document() -> str:
    return dump(export_configuration())


def fingerprint(document: str) -> str:
    """A short digest of a configuration document: what a confirmation to publish a stale
    draft names, so that it covers exactly the live configuration the admin saw."""
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def stamp_base(draft: Draft) -> None:
    """Record what a new draft is made from: the live document and the newest version."""
    draft.base_document = live_document()
    draft.based_on = ConfigVersion.objects.order_by("-number").first()


def new_draft(*, name: str, reason: str, user: Any) -> Draft:
    """A draft that starts as a copy of the live configuration."""
    draft = Draft(name=name, reason=reason, created_by=user)
    stamp_base(draft)
    draft.document = draft.base_document
    draft.save()
    return draft


def changed_since(draft: Draft) -> tuple[list[Change], str]:
    """What went live since the draft was made (empty when nothing did, or for a draft from
    before drafts recorded their base), and the live configuration's fingerprint."""
    live = live_document()
    if not draft.base_document or draft.base_document == live:
        return [], fingerprint(live)
    base, problems = read_document(draft.base_document)
    if problems:  # written by the export itself; unreadable only if the format changed
        return [], fingerprint(live)
    return differences(base, export_configuration()), fingerprint(live)


def check_document(text: str, user: Any) -> tuple[list[Change], list[Problem]]:
    """What the document would change in the live configuration, and what the admin's
    validation refuses in it (a dry run: nothing is written)."""
    result = config_import(text=text, user=user, dry_run=True)
    return result.changes, result.problems


def line_of(text: str, path: str) -> int | None:
    """The line (1-based) of the file where `path` ("teams[1].escalates_to") is written, or of
    the nearest item above it that is; None for a problem of the whole file."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return mark.line + 1 if mark is not None else None
    line = None
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        child = None
        if part.startswith("[") and isinstance(node, yaml.SequenceNode):
            index = int(part.strip("[]"))
            child = node.value[index] if index < len(node.value) else None
            where = child
        elif isinstance(node, yaml.MappingNode):
            where, child = next(((k, v) for k, v in node.value if k.value == part), (None, None))
        if child is None:
            break
        line = where.start_mark.line + 1
        node = child
    return line


@dataclass(frozen=True)
class Located:
    """A problem of a document with the line (1-based) where its path is written."""

    path: str
    line: int | None
    message: str


def locate(text: str, problems: list[Problem]) -> list[Located]:
    """The problems of `text` with their lines (None for a problem of the whole file)."""
    return [Located(p.path, line_of(text, p.path) if p.path else None, p.message) for p in problems]


def problem_text(text: str, problem: Problem) -> str:
    """A problem as the admin and the API show it: "Line 41: path: message"."""
    line = line_of(text, problem.path) if problem.path else None
    if line is None:
        return str(problem)
    return _("Line %(line)s: %(problem)s") % {"line": line, "problem": problem}


def lock_configuration() -> None:
    """Wait for any other publish, import or rollback to commit, and hold them off until this
    transaction ends: each reads the live configuration and the newest version number, so two
    at once would diff against the same state and collide on the next number. A table lock
    on the versions (self-conflicting, while plain reads go on) works even before the first
    version exists, where a row lock would have no row to lock. SQLite lets one writer in at
    a time anyway. Must run inside the transaction, first."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f'LOCK TABLE "{ConfigVersion._meta.db_table}" IN SHARE ROW EXCLUSIVE MODE'
            )


def record_version(*, kind: str, reason: str, user: Any, restores=None) -> ConfigVersion:
    """The live configuration, as it stands in this transaction, as the next version."""
    number = (ConfigVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    return ConfigVersion.objects.create(
        number=number,
        kind=kind,
        document=live_document(),
        reason=reason,
        created_by=user,
        restores=restores,
    )


def apply_as_version(text: str, *, kind: str, reason: str, user: Any, restores=None) -> Outcome:
    """Apply `text` through the import in this transaction and record the result as a version;
    the configuration before the lab's first change is kept as version 1 so it can be restored.
    The caller holds `lock_configuration()`."""
    if not ConfigVersion.objects.exists():
        record_version(kind=ConfigVersion.Kind.BASELINE, reason="", user=user)
    result = config_import(text=text, user=user, dry_run=False)
    if result.problems:
        return Outcome(changes=result.changes, problems=result.problems)
    version = record_version(kind=kind, reason=reason, user=user, restores=restores)
    return Outcome(version=version, changes=result.changes, recomputed=result.recomputed)


def publish(draft_id: int, *, user: Any, confirm: str = "") -> Outcome:
    """Make a draft live (once: a second submit of the same draft finds it published).

    A draft made from an older configuration would silently undo what went live since: it is
    refused (a conflict with `changed_since`) unless `confirm` is the fingerprint of the live
    configuration the admin was shown those changes against."""
    with transaction.atomic():
        lock_configuration()
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if draft.published_as_id is not None:
            return Outcome(
                problems=[Problem("", _("This draft has already been published."))], conflict=True
            )
        since, live = changed_since(draft)
        if since and confirm != live:
            message = _(
                "This draft was made from an older configuration: %(count)s change(s) went "
                "live since, and publishing it would undo them. Check them, then confirm to "
                "publish anyway."
            ) % {"count": len(since)}
            return Outcome(
                problems=[Problem("", message)], conflict=True, changed_since=since, live=live
            )
        outcome = apply_as_version(
            draft.document, kind=ConfigVersion.Kind.PUBLISHED, reason=draft.reason, user=user
        )
        if outcome.version is None:
            transaction.set_rollback(True)
            return outcome
        draft.published_as = outcome.version
        draft.save(update_fields=["published_as", "updated_at"])
        return outcome


def rollback(version_id: int, *, user: Any, reason: str = "") -> Outcome:
    """Make an earlier version's configuration live again, as a new version. Nothing happens
    when it is already the live configuration (so a double submit has one effect)."""
    with transaction.atomic():
        lock_configuration()
        target = ConfigVersion.objects.get(pk=version_id)
        if target.document == live_document():
            return Outcome(
                problems=[Problem("", _("This version is already the live configuration."))],
                conflict=True,
            )
        outcome = apply_as_version(
            target.document,
            kind=ConfigVersion.Kind.ROLLBACK,
            reason=reason,
            user=user,
            restores=target,
        )
        if outcome.version is None:
            transaction.set_rollback(True)
        return outcome


def import_document(text: str, *, user: Any, reason: str, dry_run: bool) -> Outcome:
    """Check a configuration document (`dry_run`: the differences and problems, nothing
    written) or apply it as a new version of kind "imported" — what `manage.py config import`
    and the API's import do. A document that changes nothing records no version."""
    if dry_run:
        changes, problems = check_document(text, user)
        return Outcome(changes=changes, problems=problems)
    with transaction.atomic():
        lock_configuration()
        document, problems = read_document(text)
        if not problems and not differences(export_configuration(), document):
            return Outcome()  # the live configuration already: no version (a resubmit too)
        outcome = apply_as_version(text, kind=ConfigVersion.Kind.IMPORTED, reason=reason, user=user)
        if outcome.version is None:
            transaction.set_rollback(True)
        return outcome
