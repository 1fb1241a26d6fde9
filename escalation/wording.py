"""Rule reasons and automatic information packages as facts, worded when they are read.

What a rule stores (on its firing, its escalation and the timeline entry) is the facts: the
trigger, its detail and the rule; an automatic package stores the ticket values and the
messages it quotes. People read them in their own language: `describe` and the `*_text`
functions word the facts with the active language (the reader's request, an email's
recipient). Rows stored before the facts were kept have none; their stored words are shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from escalation.engine import Reason, Trigger
from helpdesk.formats import duration_human
from sla.models import target_label
from tickets.models import Message
from tickets.priority import Impact, Priority


def describe(reason: Reason) -> str:
    """Why a rule fired, in words of the active language."""
    match reason.trigger:
        case Trigger.SEVERITY:
            return _("priority %(priority)s") % {"priority": reason.detail}
        case Trigger.SOFT_SIGNAL:
            return _("risk score %(score)s") % {"score": reason.detail}
        case Trigger.NO_PROGRESS:
            return _("no progress for %(duration)s of business time") % {
                "duration": duration_human(reason.detail, "h")
            }
        case Trigger.UNACKNOWLEDGED:
            return _("escalation not acknowledged in time")
        case Trigger.SLA_WARNING:
            return _("SLA warning: %(target)s") % {"target": target_label(reason.detail)}
        case Trigger.SLA_BREACH:
            return _("SLA breach: %(target)s") % {"target": target_label(reason.detail)}
    return str(reason.trigger)


def reason_facts(
    reason: Reason, *, rule_id: int, rule_name: str, rule_name_de: str = ""
) -> dict[str, Any]:
    """A rule's reason as JSON values: trigger, detail (a duration in seconds), the rule with
    its names (the German one kept too, so German readers see the rule as they know it)."""
    detail = reason.detail
    if isinstance(detail, dt.timedelta):
        detail = detail.total_seconds()
    return {
        "trigger": str(reason.trigger),
        "detail": detail,
        "rule": rule_id,
        "rule_name": rule_name,
    } | ({"rule_name_de": rule_name_de} if rule_name_de else {})


def _reason(facts: dict[str, Any]) -> Reason:
    trigger = Trigger(facts["trigger"])
    detail = facts.get("detail")
    if trigger == Trigger.NO_PROGRESS and detail is not None:
        detail = dt.timedelta(seconds=float(detail))
    return Reason(trigger, detail)


def reason_text(facts: dict[str, Any] | None, stored: str = "", *, with_rule: bool = True) -> str:
    """The reason worded now ("<rule>: <why>", or only why), else the `stored` words."""
    if not facts or "trigger" not in facts:
        return stored
    try:
        why = describe(_reason(facts))
    except (ValueError, TypeError):
        return stored
    if with_rule and facts.get("rule_name"):
        german = (get_language() or "").split("-")[0] == "de" and facts.get("rule_name_de")
        return f"{german or facts['rule_name']}: {why}"
    return why


def _when(value: str | None) -> str:
    parsed = parse_datetime(value) if value else None
    return f"{timezone.localtime(parsed):%Y-%m-%d %H:%M}" if parsed else ""


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def package_facts(ticket: Any, notes: list[Message], reason: dict[str, Any]) -> dict[str, Any]:
    """What an automatic package quotes, as values: the customer, since when, impact and
    priority, the messages it quotes (id, kind, time, the start of the text) and the reason."""
    return {
        "customer": ticket.customer.name if ticket.customer else "",
        "since": ticket.created_at.isoformat(),
        "impact": ticket.impact,
        "priority": ticket.priority,
        "notes": [
            {"id": m.pk, "kind": m.kind, "at": m.created_at.isoformat(), "body": m.body[:200]}
            for m in reversed(notes)
        ],
        "reason": reason,
    }


def affected_text(facts: dict[str, Any]) -> str:
    return _("%(customer)s, since %(since)s") % {
        "customer": facts.get("customer") or _("unknown customer"),
        "since": _when(facts.get("since")),
    }


def impact_text(facts: dict[str, Any]) -> str:
    return f"{_label(Impact, facts.get('impact'))} · {_label(Priority, facts.get('priority'))}"


def actions_text(facts: dict[str, Any]) -> str:
    return "\n".join(
        f"{_when(note.get('at'))} {_label(Message.Kind, note.get('kind'))}: {note.get('body', '')}"
        for note in facts.get("notes", [])
    )


def package_text(fields: dict[str, str], facts: dict[str, Any] | None) -> dict[str, str]:
    """The package's fields for reading: an automatic package's worded now from its facts,
    a person's (or an old row's) as stored."""
    if not facts:
        return dict(fields)
    return fields | {
        "affected": affected_text(facts),
        "impact": impact_text(facts),
        "actions_taken": actions_text(facts),
        "risks": reason_text(facts.get("reason"), fields.get("risks", "")),
    }
