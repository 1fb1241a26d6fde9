"""Template helpers of the agent UI: status, priority and SLA badges, human durations
(`duration_human`), readable timeline events and clock segments, and the agent check.

`{% load tickets_ui %}`. Everything returned here is plain text, escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.forms import BoundField
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.dateformat import DateFormat
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from escalation.models import Escalation, EscalationRule
from helpdesk.formats import (
    deadline_human,
    deadline_instant,
    duration_human,
    instant_human,
    relative_time,
)
from sla.models import ClockSegment
from tickets import selectors, services
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


def _detail_label(name: str) -> str:
    """A ticket field's name as its readers call it ("affected service")."""
    return str(Ticket._meta.get_field(name).verbose_name)


def _label(choices: Any, value: Any) -> str:
    """The display label of `value` in an enum of choices, or the raw value if unknown."""
    try:
        return str(choices(value).label)
    except (ValueError, TypeError):
        return "" if value is None else str(value)


# The status and priority badges are tags rather than includes: every list row shows each
# twice (narrow and wide layouts), and an include costs several times the markup it writes.
@register.simple_tag
def status_badge(status: str) -> str:
    return format_html(
        '<span class="badge rounded-pill text-bg-{} status-badge status-{}">{}</span>',
        STATUS_COLOURS.get(status, "secondary"),
        status,
        _label(Ticket.Status, status),
    )


@register.simple_tag
def priority_badge(priority: int, overridden: bool = False) -> str:
    colour = PRIORITY_COLOURS.get(priority, "secondary")
    label = _label(Priority, priority)
    if not overridden:
        return format_html(
            '<span class="badge priority-badge priority-{} text-bg-{}">{}</span>',
            priority,
            colour,
            label,
        )
    return format_html(
        '<span class="badge priority-badge priority-{} text-bg-{}" title="{}">{}'
        ' <span aria-hidden="true">✎</span><span class="visually-hidden">{}</span></span>',
        priority,
        colour,
        _("Set by hand, not derived from impact and urgency"),
        label,
        _("(set by hand)"),
    )


SLA_COLOURS = {
    selectors.SlaState.RUNNING: "success",
    selectors.SlaState.WARNING: "warning",
    selectors.SlaState.BREACHED: "danger",
    selectors.SlaState.PAUSED: "secondary",
    selectors.SlaState.MET: "light",
    selectors.SlaState.STOPPED: "light",
}
ESCALATION_STATUS_COLOURS = {
    Escalation.Status.RAISED: "warning",
    Escalation.Status.ACKNOWLEDGED: "success",
    Escalation.Status.ESCALATED_FURTHER: "secondary",
    Escalation.Status.CLOSED: "light",
}


register.filter("duration_human", duration_human)
register.filter("relative_time", relative_time)
# Deadlines in emails: the full instant, nothing that goes stale in the inbox.
register.filter("deadline", deadline_instant)
register.filter("instant", instant_human)


@register.simple_tag
def time_element(value: datetime | None, relative: bool = False) -> str:
    """`components/datetime.html` as a tag: the same `<time>` element without the cost of an
    include, for rows repeated on a page (timeline entries, list rows)."""
    if value is None:
        return ""
    shown = relative_time(value) if relative else None
    # What the `date` filter writes, which expects the viewer's local time (templates convert
    # before filtering); one formatter for the four renderings (the filter makes one each).
    local = DateFormat(timezone.localtime(value) if timezone.is_aware(value) else value)
    if shown is None:
        shown = local.format(formats.get_format("SHORT_DATETIME_FORMAT"))
    return format_html(
        '<time datetime="{}" title="{} ({})">{}</time>',
        local.format("c"),
        local.format(formats.get_format("DATETIME_FORMAT")),
        local.format("T"),
        shown,
    )


def _instant(value: datetime | None) -> str:
    """An instant in the viewer's time zone, with the zone's abbreviation."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} ({local.tzname()})"


# The SLA badge is a tag, not an include: every row of the list and of the escalation overview
# shows one.
_NO_SLA = '<span class="text-body-secondary small sla-none" title="{}">—</span>'
_AT_RISK = '<span aria-hidden="true">⚠ </span><span class="visually-hidden">{} </span>'
_BREACHED_EARLIER = SafeString(' <span class="sla-earlier" aria-hidden="true">!</span>')


@register.simple_tag
def sla_badge(badge: selectors.SlaBadge | None, with_target: bool = False) -> str:
    """A colour-coded SLA badge: text that says the state, the exact due instant on hover (and
    for screen readers); a dash when no deadline is running."""
    if badge is None:
        return format_html(_NO_SLA, _("No SLA deadline is running."))
    title = sla_badge_title(badge)
    due = ""
    if badge.due_at:
        due = format_html(' data-due="{}"', timezone.localtime(badge.due_at).isoformat())
    return format_html(
        '<span class="badge sla-badge sla-{} text-bg-{}" title="{}"{}>{}{}{}</span>'
        '<span class="visually-hidden"> {}</span>',
        badge.state,
        SLA_COLOURS.get(badge.state, "secondary"),
        title,
        due,
        format_html(_AT_RISK, _("At risk:")) if badge.state == selectors.SlaState.WARNING else "",
        sla_badge_text(badge, with_target),
        _BREACHED_EARLIER if badge.breached_before else "",
        title,
    )


def sla_badge_text(badge: selectors.SlaBadge, with_target: bool = False) -> str:
    """What an SLA badge says: the state or the time left ("Resolution: 2 h left" with the
    target)."""
    if badge.state == selectors.SlaState.PAUSED or badge.due_at is None:
        text = _("SLA paused")
    else:
        text = deadline_human(
            badge.due_at,
            # A list badge's remaining time is wall-clock: it says at which `now` it was read.
            now=None
            if badge.business or badge.remaining is None
            else badge.due_at - badge.remaining,
            remaining=badge.remaining if badge.business else None,
            business=badge.business,
        )
    if with_target:
        text = _("%(target)s: %(state)s") % {"target": badge.label, "state": text}
    return text


def sla_badge_title(badge: selectors.SlaBadge) -> str:
    """An SLA badge's hover text (and its screen-reader text): the due instant and why."""
    title = []
    if badge.due_at is not None:
        title.append(
            _("%(target)s due %(instant)s.")
            % {"target": badge.label, "instant": _instant(badge.due_at)}
        )
    if badge.business and badge.remaining is not None:
        title.append(_("Counted in business time."))
    if badge.state == selectors.SlaState.WARNING:
        title.append(_("The warning threshold has passed."))
    elif badge.state == selectors.SlaState.BREACHED:
        title.append(_("The target is breached."))
    if badge.paused_since is not None:
        title.append(
            _("The clock has been paused since %(instant)s while waiting on the customer.")
            % {"instant": _instant(badge.paused_since)}
        )
    if badge.breached_before:
        title.append(
            _("Breached earlier: %(targets)s.")
            % {"targets": ", ".join(badge.breached_before_labels)}
        )
    return " ".join(title)


@register.simple_tag(takes_context=True)
def ticket_sla_badge(context: template.Context, ticket: Ticket) -> selectors.SlaBadge | None:
    """The list badge of `ticket`, from its SLA columns, at the request's `now`."""
    now = context.get("now") or timezone.now()
    return selectors.sla_badge(ticket, now)


@register.filter
def sla_colour(state: str) -> str:
    return SLA_COLOURS.get(state, "secondary")


@register.filter
def sla_state_label(state: str) -> str:
    labels = {
        selectors.SlaState.RUNNING: _("Running"),
        selectors.SlaState.WARNING: _("Warning"),
        selectors.SlaState.BREACHED: _("Breached"),
        selectors.SlaState.PAUSED: _("Paused"),
        selectors.SlaState.MET: _("Met"),
        selectors.SlaState.STOPPED: _("Stopped"),
    }
    return str(labels.get(state, state))


@register.filter
def is_negative(value: timedelta | None) -> bool:
    return value is not None and value < timedelta(0)


@register.simple_tag
def describe_segment(segment: ClockSegment, last: bool = False) -> str:
    """One stretch of an SLA clock as a sentence: what the clock did, how long, and why.
    Durations are business time (`business_seconds`, set when the stretch ended)."""
    start = timezone.localtime(segment.started_at)
    end = timezone.localtime(segment.ended_at) if segment.ended_at else None
    values = {
        "start": formats.date_format(start, "SHORT_DATETIME_FORMAT"),
        # The end of a stretch on the same day needs no date.
        "end": ""
        if end is None
        else formats.date_format(
            end, "TIME_FORMAT" if end.date() == start.date() else "SHORT_DATETIME_FORMAT"
        ),
        "reason": segment.get_reason_display(),
        "duration": duration_human(segment.business_seconds or 0, "h"),
    }
    waiting = segment.reason == ClockSegment.Reason.WAITING
    running = segment.state == ClockSegment.State.RUNNING
    if segment.ended_at is None:
        if running:
            text = _("Running since %(start)s (%(reason)s).")
        elif waiting:
            text = _("Paused since %(start)s while %(reason)s.")
        else:
            text = _("Paused since %(start)s (%(reason)s).")
    elif running:
        text = _("Ran %(duration)s from %(start)s to %(end)s (%(reason)s).")
    elif waiting:
        text = _("Paused %(duration)s while %(reason)s (from %(start)s to %(end)s).")
    else:
        text = _("Paused %(duration)s (%(reason)s), from %(start)s to %(end)s.")
    sentence = text % values
    if last and segment.ended_at is not None and segment.end_reason:
        sentence += " " + _("Stopped at %(end)s: %(why)s.") % {
            "end": values["end"],
            "why": segment.get_end_reason_display(),
        }
    return sentence


@register.filter
def escalation_colour(status: str) -> str:
    return ESCALATION_STATUS_COLOURS.get(status, "secondary")


@register.filter
def ack_overdue(escalation: Escalation, now: datetime) -> bool:
    """Whether a raised escalation has passed its acknowledge-by deadline."""
    return (
        escalation.status == Escalation.Status.RAISED
        and escalation.ack_due_at is not None
        and escalation.ack_due_at < now
    )


@register.filter
def risk_colour(score: int) -> str:
    if score >= 70:
        return "danger"
    if score >= 40:
        return "warning"
    if score > 0:
        return "info"
    return "light"


@register.filter
def risk_reason(reason: Any) -> str:
    """One risk reason as a sentence: plain text as it is, a structured reason (a dict with a
    `code`) through `escalation.risk.describe` when that module is there."""
    if isinstance(reason, dict):
        try:
            from escalation.risk import describe
        except ImportError:
            return str(reason.get("code", ""))
        return describe(reason)
    return str(reason)


@register.filter
def trigger_label(escalation: Escalation) -> str:
    """What set an escalation off: the rule's trigger, or "manual"."""
    if not escalation.trigger or escalation.trigger == "manual":
        return _("manual")
    return _label(EscalationRule.TriggerChoice, escalation.trigger)


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


def _describe_ccs(change: dict[str, Any], actor: str) -> EventView:
    """The CCs an agent changed (`mail.ccs`): who was added, who removed."""
    before, after = set(change.get("from") or ()), set(change.get("to") or ())
    values = {"actor": actor, "added": ", ".join(sorted(after - before))}
    values["removed"] = ", ".join(sorted(before - after))
    if values["added"] and not values["removed"]:
        return EventView(_("%(actor)s added %(added)s in CC.") % values)
    if values["removed"] and not values["added"]:
        return EventView(_("%(actor)s removed %(removed)s from the CCs.") % values)
    return EventView(_("%(actor)s changed the CCs.") % values)


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
        elif p.get("channel") == Ticket.Channel.PORTAL and p.get("requester"):
            values["requester"] = p["requester"]
            text = _(
                "Ticket opened by the customer %(requester)s in the portal for team %(team)s "
                "with priority %(priority)s."
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
        if p.get("by_contact"):
            values["contact"] = p["by_contact"]
            return EventView(
                _("Status changed from %(from)s to %(to)s by the customer %(contact)s.") % values
            )
        return EventView(_("Status changed automatically from %(from)s to %(to)s.") % values)

    if kind == k.RATED:
        view = EventView(
            _("The customer rated the solution %(score)s of 5.") % {"score": p.get("score", "?")}
        )
        if p.get("comment"):
            view.details.append((_("Comment"), str(p["comment"])))
        if p.get("by_contact"):
            view.details.append((_("Rated by"), str(p["by_contact"])))
        return view

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

    if kind == k.DETAILS_CHANGED and isinstance(p.get("ccs"), dict):
        return _describe_ccs(p["ccs"], actor)
    if kind == k.DETAILS_CHANGED and "closing_report" in p:
        return _describe_closing_report(p, actor)
    if kind == k.DETAILS_CHANGED:
        names = [_detail_label(name) for name in services.DETAIL_FIELDS if name in p]
        values = {"fields": ", ".join(names), "actor": actor}
        if actor:
            return EventView(_("%(actor)s changed the %(fields)s.") % values)
        return EventView(_("The %(fields)s changed.") % values)

    if kind == k.FOLLOWED:
        return EventView(_("%(actor)s started following this ticket.") % {"actor": actor})
    if kind == k.UNFOLLOWED:
        return EventView(_("%(actor)s stopped following this ticket.") % {"actor": actor})

    if kind == k.ESCALATED:
        return _describe_escalated(p, actor, reason)
    if kind == k.ACKNOWLEDGED:
        values = {"actor": actor, "team": p.get("team") or ""}
        text = (
            _("%(actor)s acknowledged the escalation for %(team)s.")
            if actor
            else _("The escalation to %(team)s was acknowledged.")
        )
        return EventView(text % values)
    if kind == k.DE_ESCALATED:
        values = {"actor": actor, "from": p.get("from_team") or "", "to": p.get("to_team") or ""}
        text = (
            _("%(actor)s handed the ticket back from %(from)s to %(to)s.")
            if actor
            else _("The ticket was handed back from %(from)s to %(to)s.")
        )
        return EventView(text % values, reason=reason)
    if kind in (k.SLA_WARNING, k.SLA_BREACH):
        values = {
            "target": _label(EscalationRule.SLATargetChoice, p.get("target")),
            "due": _instant(_parse_instant(p.get("due_at"))),
        }
        if kind == k.SLA_WARNING:
            if values["due"]:
                return EventView(_("SLA warning: the %(target)s is due %(due)s.") % values)
            return EventView(_("SLA warning: the %(target)s is close to its deadline.") % values)
        if values["due"]:
            return EventView(_("SLA breached: the %(target)s was due %(due)s.") % values)
        return EventView(_("SLA breached: the %(target)s missed its deadline.") % values)
    if kind == k.SLA_RECOMPUTED:
        if p.get("policy"):
            view = EventView(
                _("SLA deadlines recomputed under the policy “%(policy)s”.")
                % {"policy": p["policy"]}
            )
        else:
            view = EventView(_("SLA deadlines recomputed; no SLA policy applies any more."))
        changed = p.get("changed") if isinstance(p.get("changed"), dict) else {}
        for column, label in _DEADLINE_LABELS.items():
            pair = changed.get(column)
            if isinstance(pair, list | tuple) and len(pair) == 2:
                before, after = (_instant(_parse_instant(v)) or _("none") for v in pair)
                view.details.append(
                    (label(), _("%(from)s → %(to)s") % {"from": before, "to": after})
                )
        return view
    if kind == k.MAJOR_INCIDENT and "linked" in p:
        values = {"actor": actor, "ref": p.get("reference") or ""}
        if p["linked"]:
            text = (
                _("Linked to major incident %(ref)s by %(actor)s.")
                if actor
                else _("Linked to major incident %(ref)s automatically.")
            )
        else:
            text = _("Unlinked from major incident %(ref)s by %(actor)s.")
        return EventView(text % values)
    if kind == k.SERVICE_CHANGED:
        values = {"actor": actor, "from": p.get("from") or "—", "to": p.get("to") or "—"}
        return EventView(
            _("Affected service changed from %(from)s to %(to)s by %(actor)s.") % values
        )
    if kind == k.MAJOR_INCIDENT:
        text = (
            _("Marked as a major incident by %(actor)s.") % {"actor": actor}
            if actor
            else _("Marked as a major incident automatically.")
        )
        return EventView(text, reason=reason)

    if kind == k.FOLLOW_UP:
        if p.get("follow_up_of"):
            return EventView(
                _("Opened as a follow-up of %(reference)s: the customer wrote after it was done.")
                % {"reference": p["follow_up_of"]}
            )
        return EventView(
            _("The customer wrote after this ticket was done: follow-up ticket %(reference)s.")
            % {"reference": p.get("follow_up") or ""}
        )

    # Kinds recorded elsewhere: a sentence per kind; their payload is for the audit trail.
    with_actor = {
        k.REPLIED: _("Public reply by %(actor)s."),
        k.NOTE_ADDED: _("Internal note by %(actor)s."),
        k.CUSTOMER_MESSAGE: _("Customer message recorded by %(actor)s."),
    }
    without_actor = {
        k.REPLIED: _("Public reply."),
        k.NOTE_ADDED: _("Internal note."),
        k.CUSTOMER_MESSAGE: _("Customer message."),
        k.NOTIFIED: _("Notification sent."),
    }
    if actor and kind in with_actor:
        text = with_actor[kind] % {"actor": actor}
    elif kind in without_actor:
        text = without_actor[kind]
    else:
        text = event.get_kind_display()
    return EventView(text, reason=reason)


_DEADLINE_LABELS = {
    "first_response_due_at": lambda: _("First response due"),
    "next_update_due_at": lambda: _("Next update due"),
    "resolution_due_at": lambda: _("Resolution due"),
}


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _describe_closing_report(p: dict[str, Any], actor: str) -> EventView:
    """The closing report's entries (written by `lessons.services`)."""
    values = {"actor": actor or "—", "measure": p.get("measure") or ""}
    what = p.get("closing_report")
    if what == "written":
        return EventView(_("%(actor)s wrote the closing report.") % values)
    if what == "measure_added":
        return EventView(_("%(actor)s added the preventive measure “%(measure)s”.") % values)
    if what == "measure_done":
        return EventView(_("%(actor)s marked the preventive measure “%(measure)s” done.") % values)
    return EventView(_("%(actor)s changed the closing report.") % values)


def _describe_escalated(p: dict[str, Any], actor: str, reason: str) -> EventView:
    values = {
        "actor": actor,
        "from": p.get("from_team") or "",
        "to": p.get("to_team") or "",
        "from_level": p.get("from_level") or "",
        "to_level": p.get("to_level") or "",
    }
    automatic = p.get("trigger") not in (None, "", "manual")
    if p.get("kind") == Escalation.Kind.FUNCTIONAL:
        if automatic or not actor:
            text = _("The functional team %(to)s was brought in automatically (from %(from)s).")
        else:
            text = _("%(actor)s brought in the functional team %(to)s (from %(from)s).")
    elif automatic or not actor:
        text = _(
            "Escalated automatically from %(from)s (level %(from_level)s) "
            "to %(to)s (level %(to_level)s)."
        )
    else:
        text = _(
            "%(actor)s escalated the ticket from %(from)s (level %(from_level)s) "
            "to %(to)s (level %(to_level)s)."
        )
    view = EventView(text % values, reason=reason)
    if automatic:
        view.details.append((_("Trigger"), _label(EscalationRule.TriggerChoice, p["trigger"])))
        if p.get("rule"):
            view.details.append((_("Rule"), str(p["rule"])))
    return view


# The form field component is a tag: a page of forms shows a dozen, and an include costs
# several times the markup it writes. `components/form_field.html` calls it for the pages that
# include the component.
@register.simple_tag
def form_field(
    field: BoundField, small: bool = False, wrapper_class: str = "", switch: bool = False
) -> str:
    """A form field with its label (and "*" when required), help text and errors; the widget
    is described by the help text and the errors (their ids are the ones Django's widget
    names in `aria-describedby`). `small`: a small label; `switch`: a checkbox as a switch."""
    if field.is_hidden:
        return str(field)
    if field.widget_type == "checkbox":
        control = format_html(
            '<div class="form-check{}"> {} <label class="form-check-label" for="{}">{}</label> '
            "</div>",
            " form-switch" if switch else "",
            field,
            field.id_for_label,
            field.label,
        )
    else:
        control = format_html(
            '<label class="form-label{}" for="{}">{}{}</label> {}',
            " small mb-1" if small else "",
            field.id_for_label,
            field.label,
            _REQUIRED if field.field.required else "",
            field,
        )
    help_text = ""
    if field.help_text:
        help_text = format_html(
            '<div class="form-text" id="{}_helptext">{}</div>', field.auto_id, field.help_text
        )
    errors = ""
    if field.errors:
        errors = format_html(
            '<div class="invalid-feedback d-block" id="{}_error">{}</div>',
            field.auto_id,
            format_html_join("", "<div>{}</div>", ((error,) for error in field.errors)),
        )
    return format_html(
        '<div class="{}"> {} {} {} </div>', wrapper_class or "mb-3", control, help_text, errors
    )


_REQUIRED = SafeString(' <span class="text-danger" aria-hidden="true">*</span>')


@register.filter
def with_class(field: BoundField, css: str) -> str:
    """Render a form field's widget with an extra CSS class (for forms we do not own, such as
    Django's login form)."""
    existing = field.field.widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{existing} {css}".strip()})


@register.simple_tag
def action_reason(event: TicketEvent, parts: list[TicketEvent] | None = None) -> str:
    """The reason of one action, shown once: its headline event's, else the first of the
    events it wrote together that has one (a hand-off repeats it on each)."""
    for candidate in [event, *(parts or [])]:
        reason = describe_event(candidate).reason
        if reason:
            return reason
    return ""
