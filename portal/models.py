"""The customer portal's own rows: one-time sign-in codes and satisfaction ratings.

Contacts (`tickets.Contact`) are not users: the portal signs them in with a code sent to their
address and keeps its own session key, so a contact never holds a staff session.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Contact, Team, Ticket


class SignInCode(models.Model):
    """A one-time code requested for an address. Every request writes one, whether the address
    belongs to a contact or not (then `contact` is empty and no code was sent), so that the
    checks that follow behave the same for both: no answer tells whether an address exists.

    Neither the address nor the code is stored: only keyed digests (HMAC with SECRET_KEY).
    """

    address_digest = models.CharField(max_length=64, db_index=True, editable=False)
    code_digest = models.CharField(max_length=64, editable=False)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")

    def __str__(self) -> str:
        return f"{self.address_digest[:8]}… {self.created_at:%Y-%m-%d %H:%M}"


class Rating(models.Model):
    """A customer's satisfaction rating (CSAT, 1–5) of one resolution of a ticket.

    `resolution` is the ticket's `reopen_count` when it was resolved: a reopened and again
    resolved ticket is rated again, once per resolution. `escalated` and `level_rank` keep
    what reporting needs (CSAT after escalation) as it was when the rating came in.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="ratings", verbose_name=_("ticket")
    )
    resolution = models.PositiveIntegerField(_("resolution"))
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ratings",
        verbose_name=_("contact"),
    )
    escalated = models.BooleanField(_("escalated"), default=False)
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
    )
    level_rank = models.PositiveSmallIntegerField(_("level"), null=True, blank=True)
    created_at = models.DateTimeField(_("rated"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "resolution"], name="rating_once_per_resolution"
            ),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score}/5"
