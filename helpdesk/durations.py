"""Durations typed and shown as people say them, for every duration field of the admin.

"15 min", "1 h 30 min", "2 d", "4h", "90" (minutes) and the German units ("Std", "Tg", "T",
"Stunden", "Minuten") are read; the field shows the value back the same way ("1 h 30 min"),
so what an admin sees is what they can type. Django's own "HH:MM:SS" is still accepted.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_duration
from django.utils.translation import gettext_lazy as _

from helpdesk.formats import duration_human

# Unit words (lower case, without a trailing dot) → minutes.
UNITS: dict[str, int] = {
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes", "minuten"], 1),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours", "std", "stunde", "stunden"], 60),
    **dict.fromkeys(["d", "day", "days", "t", "tg", "tag", "tage", "tagen"], 24 * 60),
    **dict.fromkeys(["w", "wk", "week", "weeks", "wo", "woche", "wochen"], 7 * 24 * 60),
}
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([^\W\d_]*)\.?\s*")


def parse_duration_text(text: str) -> timedelta:
    """The duration in `text`; a bare number is minutes. Raises ValueError when `text` is not
    a duration ("soon", "5 x", "")."""
    value = text.strip().lower()
    if not value:
        raise ValueError("empty")
    if ":" in value:
        try:
            parsed = parse_duration(value)
        except OverflowError:
            parsed = None
        if parsed is None:
            raise ValueError(value)
        return parsed
    minutes = 0.0
    position = 0
    for match in _PART.finditer(value):
        if match.start() != position:
            raise ValueError(value)
        number, unit = match.groups()
        if unit and unit not in UNITS:
            raise ValueError(unit)
        minutes += float(number.replace(",", ".")) * UNITS.get(unit, 1)
        position = match.end()
    if position != len(value):
        raise ValueError(value)
    try:
        return timedelta(minutes=round(minutes))
    except OverflowError:  # more minutes than a timedelta holds (a typo or a fuzzer)
        raise ValueError(value) from None


def duration_text(value: timedelta | None) -> str:
    """`value` as the field shows it: "1 h 30 min", "2 d", "0 min"."""
    if value is None:
        return ""
    if value < timedelta(minutes=1):
        return str(_("0 min"))
    return duration_human(value)


class DurationInput(forms.TextInput):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"class": "vDurationField", "size": 10, **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, timedelta):
            return duration_text(value)
        return super().format_value(value)


class HumanDurationField(forms.Field):
    """A form field for a `timedelta` typed as "15 min", "4 h", "2 d" or a number of minutes."""

    widget = DurationInput
    default_error_messages = {
        "invalid": _(
            "Enter a duration such as “15 min”, “1 h 30 min”, “2 d” or a number of minutes."
        ),
        "negative": _("A duration cannot be negative."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text", _("For example “15 min”, “1 h 30 min”, “2 d”; a number is minutes.")
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> timedelta | None:
        if value in self.empty_values:
            return None
        if isinstance(value, timedelta):
            return value
        try:
            duration = parse_duration_text(str(value))
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if duration < timedelta(0):
            raise ValidationError(self.error_messages["negative"], code="negative")
        return duration

    def prepare_value(self, value: Any) -> Any:
        return duration_text(value) if isinstance(value, timedelta) else value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != initial
        except ValidationError:
            return True


# For `ModelAdmin.formfield_overrides` and inlines: every duration field of the admin.
DURATION_OVERRIDES = {models.DurationField: {"form_class": HumanDurationField}}
