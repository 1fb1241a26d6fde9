"""The closing report's place on the ticket page: once a ticket that needs one is resolved,
a banner says whether it is written and links to it."""

from __future__ import annotations

from typing import Any

from django import template

from lessons.rules import has_report, requires_report
from tickets.models import Ticket

register = template.Library()


@register.inclusion_tag("lessons/_ticket_banner.html")
def closing_report_banner(ticket: Ticket) -> dict[str, Any]:
    """Nothing for an active ticket (no query); for a resolved or closed one that needs a
    closing report, whether it has it (one or two queries)."""
    shown = ticket.status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED) and requires_report(
        ticket
    )
    return {"ticket": ticket, "shown": shown, "written": shown and has_report(ticket)}
