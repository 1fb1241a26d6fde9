"""Template helpers of the agent UI: badges, readable timeline events, and the agent check.

`{% load tickets_ui %}`. Everything returned here is plain text, escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import template
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.forms import BoundField
from django.http import HttpRequest
from django.utils.translation import gettext as _

from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.priority import Impact, Priority, Urgency

register = template.Library()

STATUS_COLOURS = {
    Ticket.Status.NEW: "info",
    Ticket.Status.OPEN: "primary",
    Ticket.Status.PENDING: "warning",
    Ticket.Status.RESOLVED: "success",
    Ticket.Status.CLOSED: "secondary",
}
PRIORITY_COLOURS = {
    Priority.CRITICAL: "danger",
    Priority.HIGH: "warning",
    Priority.MEDIUM: "info",
    Priority.LOW: "secondary",
}


def _label(choices: Any, value: Any) -> str:
    """The display label of `value` in an enum of choices, or the raw value if unknown."""
    try:
        return str(choices(value).label)
    except (ValueError, TypeError):
        return "" if value is None else str(value)


@register.inclusion_tag("components/status_badge.html")
def status_badge(status: str) -> dict[str, Any]:
    return {
        "label": _label(Ticket.Status, status),
        "colour": STATUS_COLOURS.get(status, "secondary"),
        "status": status,
    }


@register.inclusion_tag("components/priority_badge.html")
def priority_badge(priority: int, overridden: bool = False) -> dict[str, Any]:
    return {
        "label": _label(Priority, priority),
        "colour": PRIORITY_COLOURS.get(priority, "secondary"),
        "priority": priority,
        "overridden": overridden,
    }


@register.filter
def user_label(user: AbstractBaseUser | AnonymousUser | None) -> str:
    if user is None or not user.is_authenticated:
        return ""
    return user.get_full_name() or user.get_username()


@register.simple_tag(takes_context=True)
def user_is_agent(context: template.Context) -> bool:
    """Whether the current user is an agent, computed once per request."""
    request: HttpRequest | None = context.get("request")
    if request is None:
        return False
    if not hasattr(request, "_helpdesk_is_agent"):
        request._helpdesk_is_agent = services.is_agent(request.user)  # type: ignore[attr-defined]
    return request._helpdesk_is_agent  # type: ignore[attr-defined]


@dataclass
class EventView:
    """A timeline event as the page shows it: one sentence, an optional reason, details."""

    sentence: str
    reason: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)


def _generic_details(payload: dict[str, Any], skip: set[str]) -> list[tuple[str, str]]:
    details = []
    for key, value in payload.items():
        if key in skip or value in (None, "", [], {}):
            continue
        details.append((key.replace("_", " ").capitalize(), str(value)))
    return details


@register.simple_tag
def describe_event(event: TicketEvent) -> EventView:
    """A readable sentence for `event`, in the current language, with its payload."""
    k = TicketEvent.Kind
    p: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    actor = user_label(event.actor) if event.actor_id else ""
    reason = str(p.get("reason") or "")
    kind = event.kind

    if kind == k.CREATED:
        values = {
            "actor": actor,
            "team": p.get("team", ""),
            "priority": _label(Priority, p.get("priority")),
            "channel": _label(Ticket.Channel, p.get("channel")),
        }
        if actor:
            text = _(
                "Ticket created by %(actor)s for team %(team)s "
                "with priority %(priority)s (channel: %(channel)s)."
            )
        else:
            text = _(
                "Ticket created for team %(team)s with priority %(priority)s "
                "(channel: %(channel)s)."
            )
        view = EventView(text % values)
        if p.get("assignee"):
            view.details.append((_("Assignee"), str(p["assignee"])))
        return view

    if kind == k.TRANSITIONED:
        values = {
            "from": _label(Ticket.Status, p.get("from")),
            "to": _label(Ticket.Status, p.get("to")),
            "actor": actor,
        }
        if actor and not p.get("automatic"):
            return EventView(_("Status changed from %(from)s to %(to)s by %(actor)s.") % values)
        return EventView(_("Status changed automatically from %(from)s to %(to)s.") % values)

    if kind == k.ASSIGNED:
        values = {"from": p.get("from") or "", "to": p.get("to") or "", "actor": actor}
        if values["to"] and values["from"]:
            text = (
                _("Reassigned from %(from)s to %(to)s by %(actor)s.")
                if actor
                else _("Reassigned automatically from %(from)s to %(to)s.")
            )
        elif values["to"]:
            text = (
                _("Assigned to %(to)s by %(actor)s.")
                if actor
                else _("Assigned automatically to %(to)s.")
            )
        else:
            text = (
                _("%(from)s was unassigned by %(actor)s.")
                if actor
                else _("%(from)s was unassigned automatically.")
            )
        return EventView(text % values, reason=reason)

    if kind == k.TEAM_CHANGED:
        values = {"from": p.get("from", ""), "to": p.get("to", ""), "actor": actor}
        text = (
            _("Moved from team %(from)s to team %(to)s by %(actor)s.")
            if actor
            else _("Moved automatically from team %(from)s to team %(to)s.")
        )
        return EventView(text % values, reason=reason)

    if kind == k.LEVEL_CHANGED:
        values = {"from": p.get("from", ""), "to": p.get("to", ""), "actor": actor}
        text = (
            _("Support level changed from level %(from)s to level %(to)s by %(actor)s.")
            if actor
            else _("Support level changed automatically from level %(from)s to level %(to)s.")
        )
        return EventView(text % values, reason=reason)

    if kind == k.PRIORITY_CHANGED:
        before = p.get("from") if isinstance(p.get("from"), dict) else {}
        after = p.get("to") if isinstance(p.get("to"), dict) else {}
        values = {
            "from": _label(Priority, before.get("priority")),
            "to": _label(Priority, after.get("priority")),
            "actor": actor,
        }
        if before.get("priority") != after.get("priority"):
            text = (
                _("Priority changed from %(from)s to %(to)s by %(actor)s.")
                if actor
                else _("Priority changed automatically from %(from)s to %(to)s.")
            )
        else:
            text = (
                _("Impact and urgency re-assessed by %(actor)s; the priority stays %(to)s.")
                if actor
                else _("Impact and urgency re-assessed automatically; the priority stays %(to)s.")
            )
        view = EventView(text % values, reason=reason)
        for key, label, choices in (
            ("impact", _("Impact"), Impact),
            ("urgency", _("Urgency"), Urgency),
        ):
            if before.get(key) != after.get(key):
                change = _("%(from)s → %(to)s") % {
                    "from": _label(choices, before.get(key)),
                    "to": _label(choices, after.get(key)),
                }
                view.details.append((label, change))
        return view

    if kind == k.FOLLOWED:
        return EventView(_("%(actor)s started following this ticket.") % {"actor": actor})
    if kind == k.UNFOLLOWED:
        return EventView(_("%(actor)s stopped following this ticket.") % {"actor": actor})

    # Kinds that other parts of the system write (escalation, SLA, notifications): a sentence
    # per kind, and their payload as plain details.
    with_actor = {
        k.REPLIED: _("Public reply by %(actor)s."),
        k.NOTE_ADDED: _("Internal note by %(actor)s."),
        k.CUSTOMER_MESSAGE: _("Customer message recorded by %(actor)s."),
        k.ESCALATED: _("Escalated by %(actor)s."),
        k.ACKNOWLEDGED: _("Escalation acknowledged by %(actor)s."),
        k.DE_ESCALATED: _("De-escalated by %(actor)s."),
        k.MAJOR_INCIDENT: _("Marked as a major incident by %(actor)s."),
    }
    without_actor = {
        k.REPLIED: _("Public reply."),
        k.NOTE_ADDED: _("Internal note."),
        k.CUSTOMER_MESSAGE: _("Customer message."),
        k.ESCALATED: _("Escalated automatically."),
        k.ACKNOWLEDGED: _("Escalation acknowledged."),
        k.DE_ESCALATED: _("De-escalated."),
        k.MAJOR_INCIDENT: _("Marked as a major incident."),
        k.SLA_WARNING: _("SLA warning: a target is close to its deadline."),
        k.SLA_BREACH: _("SLA breached: a target missed its deadline."),
        k.SLA_RECOMPUTED: _("SLA deadlines recomputed."),
        k.NOTIFIED: _("Notification sent."),
    }
    if actor and kind in with_actor:
        text = with_actor[kind] % {"actor": actor}
    elif kind in without_actor:
        text = without_actor[kind]
    else:
        text = event.get_kind_display()
    return EventView(text, reason=reason, details=_generic_details(p, {"reason"}))


@register.filter
def with_class(field: BoundField, css: str) -> str:
    """Render a form field's widget with an extra CSS class (for forms we do not own, such as
    Django's login form)."""
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})
