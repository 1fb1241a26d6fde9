"""Writes of closing reports and preventive measures: one use case each, one transaction each.

Every write lands in the ticket's timeline (a "details changed" entry whose payload names the
closing report, worded at display time) and tells people through the outbox
(`notifications.services.notify`): the ticket's owner when a resolved ticket still needs its
report, a measure's owner when it is assigned and when it falls due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from lessons import prefill
from lessons.models import CauseCategory, ClosingReport, Measure
from lessons.rules import has_report, level_reached, requires_report
from notifications.models import Notification
from notifications.services import notify
from tickets.models import Ticket, TicketEvent
from tickets.services import StaleRequest, is_agent, record_event

K = Notification.Kind


class LessonsError(ValidationError):
    """A request on a closing report or measure that cannot be carried out; says why."""


def can_write(ticket: Ticket, user: AbstractBaseUser | None) -> bool:
    """Agents who may read the ticket (`visible_to`) write and change its closing report."""
    if not is_agent(user):
        return False
    return Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists()  # type: ignore[arg-type]


def _require_writer(ticket: Ticket, actor: AbstractBaseUser) -> None:
    if not can_write(ticket, actor):
        raise PermissionDenied(_("You may not write the closing report of this ticket."))


def _audit(ticket: Ticket, actor: AbstractBaseUser | None, now: dt.datetime, **facts: Any) -> None:
    # An existing kind with a payload of its own: the timeline words it (tickets_ui); a new
    # kind would change the ticket app's schema for a label.
    record_event(ticket, TicketEvent.Kind.DETAILS_CHANGED, actor=actor, now=now, payload=facts)


@transaction.atomic
def report_save(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    category: CauseCategory,
    texts: Mapping[str, str],
    expected_version: int,
    now: dt.datetime | None = None,
) -> ClosingReport:
    """Write the closing report of `ticket`, or change it.

    `texts` holds `ClosingReport.TEXT_FIELDS`; `expected_version` is the report's version the
    form was made from (0 for a new one). Raises PermissionDenied unless `actor` may write it
    (`can_write`), StaleRequest when the report changed meanwhile (so a double submit writes
    once), LessonsError for a missing cause, solution or lessons learned."""
    now = now or timezone.now()
    ticket = (
        Ticket.objects.select_for_update(of=("self",)).select_related("level").get(pk=ticket.pk)
    )
    _require_writer(ticket, actor)
    missing = {
        name: [_("This field is required.")]
        for name in ("cause", "solution", "lessons_learned")
        if not (texts.get(name) or "").strip()
    }
    if missing:
        raise LessonsError(missing)
    report = ClosingReport.objects.filter(ticket=ticket).first()
    current = report.version if report is not None else 0
    if expected_version != current:
        raise StaleRequest(
            _("The closing report was changed meanwhile; nothing was saved. Check it again.")
        )
    values = {name: (texts.get(name) or "").strip() for name in ClosingReport.TEXT_FIELDS}
    if report is None:
        report = ClosingReport(ticket=ticket, created_by=actor, created_at=now)
        changed = ["category", *(name for name, value in values.items() if value)]
        what = "written"
    else:
        changed = [name for name, value in values.items() if getattr(report, name) != value]
        if report.category_id != category.pk:
            changed.insert(0, "category")
        what = "updated"
    for name, value in values.items():
        setattr(report, name, value)
    report.category = category
    report.level_rank = level_reached(ticket)
    report.updated_by = actor
    report.updated_at = now
    report.version = current + 1
    report.save()
    ClosingReport.objects.filter(pk=report.pk).refresh_search_vectors()
    _audit(ticket, actor, now, closing_report=what, fields=changed)
    return report


def report_from_draft(
    *, ticket: Ticket, actor: AbstractBaseUser, now: dt.datetime | None = None
) -> ClosingReport | None:
    """Write the closing report `ticket` needs straight from its timeline's draft
    (`lessons.prefill.draft`), in the first active category — for the demo's history, which
    closes tickets no person documents. None when the ticket needs no report, has one, or the
    draft lacks a cause, a solution or lessons learned."""
    category = CauseCategory.objects.filter(is_active=True).order_by("pk").first()
    if category is None or has_report(ticket) or not requires_report(ticket):
        return None
    texts = prefill.draft(ticket)
    if not all(texts[name] for name in ("cause", "solution", "lessons_learned")):
        return None
    return report_save(
        ticket=ticket,
        actor=actor,
        category=category,
        texts=texts,
        expected_version=0,
        now=now,
    )


def _lock_report(report: ClosingReport) -> ClosingReport:
    return (
        ClosingReport.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .get(pk=report.pk)
    )


def _measure_payload(measure: Measure) -> dict[str, Any]:
    return {
        "reference": measure.report.ticket.reference,
        "title": measure.title,
        "due_on": measure.due_on.isoformat(),
        "measure": measure.pk,
    }


def _require_owner(owner: AbstractBaseUser) -> None:
    if not is_agent(owner):
        raise LessonsError({"owner": [_("The owner must be an active agent.")]})


@transaction.atomic
def measure_add(
    *,
    report: ClosingReport,
    actor: AbstractBaseUser,
    title: str,
    owner: AbstractBaseUser,
    due_on: dt.date,
    expected_version: int,
    now: dt.datetime | None = None,
) -> Measure:
    """Track a preventive measure of `report` as a follow-up task of `owner`, due `due_on`;
    the owner is told. The report's version grows, so a double submit adds it once
    (StaleRequest). PermissionDenied unless `actor` may write the report."""
    now = now or timezone.now()
    report = _lock_report(report)
    _require_writer(report.ticket, actor)
    if report.version != expected_version:
        raise StaleRequest(_("The closing report was changed meanwhile; nothing was added."))
    title = title.strip()
    if not title:
        raise LessonsError({"title": [_("This field is required.")]})
    _require_owner(owner)
    measure = Measure.objects.create(
        report=report, title=title, owner=owner, due_on=due_on, created_by=actor, created_at=now
    )
    report.version += 1
    report.save(update_fields=["version"])
    _audit(report.ticket, actor, now, closing_report="measure_added", measure=title)
    _tell_assigned(measure, now)
    return measure


def _tell_owner(measure: Measure, kind: str, cause: str, now: dt.datetime) -> None:
    """Tell the measure's owner (once per `cause`), in the app and by email."""
    notify(
        [measure.owner],
        kind=kind,
        ticket=measure.report.ticket,
        cause=f"measure:{measure.pk}:{cause}",
        payload=_measure_payload(measure),
        now=now,
        urgent=False,
    )


def _tell_assigned(measure: Measure, now: dt.datetime) -> None:
    _tell_owner(measure, K.MEASURE_ASSIGNED, f"owner:{measure.owner_id}", now)


@transaction.atomic
def measure_change(
    *,
    measure: Measure,
    actor: AbstractBaseUser,
    title: str,
    owner: AbstractBaseUser,
    due_on: dt.date,
    now: dt.datetime | None = None,
) -> Measure:
    """Change a measure's title, owner or due date (the admin); a new owner is told, a new
    due date is reminded of again."""
    now = now or timezone.now()
    measure = (
        Measure.objects.select_for_update(of=("self",))
        .select_related("report__ticket")
        .get(pk=measure.pk)
    )
    _require_owner(owner)
    new_owner = measure.owner_id != owner.pk
    measure.title, measure.owner, measure.due_on = title.strip() or measure.title, owner, due_on
    measure.save(update_fields=["title", "owner", "due_on"])
    if new_owner:
        _tell_assigned(measure, now)
    return measure


def can_complete(measure: Measure, user: AbstractBaseUser | None) -> bool:
    """The owner marks a measure done, and so does anyone who may write its report."""
    if user is None or not user.is_authenticated:
        return False
    return measure.owner_id == user.pk or can_write(measure.report.ticket, user)


@transaction.atomic
def measure_done(
    *, measure: Measure, actor: AbstractBaseUser, now: dt.datetime | None = None
) -> Measure:
    """Mark `measure` done. Done once: a second request (a double click) changes nothing.
    PermissionDenied unless `can_complete`."""
    now = now or timezone.now()
    measure = (
        Measure.objects.select_for_update(of=("self",))
        .select_related("report__ticket")
        .get(pk=measure.pk)
    )
    if not can_complete(measure, actor):
        raise PermissionDenied(_("Only its owner and the report's writers can mark it done."))
    if measure.done_at is not None:
        return measure
    measure.done_at, measure.done_by = now, actor
    measure.save(update_fields=["done_at", "done_by"])
    _audit(measure.report.ticket, actor, now, closing_report="measure_done", measure=measure.title)
    return measure


def remind_due_measures(now: dt.datetime | None = None) -> int:
    """Tell the owners of open measures that fall due today or are overdue, once per due
    date (a conditional update claims each: two sweeps at once remind once). Returns how many
    owners were told."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    told = 0
    due = (
        Measure.objects.open()
        .filter(due_on__lte=today)
        .exclude(reminded_for=F("due_on"))
        .select_related("report__ticket", "owner")
        .order_by("due_on", "pk")[:500]
    )
    for measure in due:
        with transaction.atomic():
            claimed = (
                Measure.objects.filter(pk=measure.pk, done_at__isnull=True)
                .exclude(reminded_for=measure.due_on)
                .update(reminded_for=measure.due_on)
            )
            if not claimed:
                continue
            _tell_owner(measure, K.MEASURE_DUE, f"due:{measure.due_on.isoformat()}", now)
            told += 1
    return told


def report_owner(ticket: Ticket) -> AbstractBaseUser | None:
    """Who is asked for the closing report: the ticket's assignee, else its team's lead."""
    if ticket.assignee_id is not None:
        return ticket.assignee
    return ticket.team.lead if ticket.team_id is not None else None


def on_ticket_change(
    ticket: Ticket, changes: frozenset[str], now: dt.datetime, actor: AbstractBaseUser | None
) -> None:
    """The change hook (registered in `LessonsConfig.ready`): a ticket resolved without the
    closing report it needs reminds its owner, once per resolution."""
    if "resolve" not in changes or has_report(ticket) or not requires_report(ticket):
        return
    owner = report_owner(ticket)
    if owner is None or not owner.is_active:
        return
    stamp = int((ticket.resolved_at or now).timestamp())
    notify(
        [owner],
        kind=K.CLOSING_REPORT_DUE,
        ticket=ticket,
        cause=f"closing_report:{ticket.pk}:{stamp}",
        payload={"reference": ticket.reference},
        now=now,
        urgent=False,
    )


# The changes the hook acts on: the sweep's set-based lane, which never changes a ticket's
# status, may run beside it (escalation.bulk.available).
on_ticket_change.changes_watched = frozenset({"resolve"})  # type: ignore[attr-defined]
