"""The weekly report email's rows and dates, worded in the language it is sent in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.formats import localize
from django.utils.translation import gettext as _

from reporting.table import MINUTES, PERCENT
from reporting.weekly import weekly_rows

register = template.Library()


@register.simple_tag
def weekly_report(payload: dict[str, Any]) -> dict[str, Any]:
    """`rows` (label, unit, last week, the week before, change) and the week's `first_day`
    and `last_day` as dates."""
    return {
        "rows": weekly_rows(payload),
        "first_day": dt.date.fromisoformat(payload["first_day"]),
        "last_day": dt.date.fromisoformat(payload["last_day"]),
    }


@register.simple_tag
def report_value(value: float | int | None, unit: str) -> str:
    """A figure with its unit (minutes, percent), as the reports page and the weekly email
    show it; a dash for none."""
    if value is None:
        return "—"
    shown = localize(value)
    if unit == MINUTES:
        return _("%(value)s min") % {"value": shown}
    return f"{shown} %" if unit == PERCENT else shown
