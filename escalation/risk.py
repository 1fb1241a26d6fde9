"""Soft signals (seeds 000/001): a ticket's risk score and its reasons. Pure.

Repeated follow-ups without an answer, a customer's negative tone (German and English), the
ticket coming back, a VIP customer, and being passed from team to team all raise the risk
that a case escalates. The score (0–100) is shown with its reasons and can trigger rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.utils.translation import get_language, gettext, ngettext

from escalation.lexicon import NEGATIVE_TERMS

# Points per signal and the most a signal can add; the weights make three follow-ups or an
# angry VIP "at risk" (≥ 50) while one reopen alone is not.
FOLLOW_UP_POINTS, FOLLOW_UP_MAX = 15, 45
TONE_POINTS, TONE_MAX = 10, 30
REOPEN_POINTS, REOPEN_MAX = 15, 30
VIP_POINTS = 20
HAND_OFF_POINTS, HAND_OFF_MAX, HAND_OFFS_FREE = 10, 30, 2
# A solution the customer rated low (portal CSAT) and then the ticket came back: the customer
# was unhappy before, so the next cycle is at risk from its start.
LOW_RATING_POINTS, LOW_RATING_MAX = 20, 40
# Recurring faults despite countermeasures: each earlier resolved ticket of the same service
# (and customer) within `RECURRENCE_DAYS` adds points, the first one already.
RECURRENCE_POINTS, RECURRENCE_MAX, RECURRENCE_DAYS = 20, 40, 30


@dataclass(frozen=True)
class RiskInputs:
    follow_ups: int  # customer messages since the last public agent reply (first one is free)
    customer_texts: tuple[str, ...]  # the customer's messages, for the tone
    reopen_count: int
    vip: bool
    hand_offs: int  # changes of team or level so far
    low_ratings: int = 0  # earlier solutions of this ticket the customer rated low
    recurrences: int = 0  # resolved tickets of the same service (and customer) in 30 days


@cache
def _pattern() -> re.Pattern[str]:
    # One alternation, longest terms first, on word boundaries; phrases may span whitespace.
    terms = sorted(NEGATIVE_TERMS, key=len, reverse=True)
    body = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in terms)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def negative_terms(texts: Iterable[str]) -> list[str]:
    """The distinct negative terms found in `texts`, lower-cased, in order of appearance."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _pattern().finditer(text):
            found.setdefault(" ".join(match.group(0).lower().split()), None)
    return list(found)


def assess(inputs: RiskInputs) -> tuple[int, list[dict[str, object]]]:
    """The risk score (0–100) and its reasons as plain data (render with `describe`)."""
    reasons: list[dict[str, object]] = []
    extra_follow_ups = max(inputs.follow_ups - 1, 0)
    if extra_follow_ups:
        points = min(extra_follow_ups * FOLLOW_UP_POINTS, FOLLOW_UP_MAX)
        reasons.append({"code": "follow_ups", "count": inputs.follow_ups, "points": points})
    terms = negative_terms(inputs.customer_texts)
    if terms:
        points = min(len(terms) * TONE_POINTS, TONE_MAX)
        reasons.append({"code": "tone", "terms": terms[:5], "points": points})
    if inputs.reopen_count:
        points = min(inputs.reopen_count * REOPEN_POINTS, REOPEN_MAX)
        reasons.append({"code": "reopened", "count": inputs.reopen_count, "points": points})
    if inputs.vip:
        reasons.append({"code": "vip", "points": VIP_POINTS})
    extra_hand_offs = max(inputs.hand_offs - HAND_OFFS_FREE, 0)
    if extra_hand_offs:
        points = min(extra_hand_offs * HAND_OFF_POINTS, HAND_OFF_MAX)
        reasons.append({"code": "hand_offs", "count": inputs.hand_offs, "points": points})
    if inputs.low_ratings:
        points = min(inputs.low_ratings * LOW_RATING_POINTS, LOW_RATING_MAX)
        reasons.append({"code": "low_rating", "count": inputs.low_ratings, "points": points})
    if inputs.recurrences:
        points = min(inputs.recurrences * RECURRENCE_POINTS, RECURRENCE_MAX)
        # "count" is this ticket's place in the series: two earlier ones make it the 3rd.
        reasons.append(
            {
                "code": "recurring",
                "count": inputs.recurrences + 1,
                "days": RECURRENCE_DAYS,
                "points": points,
            }
        )
    score = min(sum(int(r["points"]) for r in reasons), 100)
    return score, reasons


def describe(reason: dict[str, object]) -> str:
    """One reason as a sentence in the active language."""
    count = int(reason.get("count", 0) or 0)
    match reason.get("code"):
        case "follow_ups":
            return ngettext(
                "%(count)d customer message without an answer",
                "%(count)d customer messages without an answer",
                count,
            ) % {"count": count}
        case "tone":
            terms = ", ".join(str(t) for t in reason.get("terms", []))  # type: ignore[union-attr]
            return gettext("Negative tone: %(terms)s") % {"terms": terms}
        case "reopened":
            return ngettext("Reopened once", "Reopened %(count)d times", count) % {"count": count}
        case "vip":
            return gettext("VIP customer")
        case "hand_offs":
            return ngettext(
                "Handed from team to team %(count)d time",
                "Handed from team to team %(count)d times",
                count,
            ) % {"count": count}
        case "low_rating":
            return ngettext(
                "An earlier solution was rated low by the customer",
                "%(count)d earlier solutions were rated low by the customer",
                count,
            ) % {"count": count}
        case "recurring":
            days = int(reason.get("days", RECURRENCE_DAYS) or RECURRENCE_DAYS)
            return ngettext(
                "Recurring fault: %(nth)s time in %(days)d day",
                "Recurring fault: %(nth)s time in %(days)d days",
                days,
            ) % {"nth": ordinal(count), "days": days}
    return str(reason.get("code", ""))


def ordinal(number: int) -> str:
    """“3rd” in English, “3.” in German (the active language)."""
    if (get_language() or "").startswith("de"):
        return f"{number}."
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    if 10 <= number % 100 <= 20:
        suffix = "th"
    return f"{number}{suffix}"
