"""The incident banner and the affected-service form on the ticket page (read-side
composition: the tickets app does not know about incidents)."""

from __future__ import annotations

from typing import Any

from django import template

from incidents import selectors
from incidents.models import IncidentEvent
from incidents.wording import describe_event
from tickets.forms import TicketServiceForm
from tickets.models import Ticket

register = template.Library()


@register.inclusion_tag("incidents/_ticket_banner.html", takes_context=True)
def incident_banner(context: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    """The running incident link of `ticket`, with the incident's latest update."""
    link = selectors.running_link(ticket)
    incident = link.incident if link else None
    return {
        "link": link,
        "incident": incident,
        "latest": selectors.latest_update(incident) if incident else None,
        "can_declare": incident is None
        and ticket.is_active
        and selectors.can_run_incidents(context["request"].user),
        "ticket": ticket,
    }


@register.inclusion_tag("incidents/_ticket_service.html", takes_context=True)
def ticket_service_form(context: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket": ticket,
        "form": TicketServiceForm(initial={"service": ticket.service_id}),
        "can_act": context.get("can_act", False),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def incident_event_text(event: IncidentEvent) -> str:
    """A timeline entry in the reader's language, from its stored facts."""
    return describe_event(event)
