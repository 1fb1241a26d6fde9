"""Escalation rules (admin-configured) and escalations (each hand-off, with its own FSM)."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from escalation import wording
from escalation.engine import Escalate, RuleSpec, Trigger
from helpdesk.names import TranslatedName, german_name_field
from tickets.priority import Priority


class EscalationRuleQuerySet(models.QuerySet["EscalationRule"]):
    def active(self) -> EscalationRuleQuerySet:
        return self.filter(is_active=True)


class EscalationRule(TranslatedName, models.Model):
    """When a ticket escalates, and what happens then. Ordered; each fires once per cycle."""

    class TriggerChoice(models.TextChoices):
        NO_PROGRESS = Trigger.NO_PROGRESS, _("No progress for (business time)")
        SLA_WARNING = Trigger.SLA_WARNING, _("SLA warning")
        SLA_BREACH = Trigger.SLA_BREACH, _("SLA breach")
        SEVERITY = Trigger.SEVERITY, _("Severity at or above")
        UNACKNOWLEDGED = Trigger.UNACKNOWLEDGED, _("Escalation not acknowledged in time")
        SOFT_SIGNAL = Trigger.SOFT_SIGNAL, _("Risk score at or above")

    class SLATargetChoice(models.TextChoices):
        ANY = "", _("any target")
        FIRST_RESPONSE = "first_response", _("first response")
        NEXT_UPDATE = "next_update", _("next update")
        RESOLUTION = "resolution", _("resolution")

    class EscalateChoice(models.TextChoices):
        NONE = Escalate.NONE, _("Do not hand off")
        HIERARCHICAL = Escalate.HIERARCHICAL, _("Up to the next level of the chain")
        FUNCTIONAL = Escalate.FUNCTIONAL, _("Across to a functional team")

    name = models.CharField(_("name"), max_length=120, unique=True)
    name_de = german_name_field(120)
    order = models.PositiveIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=TriggerChoice.choices)
    sla_target = models.CharField(
        _("SLA target"), max_length=20, choices=SLATargetChoice.choices, blank=True
    )
    threshold = models.DurationField(_("business time without progress"), null=True, blank=True)
    priority_at_least = models.PositiveSmallIntegerField(
        _("priority at or above"), choices=Priority.choices, null=True, blank=True
    )
    risk_at_least = models.PositiveSmallIntegerField(
        _("risk score at or above"), null=True, blank=True
    )
    # Conditions (empty = any)
    teams = models.ManyToManyField(
        "tickets.Team", blank=True, related_name="escalation_rules", verbose_name=_("teams")
    )
    levels = models.ManyToManyField(
        "tickets.SupportLevel",
        blank=True,
        related_name="escalation_rules",
        verbose_name=_("levels"),
    )
    priority_min = models.PositiveSmallIntegerField(
        _("most severe priority"), choices=Priority.choices, default=Priority.CRITICAL
    )
    priority_max = models.PositiveSmallIntegerField(
        _("least severe priority"), choices=Priority.choices, default=Priority.LOW
    )
    customer_tiers = models.JSONField(_("customer tiers"), default=list, blank=True)
    channels = models.JSONField(_("channels"), default=list, blank=True)
    # Actions
    escalate = models.CharField(
        _("hand-off"), max_length=20, choices=EscalateChoice.choices, default=Escalate.NONE
    )
    functional_team = models.ForeignKey(
        "tickets.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("functional team"),
        limit_choices_to={"kind": "functional"},
    )
    keep_assignee = models.BooleanField(
        _("keep the assignee"),
        default=False,
        help_text=_("Otherwise the receiving team picks the ticket up unassigned."),
    )
    raise_priority_to = models.PositiveSmallIntegerField(
        _("raise priority to"), choices=Priority.choices, null=True, blank=True
    )
    mark_major_incident = models.BooleanField(_("mark as major incident"), default=False)
    notify_assignee = models.BooleanField(_("notify the assignee"), default=False)
    notify_team_lead = models.BooleanField(_("notify the team lead"), default=False)
    notify_target_team = models.BooleanField(_("notify the receiving team"), default=False)
    notify_level_rank = models.PositiveSmallIntegerField(
        _("notify the leads of level"),
        null=True,
        blank=True,
        help_text=_("Rank of a support level whose team leads are told, e.g. 4 for management."),
    )
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("notify users")
    )

    objects = EscalationRuleQuerySet.as_manager()

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")

    def __str__(self) -> str:
        return self.display_name

    @property
    def notifies(self) -> bool:
        """Whether the rule tells anyone (uses prefetched `notify_users` when there are)."""
        return bool(
            self.notify_assignee
            or self.notify_team_lead
            or self.notify_target_team
            or self.notify_level_rank is not None
            or (self.pk is not None and list(self.notify_users.all()))
        )

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        needs = {
            Trigger.NO_PROGRESS: ("threshold", _("Say how long without progress.")),
            Trigger.SEVERITY: ("priority_at_least", _("Choose the priority.")),
            Trigger.SOFT_SIGNAL: ("risk_at_least", _("Choose the risk score.")),
        }
        if self.trigger in needs:
            field, message = needs[self.trigger]
            if getattr(self, field) in (None, ""):
                errors[field] = message
        if self.threshold is not None and self.threshold <= dt.timedelta(0):
            errors["threshold"] = _("Must be longer than zero.")
        if self.escalate == Escalate.FUNCTIONAL and self.functional_team_id is None:
            errors["functional_team"] = _("Choose the functional team to escalate to.")
        if self.escalate != Escalate.FUNCTIONAL and self.functional_team_id is not None:
            errors["functional_team"] = _("Only a functional hand-off names a team.")
        if self.priority_min > self.priority_max:
            errors["priority_max"] = _("The range must run from more to less severe.")
        if errors:
            raise ValidationError(errors)

    def as_spec(
        self,
        *,
        team_ids: set[int] | None = None,
        level_ranks: set[int] | None = None,
        notify: bool | None = None,
    ) -> RuleSpec:
        """This rule as the engine's plain value (pass prefetched sets to avoid queries)."""
        return RuleSpec(
            id=self.pk,
            order=self.order,
            trigger=Trigger(self.trigger),
            sla_target=self.sla_target,
            threshold=self.threshold,
            priority_at_least=self.priority_at_least,
            risk_at_least=self.risk_at_least,
            team_ids=frozenset(
                team_ids if team_ids is not None else (t.pk for t in self.teams.all())
            ),
            level_ranks=frozenset(
                level_ranks if level_ranks is not None else (lv.rank for lv in self.levels.all())
            ),
            priority_min=self.priority_min,
            priority_max=self.priority_max,
            customer_tiers=frozenset(self.customer_tiers or ()),
            channels=frozenset(self.channels or ()),
            escalate=Escalate(self.escalate),
            functional_team_id=self.functional_team_id,
            notify=self.notifies if notify is None else notify,
            raise_priority_to=self.raise_priority_to,
            major_incident=self.mark_major_incident,
        )


class Escalation(ConcurrentTransitionMixin, models.Model):
    """One hand-off of a ticket: up the chain, across to experts, or back down."""

    class Kind(models.TextChoices):
        HIERARCHICAL = "hierarchical", _("Hierarchical")
        FUNCTIONAL = "functional", _("Functional")
        DE_ESCALATION = "de_escalation", _("De-escalation")

    class Status(models.TextChoices):
        RAISED = "raised", _("Raised")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ESCALATED_FURTHER = "escalated_further", _("Escalated further")
        CLOSED = "closed", _("Closed")

    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        related_name="escalations",
        verbose_name=_("ticket"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = FSMField(_("status"), default=Status.RAISED, choices=Status.choices, protected=True)
    cycle = models.PositiveIntegerField(_("cycle"), help_text=_("The ticket's cycle it fired in."))
    trigger = models.CharField(
        _("trigger"), max_length=20, blank=True, help_text=_("Empty for a manual escalation.")
    )
    reason = models.TextField(_("reason"), blank=True)
    # A rule's reason as facts (`escalation.wording`), worded for each reader; empty for a
    # person's escalation, whose reason is what they wrote.
    reason_facts = models.JSONField(_("reason (facts)"), default=dict, blank=True)
    rule = models.ForeignKey(
        EscalationRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="escalations",
        verbose_name=_("rule"),
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("raised by"),
    )
    from_team = models.ForeignKey(
        "tickets.Team", on_delete=models.PROTECT, related_name="+", verbose_name=_("from team")
    )
    to_team = models.ForeignKey(
        "tickets.Team", on_delete=models.PROTECT, related_name="+", verbose_name=_("to team")
    )
    from_level = models.ForeignKey(
        "tickets.SupportLevel",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("from level"),
    )
    to_level = models.ForeignKey(
        "tickets.SupportLevel",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("to level"),
    )
    # The information package of the source documents.
    summary = models.TextField(_("what happened"), blank=True)
    affected = models.TextField(_("who is affected, since when"), blank=True)
    impact = models.TextField(_("impact"), blank=True)
    actions_taken = models.TextField(_("what was tried"), blank=True)
    next_steps = models.TextField(_("next steps"), blank=True)
    risks = models.TextField(_("risks"), blank=True)
    # What an automatic package quotes, as facts: its fields are worded for each reader
    # (the text fields above keep the site language's words, for search and reports).
    package_facts = models.JSONField(_("package (facts)"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    ack_due_at = models.DateTimeField(_("acknowledge by"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    PACKAGE_FIELDS = ("summary", "affected", "impact", "actions_taken", "next_steps", "risks")

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            # Exactly once: an automatic rule fires at most once per ticket and cycle.
            models.UniqueConstraint(
                fields=["ticket", "rule", "cycle"],
                condition=Q(rule__isnull=False),
                name="escalation_once_per_rule_and_cycle",
            )
        ]
        indexes = [
            models.Index(fields=["status", "ack_due_at"], name="escalation_open_ack"),
            models.Index(fields=["ticket", "status"], name="escalation_ticket_status"),
            # The dashboard's trends: escalations raised per day over the last 30 days.
            models.Index(fields=["raised_at"], name="escalation_raised_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.from_team} → {self.to_team}"

    @property
    def package_complete(self) -> bool:
        return all(getattr(self, name).strip() for name in self.PACKAGE_FIELDS)

    @property
    def reason_text(self) -> str:
        """The reason in the active language (a rule's worded from its facts)."""
        return wording.reason_text(self.reason_facts, self.reason)

    @cached_property
    def package_text(self) -> dict[str, str]:
        """The information package's fields in the active language."""
        fields = {name: getattr(self, name) for name in self.PACKAGE_FIELDS}
        return wording.package_text(fields, self.package_facts)

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.RAISED

    @transition(field=status, source=Status.RAISED, target=Status.ACKNOWLEDGED)
    def acknowledge(self) -> None:
        """The receiving team has taken it; the chain's timer stops."""

    @transition(field=status, source=Status.RAISED, target=Status.ESCALATED_FURTHER)
    def escalate_further(self) -> None:
        """Not acknowledged in time: the next step of the chain takes over."""

    @transition(field=status, source=[Status.RAISED, Status.ACKNOWLEDGED], target=Status.CLOSED)
    def close(self) -> None:
        """The ticket was resolved or handed back."""


class RuleFiring(models.Model):
    """The ledger of exactly-once: a rule fires at most once per ticket and cycle.

    Written before a rule's actions, in the same transaction; a second worker that tries to
    fire the same rule for the same cycle hits the unique constraint and does nothing.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="rule_firings"
    )
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    cycle = models.PositiveIntegerField(_("cycle"))
    trigger = models.CharField(_("trigger"), max_length=20)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    reason_facts = models.JSONField(_("reason (facts)"), default=dict, blank=True)
    fired_at = models.DateTimeField(_("fired"), default=timezone.now)

    class Meta:
        ordering = ["-fired_at", "-pk"]
        verbose_name = _("rule firing")
        verbose_name_plural = _("rule firings")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "rule", "cycle"], name="rule_fires_once_per_cycle"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.ticket_id} · {self.cycle}"

    @property
    def reason_text(self) -> str:
        """Why the rule fired, in the active language."""
        return wording.reason_text(self.reason_facts, self.reason, with_rule=False)


class SweepFailure(models.Model):
    """A ticket whose evaluation keeps failing in the sweep: its current failing streak.

    The sweep retries it after 1, 2, 4 … minutes (at most an hour, `retry_at`, which is also
    the ticket's `next_check_at`), tells the admins once per streak, and removes the row when
    an evaluation of the ticket succeeds again."""

    ticket = models.OneToOneField(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        related_name="sweep_failure",
        verbose_name=_("ticket"),
    )
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    first_failed_at = models.DateTimeField(_("first failed"))
    last_failed_at = models.DateTimeField(_("last failed"))
    last_error = models.TextField(_("last error"), blank=True)
    retry_at = models.DateTimeField(_("next try"))

    class Meta:
        ordering = ["-last_failed_at", "-pk"]
        verbose_name = _("sweep failure")
        verbose_name_plural = _("sweep failures")

    def __str__(self) -> str:
        return f"{self.ticket_id} × {self.failures}"
