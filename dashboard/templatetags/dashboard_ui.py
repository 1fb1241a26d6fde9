"""Words for the dashboard's countdowns: short on screen, the absolute instant for screen
readers (the countdowns change at every update, so they are not announced: `aria-live="off"`
in the templates)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from helpdesk.formats import duration_human

register = template.Library()


@register.filter
def countdown(remaining: timedelta | None) -> str:
    """Wall-clock time left: "18 min left", or "overdue by 5 min"."""
    if remaining is None:
        return ""
    if remaining < timedelta(0):
        return _("overdue by %(duration)s") % {"duration": duration_human(remaining)}
    return _("%(duration)s left") % {"duration": duration_human(remaining)}


@register.filter
def business_countdown(remaining: timedelta | None) -> str:
    """Business time left: "2 h 10 min business time left" (hours, never days: business days
    are not 24 hours long)."""
    if remaining is None:
        return ""
    values = {"duration": duration_human(remaining, "h")}
    if remaining < timedelta(0):
        return _("%(duration)s business time over") % values
    return _("%(duration)s business time left") % values


@register.filter
def ago(elapsed: timedelta | None) -> str:
    """How long ago: "for 12 min" style ages of waiting rows."""
    if elapsed is None:
        return ""
    return _("%(duration)s ago") % {"duration": duration_human(elapsed)}
