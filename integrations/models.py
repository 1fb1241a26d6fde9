"""Integrations: external systems as users of the helpdesk.

- `ServiceAccount` marks a user as a machine: it has no password and no browser session, it
  holds API tokens (minted by admins), and it is the actor in the audit trail of what it did.
- `Integration` is a monitoring system allowed to post alerts (`POST /api/v1/alerts/`) with its
  own token (only the SHA-256 digest is stored), the team its tickets go to and how alert
  severities map to impact × urgency, and which business service its tickets name as affected
  (a default, or the service an alert label names).
- `AlertGroup` is one incident per deduplication key: while it is open, repeats of the alert
  add to its ticket instead of opening another (a partial unique constraint makes that hold
  under concurrent requests).
- `ImportedTicket` remembers which ticket an external system's ticket became, so that
  importing it again adds to it instead of duplicating it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Service, Team, Ticket
from tickets.priority import Impact, Urgency

# Alertmanager's and Grafana's usual severity labels, onto the severity matrix's axes.
DEFAULT_SEVERITY_MAP: dict[str, list[int]] = {
    "critical": [Impact.EXTENSIVE, Urgency.CRITICAL],
    "error": [Impact.SIGNIFICANT, Urgency.HIGH],
    "warning": [Impact.MODERATE, Urgency.HIGH],
    "info": [Impact.MINOR, Urgency.LOW],
}


def default_severity_map() -> dict[str, list[int]]:
    return {key: list(value) for key, value in DEFAULT_SEVERITY_MAP.items()}


def severity_map_errors(value: Any) -> list[str]:
    """What is wrong with a severity mapping (`{"label value": [impact, urgency]}`), if
    anything; the one check the admin form and the model share."""
    if not isinstance(value, dict):
        return [str(_("The mapping must be an object of severity → [impact, urgency]."))]
    errors = []
    impacts, urgencies = set(Impact.values), set(Urgency.values)
    for key, pair in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            errors.append(str(_("Each severity must be a text of 1 to 100 characters.")))
        elif (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
            or pair[0] not in impacts
            or pair[1] not in urgencies
        ):
            errors.append(
                str(
                    _("“%(severity)s”: give [impact, urgency], each from 1 (highest) to 4.")
                    % {"severity": key}
                )
            )
    return errors


class ServiceAccount(models.Model):
    """A user that is a machine. It signs in with API tokens only: its password is unusable
    and a browser sign-in is refused (`integrations.accounts`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="service_account",
        verbose_name=_("user"),
    )
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["user__username"]
        verbose_name = _("service account")
        verbose_name_plural = _("service accounts")

    def __str__(self) -> str:
        return self.user.get_username()


class Integration(models.Model):
    """A monitoring system that opens tickets from its alerts."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    account = models.ForeignKey(
        ServiceAccount,
        on_delete=models.PROTECT,
        related_name="integrations",
        verbose_name=_("service account"),
        help_text=_("The actor of everything this integration does; made for it when empty."),
    )
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(_("token prefix"), max_length=16, editable=False)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="integrations", verbose_name=_("team")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="integrations",
        verbose_name=_("affected service"),
        help_text=_(
            "The business service its tickets name as affected, if any (and when the service "
            "label names none)."
        ),
    )
    service_label = models.CharField(
        _("service label"),
        max_length=100,
        blank=True,
        default="",
        help_text=_(
            "The alert label that names the affected service by its name or slug, e.g. "
            "“service” (empty: the affected service above for every alert)."
        ),
    )
    severity_label = models.CharField(
        _("severity label"),
        max_length=100,
        default="severity",
        help_text=_("The alert label that carries the severity (Alertmanager: “severity”)."),
    )
    severity_map = models.JSONField(
        _("severity mapping"),
        default=default_severity_map,
        help_text=_(
            'Severity → [impact, urgency], each from 1 (highest) to 4, e.g. {"critical": [1, 1]}.'
        ),
    )
    default_impact = models.PositiveSmallIntegerField(
        _("impact when unmapped"), choices=Impact.choices, default=Impact.MODERATE
    )
    default_urgency = models.PositiveSmallIntegerField(
        _("urgency when unmapped"), choices=Urgency.choices, default=Urgency.MEDIUM
    )
    resolve_tickets = models.BooleanField(
        _("resolve tickets"),
        default=True,
        help_text=_("A resolved alert resolves its ticket (otherwise it only adds a message)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("alert integration")
        verbose_name_plural = _("alert integrations")

    def __str__(self) -> str:
        return self.name

    @property
    def throttle_ident(self) -> str:
        """Its requests' budget (`integrations.throttles`), apart from its account's."""
        return f"integration-{self.pk}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if severity_errors := severity_map_errors(self.severity_map):
            errors["severity_map"] = severity_errors
        if self.service_id is not None and not self.service.is_active:
            errors["service"] = [str(_("This service is not active."))]
        self.service_label = self.service_label.strip()
        if errors:
            raise ValidationError(errors)

    def impact_urgency(self, severity: str | None) -> tuple[int, int]:
        """(impact, urgency) for an alert of `severity` (case-insensitive)."""
        lowered = {key.lower(): value for key, value in self.severity_map.items()}
        pair = lowered.get((severity or "").strip().lower())
        if pair is None:
            return self.default_impact, self.default_urgency
        return int(pair[0]), int(pair[1])


class AlertGroup(models.Model):
    """The alerts of one deduplication key while their incident is open: one ticket, a
    counter of the notifications that came in."""

    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        related_name="alert_groups",
        verbose_name=_("integration"),
    )
    dedup_key = models.CharField(_("deduplication key"), max_length=255)
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alert_groups",
        verbose_name=_("ticket"),
    )
    is_open = models.BooleanField(_("open"), default=True)
    count = models.PositiveIntegerField(_("firing notifications"), default=0)
    severity = models.CharField(_("severity"), max_length=100, blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    started_at = models.DateTimeField(_("alert started"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # When the alert was last written on the ticket's timeline, and a digest of what it said:
    # identical repeats in between are only counted (see services.REPEAT_NOTE_INTERVAL).
    noted_at = models.DateTimeField(_("last on the timeline"), null=True, blank=True)
    noted_digest = models.CharField(max_length=64, blank=True, editable=False)
    # The service label's value when it named no service (the ticket took the default).
    service_unmatched = models.CharField(
        _("unknown service"),
        max_length=255,
        blank=True,
        default="",
        help_text=_("The service label's value that named no active service."),
    )

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # One open incident per key: a concurrent repeat waits for the first and joins it.
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=Q(is_open=True),
                name="alert_group_one_open",
            )
        ]
        indexes = [models.Index(fields=["integration", "dedup_key"], name="alert_group_key")]

    def __str__(self) -> str:
        return self.dedup_key


class ImportedTicket(models.Model):
    """Which ticket an external system's ticket became, and how far its history was played."""

    system = models.CharField(_("external system"), max_length=50)
    external_id = models.CharField(_("external id"), max_length=100)
    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, related_name="imported_from", verbose_name=_("ticket")
    )
    entries = models.PositiveIntegerField(_("history entries played"), default=0)
    last_entry_at = models.DateTimeField(_("last entry"), null=True, blank=True)
    imported_at = models.DateTimeField(_("first imported"), default=timezone.now)
    updated_at = models.DateTimeField(_("last imported"), default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("imported ticket")
        verbose_name_plural = _("imported tickets")
        constraints = [
            models.UniqueConstraint(
                fields=["system", "external_id"], name="imported_ticket_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"
