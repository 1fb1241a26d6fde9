"""Notifications: in-app rows per user, the outbox of emails and webhooks (`Delivery`), the
users' preferences, webhook endpoints and the communication templates of escalated tickets.

In-app rows are rendered in the reader's language when read; emails in the recipient's
language (`Preference.language`) when sent.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk.names import TranslatedName, german_name_field
from notifications.addresses import is_forbidden_target
from notifications.reasons import reason_of
from sla.models import target_label, validate_timezone


class Notification(models.Model):
    class Kind(models.TextChoices):
        ESCALATION_RAISED = "escalation_raised", _("Escalation raised")
        ESCALATION_UNACKNOWLEDGED = "escalation_unacknowledged", _("Escalation not acknowledged")
        ESCALATION_ACKNOWLEDGED = "escalation_acknowledged", _("Escalation acknowledged")
        DE_ESCALATED = "de_escalated", _("De-escalated")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACH = "sla_breach", _("SLA breach")
        RULE_FIRED = "rule_fired", _("Escalation rule fired")
        MAJOR_INCIDENT = "major_incident", _("Major incident")
        TICKET_ASSIGNED = "ticket_assigned", _("Ticket assigned")
        STATUS_UPDATE_DUE = "status_update_due", _("Status update due")
        STATUS_UPDATE_MISSED = "status_update_missed", _("Status update missed")
        TICKET_RESOLVED = "ticket_resolved", _("Ticket resolved")
        SWEEP_FAILED = "sweep_failed", _("Escalation sweep failing on a ticket")
        LOW_RATING = "low_rating", _("Low customer rating")
        INCIDENT_PROPOSED = "incident_proposed", _("Major incident proposed")
        INCIDENT_UPDATE_DUE = "incident_update_due", _("Major incident update due")
        INCIDENT_UPDATE_MISSED = "incident_update_missed", _("Major incident update missed")
        CLOSING_REPORT_DUE = "closing_report_due", _("Closing report due")
        MEASURE_ASSIGNED = "measure_assigned", _("Preventive measure assigned")
        MEASURE_DUE = "measure_due", _("Preventive measure due")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    payload = models.JSONField(_("details"), default=dict, blank=True)
    dedupe_key = models.CharField(
        max_length=120, help_text=_("One notification per user and cause."), editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                name="notification_unread",
                condition=Q(read_at__isnull=True),
            )
        ]
        constraints = [
            # Nobody gets the same message twice for one cause.
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="notification_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.user_id}"

    @property
    def text(self) -> str:
        """One sentence in the active language."""
        p = self.payload
        ref = p.get("reference", "")
        match self.kind:
            case self.Kind.ESCALATION_RAISED:
                return gettext("%(ref)s was escalated to %(team)s: %(reason)s") % {
                    "ref": ref,
                    "team": p.get("to_team", ""),
                    "reason": reason_of(p),
                }
            case self.Kind.ESCALATION_UNACKNOWLEDGED:
                return gettext(
                    "The escalation of %(ref)s to %(team)s was not acknowledged in time."
                ) % {"ref": ref, "team": p.get("to_team", "")}
            case self.Kind.ESCALATION_ACKNOWLEDGED:
                return gettext("%(user)s acknowledged the escalation of %(ref)s.") % {
                    "ref": ref,
                    "user": p.get("by", ""),
                }
            case self.Kind.DE_ESCALATED:
                return gettext("%(ref)s was handed back to %(team)s: %(reason)s") % {
                    "ref": ref,
                    "team": p.get("to_team", ""),
                    "reason": p.get("reason", ""),
                }
            case self.Kind.SLA_WARNING:
                return gettext("SLA warning on %(ref)s: %(target)s") % {
                    "ref": ref,
                    "target": target_label(p.get("target")),
                }
            case self.Kind.SLA_BREACH:
                return gettext("SLA breached on %(ref)s: %(target)s") % {
                    "ref": ref,
                    "target": target_label(p.get("target")),
                }
            case self.Kind.MAJOR_INCIDENT:
                return gettext("%(ref)s is a major incident.") % {"ref": ref}
            case self.Kind.TICKET_ASSIGNED:
                return gettext("%(ref)s was assigned to you.") % {"ref": ref}
            case self.Kind.STATUS_UPDATE_DUE:
                return gettext("A status update on %(ref)s is due by %(due)s.") % {
                    "ref": ref,
                    "due": format_instant(p.get("due_at")),
                }
            case self.Kind.STATUS_UPDATE_MISSED:
                return gettext(
                    "The status update on %(ref)s was due by %(due)s and is missing."
                ) % {
                    "ref": ref,
                    "due": format_instant(p.get("due_at")),
                }
            case self.Kind.INCIDENT_PROPOSED:
                return gettext(
                    "%(count)s new tickets on %(what)s within %(minutes)s minutes: declare a "
                    "major incident?"
                ) % {
                    "count": p.get("count", ""),
                    "what": p.get("what", ""),
                    "minutes": p.get("minutes", ""),
                }
            case self.Kind.INCIDENT_UPDATE_DUE:
                return gettext("The next update on major incident %(ref)s is due by %(due)s.") % {
                    "ref": ref,
                    "due": format_instant(p.get("due_at")),
                }
            case self.Kind.INCIDENT_UPDATE_MISSED:
                return gettext(
                    "The update on major incident %(ref)s was due by %(due)s and is missing."
                ) % {"ref": ref, "due": format_instant(p.get("due_at"))}
            case self.Kind.TICKET_RESOLVED:
                return gettext("%(ref)s was resolved.") % {"ref": ref}
            case self.Kind.SWEEP_FAILED:
                return gettext(
                    "The escalation sweep failed on %(ref)s: its rules are not applied until "
                    "it succeeds again; it is retried with a growing delay. The error is under "
                    "Sweep failures in the admin."
                ) % {"ref": ref}
            case self.Kind.CLOSING_REPORT_DUE:
                return gettext(
                    "%(ref)s was resolved and needs a closing report before it can be closed."
                ) % {"ref": ref}
            case self.Kind.MEASURE_ASSIGNED:
                return gettext(
                    "Preventive measure from %(ref)s assigned to you, due %(due)s: %(title)s"
                ) % {"ref": ref, "due": format_date(p.get("due_on")), "title": p.get("title", "")}
            case self.Kind.MEASURE_DUE:
                return gettext("Preventive measure from %(ref)s is due %(due)s: %(title)s") % {
                    "ref": ref,
                    "due": format_date(p.get("due_on")),
                    "title": p.get("title", ""),
                }
            case self.Kind.LOW_RATING:
                return gettext("The customer rated %(ref)s %(score)s of 5.") % {
                    "ref": ref,
                    "score": p.get("score", ""),
                }
        return gettext("Rule “%(rule)s” fired on %(ref)s: %(reason)s") % {
            "ref": ref,
            "rule": p.get("rule", ""),
            "reason": reason_of(p, with_rule=False),
        }


def format_instant(value: str | None) -> str:
    """An ISO timestamp from a payload, as a short date and time in the active time zone."""
    parsed = parse_datetime(value) if value else None
    if parsed is None:
        return value or ""
    return formats.date_format(timezone.localtime(parsed), "SHORT_DATETIME_FORMAT")


def format_date(value: str | None) -> str:
    """An ISO date from a payload, as a short date in the active language."""
    parsed = parse_date(value) if value else None
    if parsed is None:
        return value or ""
    return formats.date_format(parsed, "SHORT_DATE_FORMAT")


def default_language() -> str:
    return settings.LANGUAGE_CODE


def default_timezone() -> str:
    return settings.TIME_ZONE


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("Email")


K = Notification.Kind

# (in the app, by email) for a kind the user has not chosen for. What asks somebody to act
# goes by email too; what only keeps them informed stays in the app.
DEFAULT_CHANNELS: dict[str, tuple[bool, bool]] = {
    K.TICKET_ASSIGNED: (True, True),
    K.ESCALATION_RAISED: (True, True),
    K.ESCALATION_UNACKNOWLEDGED: (True, True),
    K.ESCALATION_ACKNOWLEDGED: (True, False),
    K.DE_ESCALATED: (True, True),
    K.SLA_WARNING: (True, True),
    K.SLA_BREACH: (True, True),
    K.STATUS_UPDATE_DUE: (True, True),
    K.STATUS_UPDATE_MISSED: (True, True),
    K.TICKET_RESOLVED: (True, True),
    K.RULE_FIRED: (True, False),
    K.MAJOR_INCIDENT: (True, True),
    K.SWEEP_FAILED: (True, False),
    K.LOW_RATING: (True, True),
    K.INCIDENT_PROPOSED: (True, True),
    K.INCIDENT_UPDATE_DUE: (True, True),
    K.INCIDENT_UPDATE_MISSED: (True, True),
    K.CLOSING_REPORT_DUE: (True, True),
    K.MEASURE_ASSIGNED: (True, True),
    K.MEASURE_DUE: (True, True),
}


class Preference(models.Model):
    """How one user wants to be told: language and time zone of emails, the hours in which
    non-urgent email may reach them, and per kind of notification the channels.

    A user without a row gets the defaults (the site's language and time zone, every email
    at once, `DEFAULT_CHANNELS`).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=default_language
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default=default_timezone, validators=[validate_timezone]
    )
    calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("business hours"),
        help_text=_(
            "Outside these hours, non-urgent emails wait and go out as one digest when the "
            "hours begin. Sev 1 goes out at any hour. Empty: every email at once."
        ),
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)

    @classmethod
    def for_user(cls, user: Any) -> Preference:
        """The user's saved preference, or an unsaved one with the defaults (reads write
        nothing)."""
        found = cls.objects.filter(user=user).select_related("calendar").first()
        return found if found is not None else cls(user=user)


class ChannelPreference(models.Model):
    """One user's channels for one kind of notification."""

    preference = models.ForeignKey(Preference, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(_("kind"), max_length=40, choices=Notification.Kind.choices)
    in_app = models.BooleanField(_("in the app"), default=True)
    email = models.BooleanField(_("by email"), default=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = _("channel preference")
        verbose_name_plural = _("channel preferences")
        constraints = [
            models.UniqueConstraint(fields=["preference", "kind"], name="channel_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.preference} · {self.kind}"


class EventType(models.TextChoices):
    """The typed events external systems subscribe to (see `notifications/webhooks.py`)."""

    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_UPDATED = "ticket.updated", _("Ticket updated (assignee, team, level, priority)")
    TICKET_TRANSITIONED = "ticket.transitioned", _("Ticket status changed")
    TICKET_MESSAGE = "ticket.message", _("Public reply or customer message")
    SLA_WARNING = "sla.warning", _("SLA warning")
    SLA_BREACHED = "sla.breached", _("SLA breached")
    ESCALATION_RAISED = "escalation.raised", _("Escalation raised")
    ESCALATION_ACKNOWLEDGED = "escalation.acknowledged", _("Escalation acknowledged")
    ESCALATION_DEESCALATED = "escalation.deescalated", _("De-escalated")
    INCIDENT_DECLARED = "incident.declared", _("Major incident declared")
    INCIDENT_UPDATED = "incident.updated", _("Major incident updated")
    INCIDENT_RESOLVED = "incident.resolved", _("Major incident resolved")
    SERVICE_STATUS_CHANGED = "service.status_changed", _("Service status changed")


def new_webhook_secret() -> str:
    """A fresh signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_webhook_secret(value: str) -> None:
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except ValueError:
        key = b""
    if len(key) < 24:
        raise ValidationError(
            _("Use whsec_ and base64 of at least 24 random bytes (keep the generated one).")
        )


def literal_private_host(host: str) -> bool:
    """Whether `host` names a private, loopback or link-local target without a DNS lookup
    (an IP literal or localhost). Names are checked again, resolved, when sending."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return is_forbidden_target(address)


class WebhookEndpoint(models.Model):
    """An external system that receives signed, typed events by HTTP POST."""

    url = models.URLField(
        _("URL"), max_length=500, validators=[URLValidator(schemes=["http", "https"])]
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        default=new_webhook_secret,
        validators=[validate_webhook_secret],
        help_text=_(
            "Give this to the receiver: it verifies the webhook-signature header with it "
            "(Standard Webhooks)."
        ),
    )
    event_types = models.JSONField(
        _("event types"), default=list, blank=True, help_text=_("None ticked: every event.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["url", "pk"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.description or self.url

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def clean(self) -> None:
        unknown = sorted(set(self.event_types or ()) - set(EventType.values))
        if unknown:
            raise ValidationError(
                {"event_types": _("Unknown event types: %s") % ", ".join(unknown)}
            )
        host = urlsplit(self.url or "").hostname or ""
        if host and literal_private_host(host) and not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
            raise ValidationError(
                {"url": _("Private, loopback and link-local targets are not allowed.")}
            )


class Delivery(models.Model):
    """The outbox: one email or webhook to send, written in the transaction of its cause.

    pending → sending → sent; a failure goes back to pending at `next_attempt_at` (backoff)
    until the attempts run out (failed). `held` waits for the recipient's business hours and
    is then sent, or merged into one digest (`digested`). `cancelled`: nothing left to send
    (recipient gone, endpoint disabled). See `notifications/outbox.py`.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", _("Webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        HELD = "held", _("Held for business hours")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DIGESTED = "digested", _("Sent in a digest")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    kind = models.CharField(
        _("kind"), max_length=60, help_text=_("Email template or webhook event type.")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        db_index=False,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recipient"),
    )
    # A customer's contact, for the emails the mail app sends to customers (a reply, the
    # resolution notice); `user` is for staff.
    contact = models.ForeignKey(
        "tickets.Contact",
        db_index=False,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        db_index=False,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ticket"),
    )
    ticket_event = models.ForeignKey(
        "tickets.TicketEvent",
        db_index=False,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cause"),
    )
    event_id = models.CharField(
        _("event id"), max_length=64, blank=True, help_text=_("webhook-id, the same on every try.")
    )
    dedupe_key = models.CharField(max_length=120, blank=True, editable=False)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    digest = models.ForeignKey(
        "self",
        db_index=False,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="items",
        verbose_name=_("digest"),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    relayed_at = models.DateTimeField(_("relayed"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # Nobody gets the same email twice for one cause (like `notification_once`).
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=Q(channel="email", user__isnull=False),
                name="delivery_email_once",
            ),
            # One delivery per endpoint and event: a retry reuses the row and its event id.
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=Q(channel="webhook"),
                name="delivery_webhook_once",
            ),
            models.CheckConstraint(
                condition=(Q(channel="email", user__isnull=False))
                | Q(channel="email", contact__isnull=False)
                | Q(channel="webhook", endpoint__isnull=False),
                name="delivery_has_target",
            ),
        ]
        indexes = [
            # The relay reads what is due, and what a lost worker left in `sending`.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="delivery_due",
                condition=Q(status__in=["pending", "held", "sending"]),
            ),
            # Every index is written by each insert, and an incident update inserts thousands
            # of rows at once: an index on a column most rows leave empty holds only the rows
            # that fill it. `user_id = …` (a user's emails, deleting a user) implies NOT NULL,
            # so PostgreSQL uses these for any lookup by one value.
            models.Index(fields=["user"], name="delivery_user", condition=Q(user__isnull=False)),
            models.Index(
                fields=["contact"], name="delivery_contact", condition=Q(contact__isnull=False)
            ),
            # An endpoint's deliveries (the API's list, deleting an endpoint).
            models.Index(
                fields=["endpoint"], name="delivery_endpoint", condition=Q(endpoint__isnull=False)
            ),
            # A digest's items.
            models.Index(
                fields=["digest"], name="delivery_digest", condition=Q(digest__isnull=False)
            ),
            # `ticket_event` has no index: nothing reads deliveries by their cause, and timeline
            # entries are never deleted (append-only), so no SET NULL looks for them either.
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind} → {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.channel == self.Channel.WEBHOOK:
            return str(self.endpoint) if self.endpoint_id else "?"
        if self.contact_id:
            return str(self.contact)
        return str(self.user) if self.user_id else "?"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, with what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    ok = models.BooleanField(_("succeeded"), default=False)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class MessageTemplate(TranslatedName, models.Model):
    """A text an agent starts from when communicating about an escalated ticket (seeds: the
    initial escalation notice, the status update, the closing report), per language.

    The body's placeholders (`PLACEHOLDERS`, e.g. {reference}) are filled from the ticket;
    unknown ones stay as written.
    """

    class Kind(models.TextChoices):
        INITIAL_NOTICE = "initial_notice", _("Initial escalation notice")
        STATUS_UPDATE = "status_update", _("Status update")
        CLOSING_REPORT = "closing_report", _("Closing report")

    PLACEHOLDERS = (
        "reference",
        "subject",
        "status",
        "priority",
        "team",
        "level",
        "assignee",
        "customer",
        "next_update_due",
        "now",
    )

    name = models.CharField(_("name"), max_length=120)
    name_de = german_name_field(120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=default_language
    )
    body = models.TextField(
        _("body"),
        help_text=_(
            "Placeholders: {reference}, {subject}, {status}, {priority}, {team}, {level}, "
            "{assignee}, {customer}, {next_update_due}, {now}."
        ),
    )
    order = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "kind", "name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="message_template_once")
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.language})"

    def render(self, values: Mapping[str, str]) -> str:
        """The body with each known {placeholder} replaced (plain substitution, no format
        mini-language, so a template cannot reach attributes of the values)."""
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), self.body)
