"""In-app notifications, one row per recipient. Rendered in the reader's language."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


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
                    "reason": p.get("reason", ""),
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
                    "target": p.get("target", ""),
                }
            case self.Kind.SLA_BREACH:
                return gettext("SLA breached on %(ref)s: %(target)s") % {
                    "ref": ref,
                    "target": p.get("target", ""),
                }
            case self.Kind.MAJOR_INCIDENT:
                return gettext("%(ref)s is a major incident.") % {"ref": ref}
        return gettext("Rule “%(rule)s” fired on %(ref)s: %(reason)s") % {
            "ref": ref,
            "rule": p.get("rule", ""),
            "reason": p.get("reason", ""),
        }
