"""Template filters that word escalation facts in the reader's language."""

from __future__ import annotations

from typing import Any

from django import template

from escalation import wording

register = template.Library()


@register.filter
def event_reason(event: Any, stored: str = "") -> str:
    """The reason of a timeline entry: a rule's worded now from the payload's facts, any
    other (a person's words, an entry written before facts were kept) as `stored`."""
    payload = event.payload if isinstance(getattr(event, "payload", None), dict) else {}
    return wording.reason_text(payload.get("reason_facts"), stored)
