"""Wording shared by templates and services: durations as people say them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import formats, timezone
from django.utils.translation import gettext as _


def duration_human(value: timedelta | float | None, largest: str = "d") -> str:
    """A duration as people say it: "2 h 10 min", "3 d 4 h", "45 min" (sign dropped; whole
    minutes). `largest="h"` stops at hours ("30 h"), for business time, whose days are not
    24 hours long. Accepts a timedelta or a number of seconds."""
    if value is None or value == "":
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60) if largest == "d" else (0, minutes)
    hours, minutes = divmod(rest, 60)
    if days:
        if hours:
            return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
        return _("%(days)d d") % {"days": days}
    if hours:
        if minutes:
            return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
        return _("%(hours)d h") % {"hours": hours}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("less than a minute")


def instant_human(value: datetime, *, weekday: bool = True) -> str:
    """An instant in the current time zone as people read it, with the weekday and the zone's
    abbreviation: "Mon, 12/07/2026 8 a.m. CET" / "Mo, 07.12.2026 08:00 CET"."""
    local = timezone.localtime(value)
    text = formats.date_format(local, "SHORT_DATETIME_FORMAT")
    if weekday:
        text = f"{formats.date_format(local, 'D')}, {text}"
    return f"{text} {local.tzname()}"
