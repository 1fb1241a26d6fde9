"""Closing reports and lessons learned.

A `ClosingReport` documents a ticket that reached incident management (level 3) or above, or
was a major incident: cause, solution, impact, lessons learned, preventive measures and a
`CauseCategory`. The ticket cannot be closed without one (`lessons.rules`). A preventive measure
worth following up becomes a `Measure` with an owner and a due date, listed until done.

On PostgreSQL each report keeps a stored `search_vector` (English and German configurations
both: a report is written in one language, which is not recorded), GIN-indexed by migration
0002; elsewhere the search matches substrings.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.names import TranslatedName, german_name_field
from tickets.models import Ticket

# The fields a report's search reads, with their weight.
SEARCH_FIELDS = (
    ("cause", "A"),
    ("lessons_learned", "A"),
    ("solution", "B"),
    ("preventive_measures", "B"),
    ("impact", "C"),
)
SEARCH_CONFIGS = ("english", "german")


class CauseCategory(TranslatedName, models.Model):
    """What kind of cause it was ("Software defect", "Configuration change", …): admin-kept,
    with a German name shown on German pages."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    name_de = german_name_field(100)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("cause category")
        verbose_name_plural = _("cause categories")

    def __str__(self) -> str:
        return self.display_name


class ClosingReportQuerySet(models.QuerySet["ClosingReport"]):
    def refresh_search_vectors(self) -> int:
        """Rebuild the stored search vectors of these rows (PostgreSQL only)."""
        if connection.vendor != "postgresql":
            return 0
        vector = None
        for config in SEARCH_CONFIGS:
            for field, weight in SEARCH_FIELDS:
                part = SearchVector(field, weight=weight, config=config)
                vector = part if vector is None else vector + part
        return self.update(search_vector=vector)


class ClosingReport(models.Model):
    """The closing report of one ticket: what caused it, what solved it and what was learned."""

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, related_name="closing_report", verbose_name=_("ticket")
    )
    category = models.ForeignKey(
        CauseCategory,
        on_delete=models.PROTECT,
        related_name="reports",
        verbose_name=_("category of cause"),
    )
    cause = models.TextField(_("cause"))
    solution = models.TextField(_("solution"))
    impact = models.TextField(_("impact"), blank=True)
    lessons_learned = models.TextField(_("lessons learned"))
    preventive_measures = models.TextField(_("preventive measures"), blank=True)
    # The highest support level the ticket reached, kept for the level filter: the ticket's
    # own level may be lower again after a hand-back.
    level_rank = models.PositiveSmallIntegerField(_("highest level reached"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last changed by"),
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)
    # Grows with every write: forms carry it, so a double submit acts once.
    version = models.PositiveIntegerField(default=0, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)

    objects = ClosingReportQuerySet.as_manager()

    TEXT_FIELDS = ("cause", "solution", "impact", "lessons_learned", "preventive_measures")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("closing report")
        verbose_name_plural = _("closing reports")
        indexes = [
            models.Index(fields=["created_at"], name="lessons_report_created"),
            models.Index(fields=["level_rank"], name="lessons_report_level"),
        ]

    def __str__(self) -> str:
        return str(_("Closing report of %(reference)s") % {"reference": self.ticket.reference})

    def get_absolute_url(self) -> str:
        return reverse("lessons:report", kwargs={"reference": self.ticket.reference})


class MeasureQuerySet(models.QuerySet["Measure"]):
    def open(self) -> MeasureQuerySet:
        return self.filter(done_at__isnull=True)


class Measure(models.Model):
    """A preventive measure tracked as a follow-up task: who does it, by when, and when it
    was done. Open measures are listed (overdue first) until done."""

    report = models.ForeignKey(
        ClosingReport,
        on_delete=models.CASCADE,
        related_name="measures",
        verbose_name=_("closing report"),
    )
    title = models.CharField(_("measure"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="preventive_measures",
        verbose_name=_("owner"),
    )
    due_on = models.DateField(_("due"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    # The due date the owner was reminded of (once per date: a new date reminds again).
    reminded_for = models.DateField(null=True, blank=True, editable=False)

    objects = MeasureQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        verbose_name = _("preventive measure")
        verbose_name_plural = _("preventive measures")
        indexes = [
            models.Index(
                fields=["due_on"],
                name="lessons_measure_open_due",
                condition=Q(done_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def is_overdue(self, today: object) -> bool:
        return self.done_at is None and self.due_on < today  # type: ignore[operator]
