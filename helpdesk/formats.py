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


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago or until `value`, in the one wording the whole UI uses: "3 min ago",
    "in 2 h", "just now" (under a minute). Wall-clock time, at most two units."""
    if value is None:
        return ""
    now = now or timezone.now()
    delta = value - now
    if abs(delta) < timedelta(minutes=1):
        return _("just now")
    if delta > timedelta(0):
        return _("in %(duration)s") % {"duration": duration_human(delta)}
    return _("%(duration)s ago") % {"duration": duration_human(delta)}


def _when(value: datetime, now: datetime) -> str:
    """A deadline's instant, short: the weekday and time within a week of `now` ("Tue 10:00"),
    the date and time further away."""
    local, today = timezone.localtime(value), timezone.localtime(now)
    time = formats.date_format(local, "TIME_FORMAT")
    if abs((local.date() - today.date()).days) < 7:
        return f"{formats.date_format(local, 'D')} {time}"
    return f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} {time}"


def deadline_human(
    due_at: datetime,
    *,
    now: datetime | None = None,
    remaining: timedelta | None = None,
    business: bool = False,
) -> str:
    """A deadline in the one wording of lists, ticket pages and overviews: the instant, then
    what is left, saying whether that is business or clock time.

    "due Tue 10:00 · 3 h business time left", "overdue since Mon 16:00 · 2 h business time
    over" when `business` (`remaining` is the clock's business time, signed); "due Tue 10:00 ·
    in 14 h 30 min", "overdue since Mon 16:00 · 2 h ago" otherwise (wall-clock, from `now`).
    """
    now = now or timezone.now()
    if remaining is None:
        remaining = due_at - now
        business = False
    overdue = remaining < timedelta(0) or (not business and due_at <= now)
    values = {"when": _when(due_at, now)}
    if business:
        values["duration"] = duration_human(remaining, "h")
        if overdue:
            return _("overdue since %(when)s · %(duration)s business time over") % values
        return _("due %(when)s · %(duration)s business time left") % values
    values["relative"] = relative_time(due_at, now)
    if overdue:
        return _("overdue since %(when)s · %(relative)s") % values
    return _("due %(when)s · %(relative)s") % values


def deadline_instant(due_at: datetime | None, now: datetime | None = None) -> str:
    """A deadline in emails, which are read later than they are written: the full instant and
    no time left. "due Tue, 12/08/2026 10 a.m. CET" / "overdue since Mon, …"."""
    if due_at is None:
        return ""
    now = now or timezone.now()
    values = {"when": instant_human(due_at)}
    if due_at <= now:
        return _("overdue since %(when)s") % values
    return _("due %(when)s") % values
