"""The rule lab's records: drafts of the escalation configuration beside the live one, and the
versions every published change (or rollback) leaves behind.

A document is the YAML text of `manage.py config export` (`lab.config`): the same format is
reviewed, diffed, validated and applied whether it comes from a file, a draft or a version.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Draft(models.Model):
    """A configuration that is not live: edited as YAML, checked with the admin's validation,
    published as a new `ConfigVersion` when it is ready."""

    name = models.CharField(_("name"), max_length=200)
    reason = models.TextField(_("why"), blank=True)
    document = models.TextField(
        _("configuration"),
        help_text=_(
            "The whole escalation configuration as YAML, in the format of "
            "'manage.py config export'."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)
    # What it was made from: the live configuration's document then, and the newest version
    # at that time. Publishing compares that document with the live one: a draft made before
    # other changes went live is published only once the admin confirms undoing them.
    based_on = models.ForeignKey(
        "ConfigVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("made from version"),
    )
    base_document = models.TextField(_("configuration it was made from"), blank=True, default="")
    # The version it became; a published draft is not published again.
    published_as = models.OneToOneField(
        "ConfigVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="from_draft",
        verbose_name=_("published as"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("configuration draft")
        verbose_name_plural = _("configuration drafts")

    def __str__(self) -> str:
        return self.name


class ConfigVersion(models.Model):
    """The escalation configuration as it was made live: by publishing a draft, by rolling back
    to an earlier version, by importing a file (the command or the API), or (version 1) as it
    stood before the lab's first change."""

    class Kind(models.TextChoices):
        BASELINE = "baseline", _("before the first change")
        PUBLISHED = "published", _("published draft")
        ROLLBACK = "rollback", _("rollback")
        IMPORTED = "imported", _("imported file")

    number = models.PositiveIntegerField(_("version"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    document = models.TextField(_("configuration"))
    reason = models.TextField(_("why"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    restores = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("restores version"),
    )

    class Meta:
        ordering = ["-number"]
        verbose_name = _("configuration version")
        verbose_name_plural = _("configuration versions")

    def __str__(self) -> str:
        return f"v{self.number}"


class BacktestRun(models.Model):
    """A draft replayed over past tickets beside the live configuration, in the worker: its
    progress for the page, a cancel flag the worker reads between batches, the result."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")
        FAILED = "failed", _("failed")

    draft = models.ForeignKey(
        Draft, on_delete=models.CASCADE, related_name="backtests", verbose_name=_("draft")
    )
    days = models.PositiveIntegerField(_("days"), default=90)
    # The period replayed: tickets created from `since` until `until`, played up to `until`.
    since = models.DateTimeField(_("from"))
    until = models.DateTimeField(_("until"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    total = models.PositiveIntegerField(_("tickets"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    # Problems of the draft's document, facts (paths and the import's messages).
    problems = models.JSONField(_("problems"), default=list, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("backtest")
        verbose_name_plural = _("backtests")

    def __str__(self) -> str:
        return f"{self.draft}: {self.since:%Y-%m-%d}–{self.until:%Y-%m-%d}"

    @property
    def percent(self) -> int:
        if not self.total:  # nothing counted yet, or nothing to replay
            return 100 if self.status == self.Status.DONE else 0
        return min(100, self.done * 100 // self.total)
