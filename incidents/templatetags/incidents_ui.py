"""The incident banner and the affected-service form on the ticket page (read-side
composition: the tickets app does not know about incidents)."""

from __future__ import annotations

from typing import Any

from django import template

from incidents import selectors
from incidents.models import IncidentEvent
from incidents.wording import describe_event
from tickets.models import Ticket
from tickets.selectors import active_services

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
        and selectors.can_run_incidents(
            context["request"].user,
            in_runner_team=getattr(ticket, selectors.IN_RUNNER_TEAM, None),
        ),
        "ticket": ticket,
    }


@register.inclusion_tag("incidents/_ticket_service.html", takes_context=True)
def ticket_service_form(context: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    """The affected-service form (`TicketServiceForm`, posted to `incidents:ticket_service`)
    for agents; the service as text for other readers. Its choices are the active services,
    cached per process (`tickets.selectors.active_services`)."""
    can_act = context.get("can_act", False)
    return {
        "ticket": ticket,
        "services": active_services() if can_act else [],
        "can_act": can_act,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def incident_event_text(event: IncidentEvent) -> str:
    """A timeline entry in the reader's language, from its stored facts."""
    return describe_event(event)
