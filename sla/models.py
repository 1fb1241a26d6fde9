"""SLA configuration: business calendars, policies and their targets, tier targets (OLA), the
severity matrix, and the explainable clock log (`ClockSegment`).

The arithmetic lives in `sla/clock.py` (pure); the per-ticket bookkeeping in `sla/services.py`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from typing import Any

import holidays as holidays_lib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.formats import duration_human
from helpdesk.names import TranslatedName, german_name_field
from sla.clock import CalendarSpec
from tickets.priority import Impact, Priority, Urgency

# Holidays are generated for this many years around today: enough for any open ticket's clock,
# small enough to keep a calendar's spec (the clock's cache key) cheap to build.
HOLIDAY_YEARS_BEFORE = 3
HOLIDAY_YEARS_AFTER = 6


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Unknown time zone “%(tz)s”."), params={"tz": value}) from None


def validate_country(value: str) -> None:
    if value and value.upper() not in holidays_lib.list_supported_countries():
        raise ValidationError(
            _("No holiday data for country code “%(code)s”."), params={"code": value}
        )


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessCalendar(models.Model):
    """When the clock runs: weekly opening hours in a time zone, minus holidays."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    always_open = models.BooleanField(
        _("24/7"), default=False, help_text=_("Open around the clock; opening hours are ignored.")
    )
    holiday_country = models.CharField(
        _("holiday country"),
        max_length=3,
        blank=True,
        validators=[validate_country],
        help_text=_("ISO code whose public holidays close the calendar, e.g. DE."),
    )
    holiday_subdivision = models.CharField(
        _("holiday subdivision"),
        max_length=10,
        blank=True,
        help_text=_("Region for regional holidays, e.g. BY for Bavaria."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.holiday_subdivision and not self.holiday_country:
            raise ValidationError(
                {"holiday_subdivision": _("A subdivision needs a holiday country.")}
            )
        if self.holiday_country:
            try:
                holidays_lib.country_holidays(
                    self.holiday_country.upper(), subdiv=self.holiday_subdivision or None
                )
            except NotImplementedError:
                raise ValidationError(
                    {"holiday_country": _("No holiday data for this country.")}
                ) from None
            except (KeyError, ValueError):
                raise ValidationError(
                    {"holiday_subdivision": _("Unknown subdivision for this country.")}
                ) from None

    def generated_holidays(self, years: range) -> dict[dt.date, str]:
        """Public holidays from the `holidays` package for `years` (empty without a country)."""
        if not self.holiday_country:
            return {}
        return dict(
            holidays_lib.country_holidays(
                self.holiday_country.upper(),
                subdiv=self.holiday_subdivision or None,
                years=years,
                language="en_US",
            )
        )

    def as_spec(self, today: dt.date | None = None) -> CalendarSpec:
        """This calendar as the clock's plain value, with holidays generated around `today`.

        Reads the opening hours and exceptions (two queries, or none when prefetched).
        """
        today = today or timezone.localdate()
        if self.always_open:
            return CalendarSpec.always_open_spec(self.timezone)
        weekly: dict[int, list[tuple[dt.time, dt.time]]] = defaultdict(list)
        for hours in self.opening_hours.all():
            weekly[hours.weekday].append((hours.start, hours.end))
        years = range(today.year - HOLIDAY_YEARS_BEFORE, today.year + HOLIDAY_YEARS_AFTER + 1)
        closed = set(self.generated_holidays(years))
        special: dict[dt.date, list[tuple[dt.time, dt.time]]] = {}
        for exception in self.exceptions.all():
            if exception.kind == CalendarException.Kind.CLOSED:
                closed.add(exception.date)
            else:
                special.setdefault(exception.date, []).append((exception.start, exception.end))
        return CalendarSpec(
            tz=self.timezone,
            weekly=tuple(tuple(sorted(weekly[day])) for day in range(7)),
            closed_dates=frozenset(closed),
            special_hours={day: tuple(sorted(hours)) for day, hours in special.items()},
        )


class OpeningHours(models.Model):
    """One open interval on a weekday; `end` at or before `start` runs overnight."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="opening_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("opens"))
    end = models.TimeField(_("closes"), help_text=_("At or before the opening time: overnight."))

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class CalendarException(models.Model):
    """A date that differs from the week: closed all day, or open at special hours."""

    class Kind(models.TextChoices):
        CLOSED = "closed", _("Closed all day")
        SPECIAL = "special", _("Special opening hours")

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CLOSED)
    start = models.TimeField(_("opens"), null=True, blank=True)
    end = models.TimeField(_("closes"), null=True, blank=True)
    name = models.CharField(_("reason"), max_length=100, blank=True)

    class Meta:
        ordering = ["date", "start"]
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"

    def clean(self) -> None:
        if self.kind == self.Kind.SPECIAL and (self.start is None or self.end is None):
            raise ValidationError(_("Special opening hours need an opening and a closing time."))
        if self.kind == self.Kind.CLOSED and (self.start or self.end):
            raise ValidationError(_("A closed day has no opening times."))


class SLAPolicyQuerySet(models.QuerySet["SLAPolicy"]):
    def in_force(self, on: dt.date) -> SLAPolicyQuerySet:
        return self.filter(is_active=True).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=on),
            Q(valid_until__isnull=True) | Q(valid_until__gte=on),
        )


class SLAPolicy(TranslatedName, models.Model):
    """Which tickets get which targets on which calendar. The first matching policy applies."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    name_de = german_name_field(100)
    order = models.PositiveIntegerField(_("order"), default=100, help_text=_("Lower wins."))
    is_active = models.BooleanField(_("active"), default=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        related_name="policies",
        verbose_name=_("business calendar"),
    )
    customer_tiers = models.JSONField(
        _("customer tiers"), default=list, blank=True, help_text=_("Empty matches every tier.")
    )
    contract = models.CharField(
        _("contract"), max_length=100, blank=True, help_text=_("Empty matches every contract.")
    )
    vip_only = models.BooleanField(_("VIP customers only"), default=False)
    teams = models.ManyToManyField(
        "tickets.Team", blank=True, related_name="sla_policies", verbose_name=_("teams")
    )
    channels = models.JSONField(
        _("channels"), default=list, blank=True, help_text=_("Empty matches every channel.")
    )
    priority_min = models.PositiveSmallIntegerField(
        _("most severe priority"), choices=Priority.choices, default=Priority.CRITICAL
    )
    priority_max = models.PositiveSmallIntegerField(
        _("least severe priority"), choices=Priority.choices, default=Priority.LOW
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    pending_pauses = models.BooleanField(
        _("pending pauses the clock"),
        default=True,
        help_text=_("While a ticket waits on the customer, its SLA clock stops."),
    )

    objects = SLAPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.priority_min > self.priority_max:
            errors["priority_max"] = _("The range must run from more to less severe.")
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            errors["valid_until"] = _("The end of validity lies before its start.")
        unknown_tiers = set(self.customer_tiers or []) - {v for v, _label in _tier_choices()}
        if unknown_tiers:
            errors["customer_tiers"] = _("Unknown tiers: %(tiers)s") % {
                "tiers": ", ".join(sorted(unknown_tiers))
            }
        unknown_channels = set(self.channels or []) - {v for v, _label in _channel_choices()}
        if unknown_channels:
            errors["channels"] = _("Unknown channels: %(channels)s") % {
                "channels": ", ".join(sorted(unknown_channels))
            }
        if errors:
            raise ValidationError(errors)

    def matches(
        self,
        *,
        tier: str,
        vip: bool,
        contract: str,
        team_id: int,
        channel: str,
        priority: int,
        team_ids: set[int] | None = None,
    ) -> bool:
        """Whether this policy governs a ticket with these facts (teams passed when prefetched)."""
        if self.customer_tiers and tier not in self.customer_tiers:
            return False
        if self.vip_only and not vip:
            return False
        if self.contract and self.contract != contract:
            return False
        if self.channels and channel not in self.channels:
            return False
        if not self.priority_min <= priority <= self.priority_max:
            return False
        if team_ids is None:
            team_ids = {team.pk for team in self.teams.all()}
        return not team_ids or team_id in team_ids


def _tier_choices() -> list[tuple[str, str]]:
    from tickets.models import Customer

    return list(Customer.Tier.choices)


def _channel_choices() -> list[tuple[str, str]]:
    from tickets.models import Ticket

    return list(Ticket.Channel.choices)


class SLATarget(models.Model):
    """The times a policy promises for one priority."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    first_response = models.DurationField(_("first response within"))
    next_update = models.DurationField(
        _("status update every"),
        null=True,
        blank=True,
        help_text=_("Cadence of status updates to the customer; empty for none."),
    )
    resolution = models.DurationField(_("resolution within"))
    warning_percent = models.PositiveSmallIntegerField(
        _("warning threshold (percent of the target)"),
        null=True,
        blank=True,
        default=75,
        help_text=_("Warn when this share of the target has elapsed."),
    )
    warning_lead = models.DurationField(
        _("or warn this long before"),
        null=True,
        blank=True,
        help_text=_("Business time before the deadline; used instead of the percentage."),
    )

    class Meta:
        ordering = ["policy", "priority"]
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="sla_target_unique")
        ]

    def __str__(self) -> str:
        return f"{self.policy} · {self.get_priority_display()}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        zero = dt.timedelta(0)
        for field in ("first_response", "resolution", "next_update"):
            value = getattr(self, field)
            if value is not None and value <= zero:
                errors[field] = _("Must be longer than zero.")
        if self.warning_percent is not None and not 1 <= self.warning_percent < 100:
            errors["warning_percent"] = _("The warning must come before the deadline (1–99 %).")
        if self.warning_lead is not None and self.warning_lead <= zero:
            errors["warning_lead"] = _("Must be longer than zero.")
        if (
            self.first_response
            and self.resolution
            and self.first_response > self.resolution
            and "first_response" not in errors
        ):
            errors["resolution"] = _("Resolution cannot be due before the first response.")
        if errors:
            raise ValidationError(errors)

    def warning_offset(self, target: dt.timedelta) -> dt.timedelta | None:
        """Business time after the clock start at which to warn for a target of `target`."""
        if self.warning_lead is not None:
            return max(target - self.warning_lead, dt.timedelta(0))
        if self.warning_percent is not None:
            return target * self.warning_percent / 100
        return None


class TierTarget(models.Model):
    """OLA: how soon a support level must acknowledge a hand-off; restarts at each hand-off."""

    level = models.OneToOneField(
        "tickets.SupportLevel",
        on_delete=models.CASCADE,
        related_name="tier_target",
        verbose_name=_("level"),
    )
    acknowledge_within = models.DurationField(_("acknowledge within"))
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Empty: the calendar of the ticket's SLA policy."),
    )

    class Meta:
        ordering = ["level__rank"]
        verbose_name = _("tier target (OLA)")
        verbose_name_plural = _("tier targets (OLA)")

    def __str__(self) -> str:
        return f"{self.level}: {duration_human(self.acknowledge_within)}"

    def clean(self) -> None:
        if self.acknowledge_within is not None and self.acknowledge_within <= dt.timedelta(0):
            raise ValidationError({"acknowledge_within": _("Must be longer than zero.")})


class SeverityMatrix(models.Model):
    """Impact × urgency → priority (ITIL). The active matrix is the one `derive_priority` uses."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    grid = models.JSONField(
        _("grid"), default=dict, help_text=_("Priority per 'impact,urgency' cell.")
    )

    class Meta:
        verbose_name = _("severity matrix")
        verbose_name_plural = _("severity matrices")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_matrix"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def key(impact: int, urgency: int) -> str:
        return f"{impact},{urgency}"

    def as_mapping(self) -> Mapping[tuple[int, int], int]:
        return {
            (impact, urgency): int(self.grid[self.key(impact, urgency)])
            for impact in Impact.values
            for urgency in Urgency.values
            if self.key(impact, urgency) in self.grid
        }

    def clean(self) -> None:
        missing = [
            self.key(i, u)
            for i in Impact.values
            for u in Urgency.values
            if int(self.grid.get(self.key(i, u), 0) or 0) not in Priority.values
        ]
        if missing:
            raise ValidationError(
                {
                    "grid": _("Every cell needs a priority; missing: %(cells)s")
                    % {"cells": ", ".join(missing)}
                }
            )


class ClockSegment(models.Model):
    """One stretch of a ticket's SLA clock for one target: running or paused, and why.

    Deadlines are derived from these rows, so the ticket page can say why something is due
    when it is, and a recomputation replays them.
    """

    class Target(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        NEXT_UPDATE = "next_update", _("Next update")
        RESOLUTION = "resolution", _("Resolution")

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")

    class Reason(models.TextChoices):
        CREATED = "created", _("ticket opened")
        WAITING = "waiting", _("waiting on the customer or a third party")
        RESUMED = "resumed", _("work resumed")
        REOPENED = "reopened", _("ticket reopened")
        RESPONDED = "responded", _("first response sent")
        UPDATE_SENT = "update_sent", _("status update sent")
        RESOLVED = "resolved", _("ticket resolved")
        CLOSED = "closed", _("ticket closed")

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="clock_segments"
    )
    target = models.CharField(_("target"), max_length=20, choices=Target.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    reason = models.CharField(_("why"), max_length=20, choices=Reason.choices)
    end_reason = models.CharField(
        _("ended because"), max_length=20, choices=Reason.choices, blank=True
    )
    series = models.PositiveIntegerField(
        _("series"), default=0, help_text=_("Grows when the target restarts (status updates).")
    )
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("until"), null=True, blank=True)
    business_seconds = models.PositiveIntegerField(
        _("business time (s)"), null=True, blank=True, help_text=_("Set when the segment ends.")
    )

    class Meta:
        ordering = ["ticket", "target", "started_at", "pk"]
        verbose_name = _("clock segment")
        verbose_name_plural = _("clock segments")
        indexes = [models.Index(fields=["ticket", "target", "started_at"], name="segment_lookup")]
        constraints = [
            # At most one open segment per ticket and target.
            models.UniqueConstraint(
                fields=["ticket", "target"],
                condition=Q(ended_at__isnull=True),
                name="one_open_segment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.target} {self.state} {self.started_at:%Y-%m-%d %H:%M}"


def target_label(value: object) -> str:
    """An SLA target's name in the active language, from its value ("next_update"; older
    payloads say "next update"); an unknown value as it is."""
    if not value:
        return ""
    key = str(value).replace(" ", "_")
    labels = dict(ClockSegment.Target.choices)
    return str(labels[key]) if key in labels else str(value)


class RecomputeRun(models.Model):
    """A background recomputation of SLA clocks, with its progress for the admin: what asked
    for it, how many tickets it covers, how many are done."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # The names of the calendars or policies whose change it follows, as the admin named them.
    subject = models.CharField(_("for"), max_length=500, blank=True)
    total = models.PositiveIntegerField(_("tickets"))
    done = models.PositiveIntegerField(_("done"), default=0)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("SLA recomputation")
        verbose_name_plural = _("SLA recomputations")

    def __str__(self) -> str:
        return f"{self.subject or self.pk}: {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)
