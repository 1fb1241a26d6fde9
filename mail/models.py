"""Email in and out: the mailboxes we receive on, every message received (raw, for audit and
re-processing), the Message-IDs of what we sent, and the people taking part in a ticket by mail.

Nothing here stores words: an inbound message's `outcome` is a fact; its wording is the
choice label, rendered for the reader.
"""

from __future__ import annotations

import os
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Contact, Customer, Message, Team, Ticket
from tickets.priority import Impact, Urgency

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def validate_env_name(value: str) -> None:
    """An environment variable's name (credentials live in the environment, not here)."""
    if value and not _ENV_NAME.match(value):
        raise ValidationError(
            _("Give the name of an environment variable (A–Z, 0–9 and _), not its value.")
        )


class Mailbox(models.Model):
    """An address customers write to, where its mail comes from (IMAP or the inbound
    endpoint), which team receives its tickets, and how strangers and replies are handled."""

    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS")
        STARTTLS = "starttls", _("STARTTLS")
        NONE = "none", _("None (local servers only)")

    class UnknownSenders(models.TextChoices):
        DOMAIN_OR_PERSON = (
            "domain_or_person",
            _("Contact of the organisation with the sender's domain, else a personal customer"),
        )
        DOMAIN = "domain", _("Only senders of an organisation's domain")
        KNOWN = "known", _("Only known contacts")

    slug = models.SlugField(
        _("short name"), unique=True, help_text=_("Used in the inbound URL /mail/inbound/<name>/.")
    )
    address = models.EmailField(_("address"), unique=True)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="+", verbose_name=_("target team")
    )
    impact = models.PositiveSmallIntegerField(
        _("default impact"), choices=Impact.choices, default=Impact.MODERATE
    )
    urgency = models.PositiveSmallIntegerField(
        _("default urgency"), choices=Urgency.choices, default=Urgency.MEDIUM
    )
    imap_host = models.CharField(
        _("IMAP host"), max_length=255, blank=True, help_text=_("Empty: no polling.")
    )
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP security"), max_length=10, choices=Security.choices, default=Security.SSL
    )
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    imap_username = models.CharField(_("IMAP user name"), max_length=255, blank=True)
    imap_password_env = models.CharField(
        _("IMAP password variable"),
        max_length=100,
        blank=True,
        validators=[validate_env_name],
        help_text=_("The name of the environment variable that holds the password."),
    )
    inbound_token_env = models.CharField(
        _("inbound token variable"),
        max_length=100,
        blank=True,
        validators=[validate_env_name],
        help_text=_(
            "The name of the environment variable that holds the token of the inbound "
            "endpoint. Empty: the endpoint is closed for this mailbox."
        ),
    )
    unknown_senders = models.CharField(
        _("unknown senders"),
        max_length=20,
        choices=UnknownSenders.choices,
        default=UnknownSenders.DOMAIN_OR_PERSON,
    )
    accept_other_senders = models.BooleanField(
        _("accept replies from other senders"),
        default=False,
        help_text=_(
            "A reply from someone who is neither the requester nor a participant of the ticket "
            "is added as a customer message. Off: it is held."
        ),
    )
    reopen_days = models.PositiveIntegerField(
        _("reopen window (days)"),
        default=7,
        help_text=_(
            "A reply up to this many days after resolution reopens the ticket; later, or to a "
            "closed ticket, it opens a follow-up ticket."
        ),
    )
    sender_limit = models.PositiveIntegerField(
        _("mails per sender"), default=10, help_text=_("More within the window are held.")
    )
    mailbox_limit = models.PositiveIntegerField(
        _("mails per mailbox"), default=500, help_text=_("More within the window are held.")
    )
    limit_minutes = models.PositiveIntegerField(_("rate window (minutes)"), default=10)
    is_active = models.BooleanField(_("active"), default=True)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True, editable=False)
    last_poll_error = models.TextField(_("last polling error"), blank=True, editable=False)

    class Meta:
        ordering = ["address"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.address

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.address = (self.address or "").strip().lower()
        super().save(*args, **kwargs)

    def secret(self, variable: str) -> str:
        """The value of the environment variable named by `variable` ("" when unset)."""
        return os.environ.get(variable, "") if variable else ""


class CustomerDomain(models.Model):
    """An email domain of a customer organisation: unknown senders from it become its
    contacts (when the mailbox's policy says so)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="mail_domains", verbose_name=_("customer")
    )
    domain = models.CharField(_("domain"), max_length=255, unique=True)

    class Meta:
        ordering = ["domain"]
        verbose_name = _("customer email domain")
        verbose_name_plural = _("customer email domains")

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.domain = (self.domain or "").strip().lower().lstrip("@")
        super().save(*args, **kwargs)


class InboundMail(models.Model):
    """One message received, stored raw before anything else, processed once.

    The Message-ID is unique: the same message fetched twice, posted twice, or sent to two
    of our mailboxes is stored and processed once. A message without one gets an id derived
    from a hash of its bytes.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Not processed yet")
        CREATED = "created", _("Opened a ticket")
        THREADED = "threaded", _("Added to its ticket")
        FOLLOW_UP = "follow_up", _("Opened a follow-up ticket")
        AUTO_REPLY = "auto_reply", _("Automatic reply: ignored")
        BOUNCE = "bounce", _("Bounce: ignored")
        LIST = "list", _("List or bulk mail: ignored")
        OWN = "own", _("From one of our own addresses: ignored")
        RATE_LIMITED = "rate_limited", _("Held: too many mails")
        UNKNOWN_SENDER = "unknown_sender", _("Held: unknown sender")
        NOT_PARTICIPANT = "not_participant", _("Held: sender not on the ticket")
        FAILED = "failed", _("Could not be processed")

    IGNORED = frozenset({Outcome.AUTO_REPLY, Outcome.BOUNCE, Outcome.LIST, Outcome.OWN})
    HELD = frozenset({Outcome.RATE_LIMITED, Outcome.UNKNOWN_SENDER, Outcome.NOT_PARTICIPANT})

    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.PROTECT, related_name="messages", verbose_name=_("mailbox")
    )
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    sender = models.CharField(_("sender"), max_length=254, blank=True, db_index=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    raw = models.BinaryField(_("raw message"))
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING
    )
    # Facts about the outcome (the header that marked an automatic reply, the error's field),
    # never sentences.
    detail = models.JSONField(_("details"), default=dict, blank=True)
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ticket"),
    )
    ticket_message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")
        indexes = [
            models.Index(fields=["mailbox", "received_at"], name="inbound_mailbox_received"),
            models.Index(fields=["sender", "received_at"], name="inbound_sender_received"),
            models.Index(fields=["ticket", "received_at"], name="inbound_ticket_received"),
        ]

    def __str__(self) -> str:
        return self.message_id


class OutboundMail(models.Model):
    """An email we send about a ticket, with its stable Message-ID: replies to it find the
    ticket by In-Reply-To/References."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Public reply")
        RESOLVED = "resolved", _("Resolution notice")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket")
    )
    ticket_message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    mailbox = models.ForeignKey(
        Mailbox,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("mailbox"),
    )
    recipients = models.JSONField(_("recipients"), default=list)
    # The In-Reply-To and References headers, fixed when the mail is written, so a retry
    # sends the same message.
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        indexes = [models.Index(fields=["ticket", "created_at"], name="outbound_ticket_created")]

    def __str__(self) -> str:
        return self.message_id


class Participant(models.Model):
    """Someone on a ticket by mail besides the requester (a CC of the first mail): their
    replies are accepted, and they receive the public replies in CC."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("ticket")
    )
    email = models.EmailField(_("email"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["email"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [models.UniqueConstraint(fields=["ticket", "email"], name="participant_once")]

    def __str__(self) -> str:
        return self.email


def max_mail_bytes() -> int:
    """The largest raw message accepted (the endpoint answers 413 above it)."""
    return settings.MAIL_MAX_BYTES
