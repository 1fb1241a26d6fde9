"""Who gets the weekly report by email: a row per subscriber (leads and admins; see
`reporting.weekly`). The email's language and time zone are the subscriber's notification
preference (`notifications.Preference`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WeeklyReportSubscription(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="weekly_report_subscription",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("subscribed"), default=timezone.now)

    class Meta:
        verbose_name = _("weekly report subscription")
        verbose_name_plural = _("weekly report subscriptions")

    def __str__(self) -> str:
        return str(self.user)


class DailyRollup(models.Model):
    """The facts behind the reports' figures for one local day (of the site's time zone) and
    one combination of a ticket's team, level and priority, as `reporting.rollups` collects
    them: `counts` (name → number) and the durations in seconds, kept as values so that
    medians and percentiles stay exact when days are merged: `durations` holds them packed as
    8-byte floats in network byte order (PostgreSQL's `float8send`), name after name in sorted
    order of the names, each name's ascending; `lengths` says how many each name has
    (`rollups.pack`, `rollups.unpack`). Packed, not a JSON array: a page over a year reads
    hundreds of thousands of durations, and JSON numbers cost the database their formatting
    and Python their parsing (see docs/reporting.md). Written only by `rollups.roll_up_day`,
    which replaces a day's rows at once."""

    day = models.DateField(_("day"), db_index=True)
    team = models.ForeignKey("tickets.Team", on_delete=models.CASCADE, null=True, related_name="+")
    level = models.ForeignKey(
        "tickets.SupportLevel", on_delete=models.CASCADE, null=True, related_name="+"
    )
    priority = models.PositiveSmallIntegerField(_("priority"), null=True)
    counts = models.JSONField(_("counts"), default=dict)
    lengths = models.JSONField(_("lengths"), default=dict)
    durations = models.BinaryField(_("durations"), default=b"")

    class Meta:
        verbose_name = _("daily report rollup")
        verbose_name_plural = _("daily report rollups")

    def __str__(self) -> str:
        return f"{self.day} {self.team_id}/{self.level_id}/{self.priority}"


class RolledDay(models.Model):
    """A local day whose `DailyRollup` rows are complete, and when they were written. A day
    made stale by a ticket written since is deleted here (`reporting.rollups.invalidate`)
    until it is rolled up again."""

    day = models.DateField(_("day"), primary_key=True)
    rolled_at = models.DateTimeField(_("rolled up"))

    class Meta:
        verbose_name = _("rolled-up day")
        verbose_name_plural = _("rolled-up days")

    def __str__(self) -> str:
        return str(self.day)


class RollupWatermark(models.Model):
    """One row: the instant up to which ticket writes have been checked against the rolled
    days (`reporting.rollups.invalidate`); the page treats days a ticket written since may
    count on as stale."""

    checked_at = models.DateTimeField(_("checked"))

    class Meta:
        verbose_name = _("rollup watermark")
        verbose_name_plural = _("rollup watermarks")

    def __str__(self) -> str:
        return str(self.checked_at)


class DirtyDay(models.Model):
    """A local day whose rolled-up figures a write changed that does not touch the ticket's
    `updated_at` (an acknowledgement, a rating, a closing report written or removed: see
    `reporting.signals`), marked in the write's own transaction. Append-only: a write adds its
    marks, and a roll-up run forgets the rolled days marked since its watermark and removes the
    marks it has dealt with (`reporting.rollups.invalidate`)."""

    day = models.DateField(_("day"))
    marked_at = models.DateTimeField(_("marked"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("day to roll up again")
        verbose_name_plural = _("days to roll up again")

    def __str__(self) -> str:
        return str(self.day)
