"""The reason a notice gives, worded for its reader.

A rule's reason travels in a notice's payload twice: as the words of the site's language
(`reason`, for webhooks and as a fallback) and as facts (`reason_facts`). The app that writes
the facts words them: it registers its wording here from its `AppConfig.ready`, so this app
never imports it (notifications sits below escalation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# (facts, stored words, with_rule) -> the reason in the active language
Wording = Callable[..., str]
_wordings: list[Wording] = []


def register_reason_wording(wording: Wording) -> None:
    """Called once by the app that writes `reason_facts` (escalation)."""
    if wording not in _wordings:
        _wordings.append(wording)


def reason_of(payload: Mapping[str, Any], *, with_rule: bool = True) -> str:
    """The payload's reason in the active language: worded from its facts when they are
    there and a wording is registered, else the stored words."""
    stored = payload.get("reason", "") or ""
    facts = payload.get("reason_facts")
    if facts and _wordings:
        return _wordings[0](facts, stored, with_rule=with_rule)
    return stored
