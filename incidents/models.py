"""Major incidents and the history of the business services' status.

A major incident bundles the tickets of one outage: it is declared (by hand or by the wave
trigger), tickets are linked to it, its status updates reach every linked customer at once,
and resolving it resolves the linked tickets with its closing report. Rows change only
through `incidents/services.py`; `IncidentEvent` is its append-only timeline.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.appendonly import AppendOnlyModel, AppendOnlyQuerySet
from helpdesk.names import TranslatedName, german_name_field
from tickets.models import Service, Ticket
from tickets.priority import Priority


class ServiceStatusChange(models.Model):
    """One change of a business service's status: who, when, why (and by which incident)."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="status_changes", verbose_name=_("service")
    )
    from_status = models.CharField(_("from"), max_length=20, choices=Service.Status.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=Service.Status.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    note = models.CharField(_("why"), max_length=300, blank=True)
    incident = models.ForeignKey(
        "MajorIncident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="service_changes",
        verbose_name=_("major incident"),
    )

    class Meta:
        ordering = ["-changed_at", "-pk"]
        verbose_name = _("service status change")
        verbose_name_plural = _("service status changes")
        indexes = [models.Index(fields=["service", "-changed_at"], name="service_change_latest")]

    def __str__(self) -> str:
        return f"{self.service}: {self.from_status} → {self.to_status}"


class MajorIncident(models.Model):
    """One outage run as one event: its services, severity, manager, cadence and report."""

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", _("Investigating")
        IDENTIFIED = "identified", _("Cause identified")
        MONITORING = "monitoring", _("Fix applied, monitoring")
        RESOLVED = "resolved", _("Resolved")

    OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)
    CLOSING_FIELDS = ("cause", "solution", "impact", "lessons_learned", "preventive_measures")

    title = models.CharField(_("title"), max_length=200)
    severity = models.PositiveSmallIntegerField(
        _("severity"), choices=Priority.choices, default=Priority.CRITICAL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.INVESTIGATING
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="incidents", verbose_name=_("affected services")
    )
    service_impact = models.CharField(
        _("service status while open"),
        max_length=20,
        choices=[c for c in Service.Status.choices if c[0] != Service.Status.OPERATIONAL],
        default=Service.Status.OUTAGE,
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="managed_incidents",
        verbose_name=_("incident manager"),
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("declared by"),
    )
    source_ticket = models.ForeignKey(
        Ticket,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("declared from ticket"),
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    declared_at = models.DateTimeField(_("declared"), default=timezone.now)
    next_update_due_at = models.DateTimeField(_("next update due"), null=True, blank=True)
    last_update_at = models.DateTimeField(_("last update"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # The services' status before the declaration, restored on resolution: {service id: status}.
    services_before = models.JSONField(default=dict, blank=True, editable=False)
    cause = models.TextField(_("cause"), blank=True)
    solution = models.TextField(_("solution"), blank=True)
    impact = models.TextField(_("impact"), blank=True)
    lessons_learned = models.TextField(_("lessons learned"), blank=True)
    preventive_measures = models.TextField(_("preventive measures"), blank=True)
    # Grows with every write: forms carry it, so a double submit acts once.
    version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-declared_at", "-pk"]
        verbose_name = _("major incident")
        verbose_name_plural = _("major incidents")
        permissions = [("declare_incident", _("Can declare and run major incidents"))]
        indexes = [
            models.Index(
                fields=["next_update_due_at"],
                name="incident_update_due",
                condition=Q(status__in=["investigating", "identified", "monitoring"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", kwargs={"pk": self.pk})

    @property
    def reference(self) -> str:
        return f"MI-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class IncidentLink(models.Model):
    """A ticket linked to an incident: the incident owns its communication until the link
    ends (unlinked by hand, or the incident resolved). A ticket has at most one running link."""

    class Source(models.TextChoices):
        DECLARATION = "declaration", _("Declared from it")
        MANUAL = "manual", _("By hand")
        BULK = "bulk", _("From a list")
        SUGGESTION = "suggestion", _("From a suggestion")
        WAVE = "wave", _("Wave trigger")
        API = "api", _("API")

    class End(models.TextChoices):
        UNLINKED = "unlinked", _("Unlinked")
        RESOLVED = "resolved", _("Resolved with the incident")

    incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="links", verbose_name=_("incident")
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="incident_links", verbose_name=_("ticket")
    )
    source = models.CharField(_("how"), max_length=20, choices=Source.choices)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("linked by"),
    )
    linked_at = models.DateTimeField(_("linked"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended by"),
    )
    end = models.CharField(_("end"), max_length=20, choices=End.choices, blank=True)

    class Meta:
        ordering = ["linked_at", "pk"]
        verbose_name = _("incident link")
        verbose_name_plural = _("incident links")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=Q(ended_at__isnull=True), name="incident_link_running"
            )
        ]
        indexes = [models.Index(fields=["incident", "ended_at"], name="incident_link_incident")]

    def __str__(self) -> str:
        return f"{self.incident_id} ↔ {self.ticket_id}"

    @property
    def is_running(self) -> bool:
        return self.ended_at is None


class IncidentUpdate(models.Model):
    """A status update sent to every linked customer (initial notice, update, closing report).
    `text` is what the incident manager wrote; the message around it is worded per customer
    from the template of `kind` in their language."""

    class Kind(models.TextChoices):
        INITIAL_NOTICE = "initial_notice", _("Initial notice")
        STATUS_UPDATE = "status_update", _("Status update")
        CLOSING_REPORT = "closing_report", _("Closing report")

    incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="updates", verbose_name=_("incident")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=MajorIncident.Status.choices)
    text = models.TextField(_("what we know"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    recipients = models.PositiveIntegerField(_("tickets reached"), default=0)
    intent = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("incident update")
        verbose_name_plural = _("incident updates")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "intent"], condition=~Q(intent=""), name="incident_update_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.incident_id}"


class IncidentEvent(AppendOnlyModel):
    """The incident's append-only timeline: declaration, links, updates, status changes,
    reminders, resolution — who and when, with facts in `payload` (worded at display)."""

    class Kind(models.TextChoices):
        DECLARED = "declared", _("Declared")
        PROPOSED = "proposed", _("Proposed by the wave trigger")
        LINKED = "linked", _("Tickets linked")
        UNLINKED = "unlinked", _("Ticket unlinked")
        UPDATE_SENT = "update_sent", _("Update sent")
        STATUS_CHANGED = "status_changed", _("Status changed")
        SERVICE_STATUS = "service_status", _("Service status changed")
        UPDATE_DUE = "update_due", _("Update due soon")
        UPDATE_MISSED = "update_missed", _("Update missed")
        MANAGEMENT_TOLD = "management_told", _("Management informed")
        RESOLVED = "resolved", _("Resolved")

    incident = models.ForeignKey(
        MajorIncident, on_delete=models.CASCADE, related_name="events", verbose_name=_("incident")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    # A reminder is recorded once per deadline: "update_due:<timestamp>".
    once = models.CharField(max_length=80, blank=True, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "once"], condition=~Q(once=""), name="incident_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.incident_id}"


class WaveRule(TranslatedName, models.Model):
    """The wave trigger ("many customers affected"): at least `min_tickets` new tickets on the
    same service — or, without a service, with similar subjects — within `window_minutes`
    propose a major incident to the incident management team, or declare it directly."""

    class Action(models.TextChoices):
        PROPOSE = "propose", _("Propose to the incident management team")
        DECLARE = "declare", _("Declare directly")

    name = models.CharField(_("name"), max_length=100, unique=True)
    name_de = german_name_field(100)
    min_tickets = models.PositiveIntegerField(_("at least N tickets"), default=10)
    window_minutes = models.PositiveIntegerField(_("within T minutes"), default=15)
    by_service = models.BooleanField(_("same service"), default=True)
    by_subject = models.BooleanField(
        _("similar subjects (tickets without a service)"), default=True
    )
    action = models.CharField(
        _("action"), max_length=20, choices=Action.choices, default=Action.PROPOSE
    )
    severity = models.PositiveSmallIntegerField(
        _("severity of the incident"), choices=Priority.choices, default=Priority.CRITICAL
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("wave rule")
        verbose_name_plural = _("wave rules")

    def __str__(self) -> str:
        return self.display_name


class WaveFiring(models.Model):
    """A wave rule fired for one wave (`key`: the service, or the subjects' common words):
    once, whatever the number of sweeps, until the wave has been quiet for a window."""

    rule = models.ForeignKey(WaveRule, on_delete=models.CASCADE, related_name="firings")
    key = models.CharField(max_length=200)
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    ticket_ids = models.JSONField(default=list)
    incident = models.ForeignKey(
        MajorIncident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The wave's start (its first ticket); a wave fires once per (rule, key, started).
    started_at = models.DateTimeField()

    class Meta:
        ordering = ["-fired_at", "-pk"]
        verbose_name = _("wave firing")
        verbose_name_plural = _("wave firings")
        constraints = [
            models.UniqueConstraint(fields=["rule", "key", "started_at"], name="wave_fires_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.key}"
