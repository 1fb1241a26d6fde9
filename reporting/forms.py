"""The reports page's query string: the period (a preset or two dates) and the slices (the
dashboard's filters and the channel)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.forms import DashboardFilterForm
from reporting.figures import Period
from reporting.trends import site_zone
from tickets.models import Ticket

MAX_DAYS = 732


def preset_days(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of a preset period ending today."""
    if preset == "week":
        return today - dt.timedelta(days=today.weekday()), today
    if preset == "quarter":
        return dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    return today - dt.timedelta(days=29), today


def day_period(first: dt.date, last: dt.date) -> Period:
    """The local days `first` to `last` (both included) as instants [start, end)."""
    zone = site_zone()
    return Period(
        dt.datetime.combine(first, dt.time.min, tzinfo=zone),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
    )


class ReportForm(DashboardFilterForm):
    """Kept in the URL, so a report can be bookmarked and shared. The slices drop an invalid
    value (as on the dashboard); a period that cannot be read is a form error."""

    PRESETS = [
        ("week", _("This week")),
        ("30d", _("Last 30 days")),
        ("quarter", _("This quarter")),
        ("custom", _("From – to")),
    ]

    preset = forms.ChoiceField(label=_("Period"), choices=PRESETS, required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("Any channel")), *Ticket.Channel.choices],
        required=False,
    )
    # The agent slice: the reports are for leads and admins only, and so is this slice.
    agent = forms.ModelChoiceField(
        label=_("Agent"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("Any agent"),
    )
    field_order = ["preset", "start", "end"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "report-%s")
        data = args[0] if args else kwargs.get("data")
        if data is not None and not any(data.get(name) for name in ("preset", "start", "end")):
            data = data.copy()
            data["preset"] = "30d"  # the default period, shown as chosen
            args = (data, *args[1:]) if args else args
            kwargs = kwargs if args else {**kwargs, "data": data}
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, teams__isnull=False)
            .distinct()
            .order_by("username")
        )
        self.fields["agent"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        preset = data.get("preset") or ("custom" if start or end else "30d")
        if preset == "custom":
            if not (start and end):
                raise forms.ValidationError(_("Give both the first and the last day."))
            if start > end:
                raise forms.ValidationError(_("The first day is after the last day."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(
                    _("A period is at most %(days)d days long.") % {"days": MAX_DAYS}
                )
        else:
            start, end = preset_days(preset, timezone.localdate())
        data.update(preset=preset, first_day=start, last_day=end)
        return data

    def period(self) -> Period:
        """The chosen period; call after `is_valid()` returned True."""
        return day_period(self.cleaned_data["first_day"], self.cleaned_data["last_day"])

    def narrow(self, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
        """`tickets` in the chosen slices (an invalid slice counts as not given)."""
        tickets = self.filters().narrow(tickets)
        channel = self.cleaned_data.get("channel") if "channel" not in self.errors else ""
        if channel:
            tickets = tickets.filter(channel=channel)
        agent = self.cleaned_data.get("agent") if "agent" not in self.errors else None
        return tickets.filter(assignee=agent) if agent else tickets


class WeeklyForm(forms.Form):
    """Subscribe to the weekly report email, or stop it: the state wanted, so a double submit
    has one effect."""

    weekly = forms.TypedChoiceField(
        choices=[("1", _("Subscribe")), ("0", _("Unsubscribe"))],
        coerce=lambda value: value == "1",
    )
