"""The form of "My notification settings". It parses and validates; `preferences_update`
saves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from notifications.models import Notification, Preference
from sla.models import BusinessCalendar, validate_timezone
from tickets.forms import BootstrapFormMixin

# Offered in the select; any other valid IANA zone (one set in the admin, say) is kept and
# shown too. Validation is zoneinfo's, not this list.
COMMON_TIMEZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Stockholm",
    "Europe/Helsinki",
    "Europe/Athens",
    "Europe/Istanbul",
    "Europe/Lisbon",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Kyiv",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def _is_zone(value: str) -> bool:
    try:
        validate_timezone(value)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class ChannelRow:
    """One line of the grid: a kind of notification and its two checkboxes."""

    kind: str
    label: str
    in_app: forms.BoundField
    email: forms.BoundField


class PreferenceForm(BootstrapFormMixin, forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_(
            "These pages and the emails to you are in this language; the switcher in the "
            "header changes it too."
        ),
    )
    timezone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        validators=[validate_timezone],
        help_text=_("Times in emails to you are shown in this zone."),
    )
    calendar = forms.ModelChoiceField(
        label=_("Hold non-urgent emails to the business hours of"),
        queryset=BusinessCalendar.objects.none(),
        required=False,
        empty_label=_("— No hold: send every email at once —"),
        help_text=_(
            "Outside these hours, non-urgent emails wait and go out as one digest when the "
            "hours begin. Sev 1 and major incidents go out at any hour."
        ),
    )

    def __init__(
        self,
        *args: Any,
        preference: Preference,
        channels: Mapping[str, tuple[bool, bool]],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "initial",
            {
                "language": preference.language,
                "timezone": preference.timezone,
                "calendar": preference.calendar_id,
            },
        )
        super().__init__(*args, **kwargs)
        zones = list(COMMON_TIMEZONES)
        current = self.data.get("timezone") if self.is_bound else preference.timezone
        if current and current not in zones and _is_zone(current):
            zones.append(current)
        self.fields["timezone"].widget = forms.Select(choices=[(z, z) for z in zones])
        self.fields["calendar"].queryset = BusinessCalendar.objects.order_by("name")
        for kind in Notification.Kind.values:
            in_app, by_email = channels[kind]
            self.fields[f"in_app__{kind}"] = forms.BooleanField(
                label=_("In the app"), required=False, initial=in_app
            )
            self.fields[f"email__{kind}"] = forms.BooleanField(
                label=_("By email"), required=False, initial=by_email
            )
        self._style_widgets()

    def preferences(self) -> dict[str, Any]:
        """The keyword arguments of `services.preferences_update` (after is_valid)."""
        return {
            "language": self.cleaned_data["language"],
            "timezone": self.cleaned_data["timezone"],
            "calendar": self.cleaned_data["calendar"],
            "channels": self.channels(),
        }

    def channel_rows(self) -> list[ChannelRow]:
        return [
            ChannelRow(
                kind=kind,
                label=str(label),
                in_app=self[f"in_app__{kind}"],
                email=self[f"email__{kind}"],
            )
            for kind, label in Notification.Kind.choices
        ]

    def channels(self) -> dict[str, tuple[bool, bool]]:
        """(in the app, by email) per kind, from the cleaned data."""
        data = self.cleaned_data
        return {
            kind: (data[f"in_app__{kind}"], data[f"email__{kind}"])
            for kind in Notification.Kind.values
        }
