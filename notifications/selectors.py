"""Reads of the notifications app: whether a ticket is escalated, and the communication
templates offered for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import formats, timezone, translation

from escalation.models import Escalation
from notifications.models import MessageTemplate
from tickets.models import Ticket

OPEN_ESCALATION = (Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED)


def is_escalated(ticket: Ticket) -> bool:
    """Whether the ticket is in an escalation now: an escalation up or across that is open or
    acknowledged (a hand-back down does not count), or it is a major incident."""
    return (
        ticket.is_major_incident
        or Escalation.objects.filter(ticket=ticket, status__in=OPEN_ESCALATION)
        .exclude(kind=Escalation.Kind.DE_ESCALATION)
        .exists()
    )


def _when(value: datetime | None) -> str:
    if value is None:
        return "–"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def template_values(ticket: Ticket, now: datetime | None = None) -> dict[str, str]:
    """The placeholder values of `ticket`, in the active language and time zone."""
    now = now or timezone.now()
    assignee = ticket.assignee
    return {
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": str(ticket.get_status_display()),
        "priority": str(ticket.get_priority_display()),
        "team": ticket.team.name,
        "level": ticket.level.display_name,
        "assignee": (assignee.get_full_name() or assignee.get_username()) if assignee else "–",
        "customer": ticket.customer.name if ticket.customer_id else "–",
        "next_update_due": _when(ticket.next_update_due_at),
        "now": _when(now),
    }


@dataclass(frozen=True)
class TemplateChoice:
    """One template for the reply box: its text already filled in for the ticket."""

    id: int
    name: str
    kind: str
    kind_label: str
    language: str
    body: str


def templates_for(
    ticket: Ticket,
    language: str,
    *,
    now: datetime | None = None,
    escalated: bool | None = None,
) -> list[TemplateChoice]:
    """The communication templates an agent can start a message on `ticket` from: for an
    escalated ticket the initial escalation notice, the status update and the closing report,
    in `language` (falling back to the site's language per kind), with the placeholders
    filled. Empty for a ticket that is not escalated. A caller that has the ticket's
    escalations at hand passes `escalated` (see `is_escalated`) and saves the query."""
    if not (is_escalated(ticket) if escalated is None else escalated):
        return []
    active = MessageTemplate.objects.filter(is_active=True)
    languages = [language, settings.LANGUAGE_CODE]
    rows = list(active.filter(language__in=languages).order_by("order", "pk"))
    have = {row.kind for row in rows if row.language == language}
    chosen = [row for row in rows if row.language == language or row.kind not in have]
    order = {kind: i for i, kind in enumerate(MessageTemplate.Kind.values)}
    chosen.sort(key=lambda row: (order.get(row.kind, 99), row.order, row.pk))
    with translation.override(language):
        values = template_values(ticket, now)
        return [
            TemplateChoice(
                id=row.pk,
                name=row.display_name,
                kind=row.kind,
                kind_label=str(row.get_kind_display()),
                language=row.language,
                body=row.render(values),
            )
            for row in chosen
        ]
