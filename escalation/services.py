"""Escalation use cases: raise (manual or by rule), acknowledge, de-escalate, and evaluate a
ticket against the rules. Each is one transaction; each hand-off is an `Escalation` row and a
`TicketEvent`; every rule fires at most once per ticket and cycle (`RuleFiring`).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from escalation.engine import (
    Decision,
    Escalate,
    Evaluation,
    Reason,
    RuleSpec,
    SLAInstants,
    TicketFacts,
    Trigger,
    evaluate,
)
from escalation.models import Escalation, EscalationRule, RuleFiring
from escalation.risk import RiskInputs, assess
from helpdesk.formats import duration_human
from notifications.models import Notification
from notifications.services import notify, resolve_recipients
from sla.clock import ALWAYS_OPEN, CalendarSpec, add_business_time
from sla.models import target_label
from sla.services import calendar_spec, next_sla_check, record_due_sla_events
from tickets import services as ticket_services
from tickets.models import Message, Team, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# Hand-offs decided for one ticket in one evaluation, at most: the chain has four levels, so a
# Sev 1 can climb L1 → L2 → L3 at once; the bound stops a misconfigured chain from looping.
MAX_ROUNDS = 6


class EscalationError(ValidationError):
    """An escalation request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Package:
    """The information package that travels with every escalation (seeds: 001)."""

    summary: str = ""
    affected: str = ""
    impact: str = ""
    actions_taken: str = ""
    next_steps: str = ""
    risks: str = ""

    def as_fields(self) -> dict[str, str]:
        return {name: getattr(self, name).strip() for name in Escalation.PACKAGE_FIELDS}


# ---------------------------------------------------------------------------------------------
# Rules as engine values


@dataclass
class RuleSet:
    """The active rules as engine values, read once per sweep (or per evaluation)."""

    specs: list[RuleSpec]
    by_id: dict[int, EscalationRule]

    @classmethod
    def load(cls) -> RuleSet:
        rules = list(
            EscalationRule.objects.active().prefetch_related("teams", "levels", "notify_users")
        )
        specs = [
            rule.as_spec(
                team_ids={t.pk for t in rule.teams.all()},
                level_ranks={lv.rank for lv in rule.levels.all()},
                notify=rule.notifies,
            )
            for rule in rules
        ]
        return cls(specs=specs, by_id={rule.pk: rule for rule in rules})


# ---------------------------------------------------------------------------------------------
# Facts


def _calendar_of(ticket: Ticket) -> CalendarSpec:
    if ticket.sla_policy_id is not None:
        return calendar_spec(ticket.sla_policy.calendar)
    return ALWAYS_OPEN


def ticket_facts(
    ticket: Ticket,
    *,
    fired: set[int],
    awaiting_ack: dt.datetime | None,
    deescalated: bool = False,
) -> TicketFacts:
    """The engine's view of `ticket`. Only running SLA targets carry instants."""
    sla = {
        "first_response": SLAInstants(
            ticket.first_response_warning_at, ticket.first_response_due_at
        )
        if ticket.first_responded_at is None
        else SLAInstants(),
        "next_update": SLAInstants(ticket.next_update_warning_at, ticket.next_update_due_at),
        "resolution": SLAInstants(ticket.resolution_warning_at, ticket.resolution_due_at),
    }
    customer = ticket.customer
    return TicketFacts(
        ticket_id=ticket.pk,
        cycle=ticket.escalation_cycle,
        team_id=ticket.team_id,
        level_rank=ticket.level.rank,
        priority=ticket.priority,
        customer_tier=customer.tier if customer else "",
        channel=ticket.channel,
        created_at=ticket.created_at,
        cycle_started_at=ticket.cycle_started_at or ticket.created_at,
        last_progress_at=ticket.last_progress_at,
        calendar=_calendar_of(ticket),
        sla=sla,
        risk_score=ticket.risk_score,
        risk_changed_at=ticket.risk_changed_at,
        awaiting_ack_until=awaiting_ack,
        can_escalate_up=next_team_up(ticket) is not None,
        waiting_on_customer=ticket.status == Ticket.Status.PENDING,
        resumed_at=ticket.resumed_at,
        deescalated_into_cycle=deescalated,
        fired_rule_ids=frozenset(fired),
    )


def next_team_up(ticket: Ticket) -> Team | None:
    """The active team the ticket's team escalates to, if any (rules and people alike)."""
    target = ticket.team.escalates_to
    return target if target is not None and target.is_active else None


def deescalated_into_cycle(ticket: Ticket) -> bool:
    """Whether the current cycle began with a lead handing the ticket down."""
    return Escalation.objects.filter(
        ticket=ticket,
        kind=Escalation.Kind.DE_ESCALATION,
        raised_at__gte=ticket.cycle_started_at or ticket.created_at,
    ).exists()


def _fired_rules(ticket: Ticket) -> set[int]:
    return set(
        RuleFiring.objects.filter(ticket=ticket, cycle=ticket.escalation_cycle).values_list(
            "rule_id", flat=True
        )
    )


def open_escalation(ticket: Ticket) -> Escalation | None:
    """The escalation waiting for the ticket's current team to acknowledge it, if any."""
    return (
        Escalation.objects.filter(
            ticket=ticket, status=Escalation.Status.RAISED, to_team_id=ticket.team_id
        )
        .order_by("-raised_at", "-pk")
        .first()
    )


def settle_escalations(ticket: Ticket, now: dt.datetime) -> None:
    """After the ticket moved to another team: escalations addressed to a team that no longer
    has it are over (closed), so none of them can wait for an acknowledgement that will never
    come."""
    for escalation in Escalation.objects.filter(
        ticket=ticket, status__in=[Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED]
    ).exclude(to_team_id=ticket.team_id):
        escalation.close()
        escalation.closed_at = now
        escalation.save()


# ---------------------------------------------------------------------------------------------
# Raising, acknowledging, de-escalating


def _ack_due(to_team: Team, ticket: Ticket, now: dt.datetime) -> dt.datetime | None:
    """When the receiving level must acknowledge (its tier target, on its calendar)."""
    target = getattr(to_team.level, "tier_target", None)
    if target is None:
        return None
    calendar = calendar_spec(target.calendar) if target.calendar else _calendar_of(ticket)
    return add_business_time(calendar, now, target.acknowledge_within)


# How many of the latest replies and notes an automatic package quotes as "actions taken".
PACKAGE_NOTES = 3


def package_from_history(
    ticket: Ticket, reason: str, notes: list[Message] | None = None
) -> Package:
    """A package assembled from the ticket's history, for escalations raised by rules.
    `notes`: the ticket's latest replies and notes, newest first, when already read."""
    if notes is None:
        notes = list(
            ticket.messages.filter(kind__in=["reply", "note"]).order_by("-created_at", "-pk")[
                :PACKAGE_NOTES
            ]
        )
    tried = "\n".join(
        f"{timezone.localtime(m.created_at):%Y-%m-%d %H:%M} {m.get_kind_display()}: {m.body[:200]}"
        for m in reversed(notes)
    )
    customer = ticket.customer.name if ticket.customer else ""
    return Package(
        summary=f"{ticket.subject}\n{ticket.description[:500]}".strip(),
        affected=_("%(customer)s, since %(since)s")
        % {
            "customer": customer or _("unknown customer"),
            "since": f"{timezone.localtime(ticket.created_at):%Y-%m-%d %H:%M}",
        },
        impact=f"{ticket.get_impact_display()} · {ticket.get_priority_display()}",
        actions_taken=tried,
        next_steps="",
        risks=reason,
    )


def _escalation_target(ticket: Ticket, kind: str, to_team: Team | None) -> Team:
    if kind == Escalation.Kind.HIERARCHICAL:
        target = ticket.team.escalates_to
        if target is not None and not target.is_active:
            raise EscalationError(
                {
                    "kind": _("%(team)s, the next team up the chain, is not active.")
                    % {"team": target.name}
                }
            )
        if target is None:
            raise EscalationError(
                {
                    "kind": _("%(team)s is at the top of the escalation chain.")
                    % {"team": ticket.team.name}
                }
            )
        return target
    if kind == Escalation.Kind.FUNCTIONAL:
        if to_team is None or to_team.kind != Team.Kind.FUNCTIONAL or not to_team.is_active:
            raise EscalationError({"to_team": _("Choose an active functional team.")})
        if to_team.pk == ticket.team_id:
            raise EscalationError({"to_team": _("The ticket is already with this team.")})
        return to_team
    raise EscalationError({"kind": _("Unknown kind of escalation.")})


def _raise(
    *,
    ticket: Ticket,
    kind: str,
    to_team: Team,
    package: Package,
    actor: AbstractBaseUser | None,
    rule: EscalationRule | None,
    trigger: str,
    reason: str,
    keep_assignee: bool,
    now: dt.datetime,
    also_notify: list[AbstractBaseUser] | None = None,
) -> Escalation:
    """Record the escalation, hand the ticket over, tell the receiving side (and
    `also_notify`, once each). Locked ticket."""
    # The previous escalation that is still waiting is superseded by this one.
    for previous in Escalation.objects.filter(ticket=ticket, status=Escalation.Status.RAISED):
        previous.escalate_further()
        previous.save()
    escalation = Escalation.objects.create(
        ticket=ticket,
        kind=kind,
        cycle=ticket.escalation_cycle,
        trigger=trigger,
        reason=reason,
        rule=rule,
        raised_by=actor if actor is not None and actor.is_authenticated else None,
        from_team=ticket.team,
        to_team=to_team,
        from_level=ticket.level,
        to_level=to_team.level,
        raised_at=now,
        ack_due_at=_ack_due(to_team, ticket, now),
        **package.as_fields(),
    )
    ticket_services.record_event(
        ticket,
        TicketEvent.Kind.ESCALATED,
        actor=escalation.raised_by,
        now=now,
        payload={
            "escalation": escalation.pk,
            "kind": kind,
            "from_team": ticket.team.name,
            "to_team": to_team.name,
            "from_level": ticket.level.rank,
            "to_level": to_team.level.rank,
            "trigger": trigger or "manual",
            "rule": rule.name if rule else None,
            "reason": reason,
        },
    )
    ticket_services.ticket_hand_off(
        ticket=ticket,
        team=to_team,
        actor=actor,
        keep_assignee=keep_assignee,
        reason=reason,
        now=now,
    )
    ticket.refresh_from_db()
    recipients = resolve_recipients(ticket, team=to_team, users=also_notify or (), exclude=actor)
    notify(
        recipients,
        kind=Notification.Kind.ESCALATION_RAISED,
        ticket=ticket,
        cause=f"escalation:{escalation.pk}",
        payload={"to_team": to_team.name, "reason": reason, "escalation": escalation.pk},
        now=now,
    )
    return escalation


def _require_agent_on(ticket: Ticket, actor: AbstractBaseUser) -> None:
    if not ticket_services.is_agent(actor) or not ticket_services.can_work_ticket(ticket, actor):
        raise PermissionDenied(_("You may not escalate this ticket."))


@transaction.atomic
def escalation_raise(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    kind: str,
    package: Package,
    to_team: Team | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Escalation:
    """A manual escalation by an agent: up the chain, or across to a functional team.

    The information package is required: at least what happened and what was tried.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    _require_agent_on(ticket, actor)
    if not ticket.is_active:
        raise EscalationError({"kind": _("Only active tickets can be escalated.")})
    errors = {}
    if not package.summary.strip():
        errors["summary"] = _("Say what happened.")
    if not package.actions_taken.strip():
        errors["actions_taken"] = _("Say what was tried already.")
    if errors:
        raise EscalationError(errors)
    target = _escalation_target(ticket, kind, to_team)
    # Whoever escalates keeps sight of the ticket after it leaves their team.
    ticket.watchers.add(actor)
    escalation = _raise(
        ticket=ticket,
        kind=kind,
        to_team=target,
        package=package,
        actor=actor,
        rule=None,
        trigger="",
        reason=reason.strip() or _("manual escalation"),
        keep_assignee=False,
        now=now,
    )
    return escalation


def can_acknowledge(escalation: Escalation, user: AbstractBaseUser) -> bool:
    """Members and the lead of the receiving team, and admins."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    team = escalation.to_team
    return team.lead_id == user.pk or team.members.filter(pk=user.pk).exists()


@transaction.atomic
def escalation_acknowledge(
    *, escalation: Escalation, actor: AbstractBaseUser, now: dt.datetime | None = None
) -> Escalation:
    """The receiving team takes the escalation; the chain's timer stops. An unassigned ticket
    goes to whoever acknowledged."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=escalation.ticket_id)
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if not can_acknowledge(escalation, actor):
        raise PermissionDenied(_("Only the receiving team can acknowledge this escalation."))
    if escalation.status != Escalation.Status.RAISED:
        raise TransitionNotAllowed(
            _("This escalation can no longer be acknowledged (status: %(status)s).")
            % {"status": escalation.get_status_display()}
        )
    escalation.acknowledge()
    escalation.acknowledged_at = now
    escalation.acknowledged_by = actor
    escalation.save()
    ticket_services.record_event(
        ticket,
        TicketEvent.Kind.ACKNOWLEDGED,
        actor=actor,
        now=now,
        payload={"escalation": escalation.pk, "team": escalation.to_team.name},
    )
    if ticket.assignee_id is None and ticket.team_id == escalation.to_team_id:
        ticket_services.ticket_assign(ticket=ticket, actor=actor, assignee=actor, now=now)
    else:
        ticket_services.run_change_hooks(ticket, {"acknowledged"}, now, actor)
    recipients = resolve_recipients(
        ticket,
        users=[escalation.raised_by] if escalation.raised_by else [],
        team_lead=False,
        exclude=actor,
    )
    notify(
        recipients,
        kind=Notification.Kind.ESCALATION_ACKNOWLEDGED,
        ticket=ticket,
        cause=f"ack:{escalation.pk}",
        payload={"by": actor.get_full_name() or actor.get_username()},
        now=now,
    )
    return escalation


def can_deescalate(ticket: Ticket, user: AbstractBaseUser) -> bool:
    """The lead of the ticket's current team, or an admin."""
    return user.is_authenticated and (user.is_superuser or ticket.team.lead_id == user.pk)


def deescalation_targets(ticket: Ticket) -> list[Team]:
    """Teams a lead can hand the ticket back to: lower levels, the one it came from first."""
    came_from = (
        Escalation.objects.filter(ticket=ticket, to_team=ticket.team)
        .exclude(kind=Escalation.Kind.DE_ESCALATION)
        .order_by("-raised_at")
        .values_list("from_team_id", flat=True)
        .first()
    )
    teams = list(
        Team.objects.filter(is_active=True, level__rank__lte=ticket.level.rank)
        .exclude(pk=ticket.team_id)
        .select_related("level")
    )
    return sorted(teams, key=lambda t: (t.pk != came_from, -t.level.rank, t.name))


@transaction.atomic
def escalation_deescalate(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    to_team: Team,
    reason: str,
    now: dt.datetime | None = None,
) -> Escalation:
    """A lead hands the ticket back down (or across to the same level), with a reason."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if not can_deescalate(ticket, actor):
        raise PermissionDenied(_("Only the lead of the current team can de-escalate."))
    if not ticket.is_active:
        raise EscalationError({"to_team": _("Only active tickets can be de-escalated.")})
    if not reason.strip():
        raise EscalationError({"reason": _("Say why the ticket goes back.")})
    if to_team.pk not in {t.pk for t in deescalation_targets(ticket)}:
        raise EscalationError({"to_team": _("Choose an active team at the same or a lower level.")})
    for open_one in Escalation.objects.filter(
        ticket=ticket, status__in=[Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED]
    ):
        open_one.close()
        open_one.closed_at = now
        open_one.save()
    escalation = Escalation.objects.create(
        ticket=ticket,
        kind=Escalation.Kind.DE_ESCALATION,
        status=Escalation.Status.ACKNOWLEDGED,
        cycle=ticket.escalation_cycle,
        reason=reason.strip(),
        raised_by=actor,
        from_team=ticket.team,
        to_team=to_team,
        from_level=ticket.level,
        to_level=to_team.level,
        raised_at=now,
        acknowledged_at=now,
        acknowledged_by=actor,
    )
    ticket_services.record_event(
        ticket,
        TicketEvent.Kind.DE_ESCALATED,
        actor=actor,
        now=now,
        payload={
            "escalation": escalation.pk,
            "from_team": ticket.team.name,
            "to_team": to_team.name,
            "reason": reason.strip(),
        },
    )
    ticket_services.ticket_hand_off(
        ticket=ticket, team=to_team, actor=actor, keep_assignee=False, reason=reason, now=now
    )
    notify(
        resolve_recipients(ticket, team=to_team, exclude=actor),
        kind=Notification.Kind.DE_ESCALATED,
        ticket=ticket,
        cause=f"deescalation:{escalation.pk}",
        payload={"to_team": to_team.name, "reason": reason.strip()},
        now=now,
    )
    return escalation


def close_escalations(ticket: Ticket, now: dt.datetime) -> None:
    """A resolved or closed ticket ends its escalations."""
    for escalation in Escalation.objects.filter(
        ticket=ticket, status__in=[Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED]
    ):
        escalation.close()
        escalation.closed_at = now
        escalation.save()


# ---------------------------------------------------------------------------------------------
# Evaluation: the rules applied to one ticket


def describe(reason: Reason) -> str:
    """Why a rule fired, in words of the active language (stored with the firing, the
    escalation and the timeline, so evaluations word it in the site's language)."""
    match reason.trigger:
        case Trigger.SEVERITY:
            return _("priority %(priority)s") % {"priority": reason.detail}
        case Trigger.SOFT_SIGNAL:
            return _("risk score %(score)s") % {"score": reason.detail}
        case Trigger.NO_PROGRESS:
            return _("no progress for %(duration)s of business time") % {
                "duration": duration_human(reason.detail, "h")
            }
        case Trigger.UNACKNOWLEDGED:
            return _("escalation not acknowledged in time")
        case Trigger.SLA_WARNING:
            return _("SLA warning: %(target)s") % {"target": target_label(reason.detail)}
        case Trigger.SLA_BREACH:
            return _("SLA breach: %(target)s") % {"target": target_label(reason.detail)}
    return str(reason.trigger)


@dataclass
class Outcome:
    """What one evaluation of one ticket did (or, in a dry run, would do)."""

    ticket_id: int
    reference: str
    fired: list[str] = field(default_factory=list)
    sla_events: list[str] = field(default_factory=list)
    next_check_at: dt.datetime | None = None


_evaluating: ContextVar[bool] = ContextVar("escalation_evaluating", default=False)


def _apply(ticket: Ticket, decision: Decision, rules: RuleSet, now: dt.datetime) -> bool:
    """Carry out one decision; False when another worker already fired it (nothing done)."""
    rule = rules.by_id[decision.rule.id]
    try:
        with transaction.atomic():
            RuleFiring.objects.create(
                ticket=ticket,
                rule=rule,
                cycle=ticket.escalation_cycle,
                fired_at=now,
                trigger=decision.trigger,
                reason=describe(decision.reason),
            )
    except IntegrityError:
        return False  # exactly once: the (ticket, rule, cycle) row exists already
    reason = f"{rule.name}: {describe(decision.reason)}"
    if decision.trigger == Trigger.UNACKNOWLEDGED:
        waiting = open_escalation(ticket)
        if waiting is not None:
            notify(
                resolve_recipients(ticket, team_lead=True, team=waiting.from_team),
                kind=Notification.Kind.ESCALATION_UNACKNOWLEDGED,
                ticket=ticket,
                cause=f"unack:{waiting.pk}",
                payload={"to_team": waiting.to_team.name},
                now=now,
            )
    if rule.raise_priority_to is not None and rule.raise_priority_to < ticket.priority:
        ticket_services.ticket_change_priority(
            ticket=ticket, actor=None, priority=rule.raise_priority_to, reason=reason, now=now
        )
        ticket.refresh_from_db()
    if rule.mark_major_incident:
        ticket_services.ticket_mark_major_incident(
            ticket=ticket, actor=None, reason=reason, now=now
        )
        ticket.refresh_from_db()
    to_team: Team | None = None
    if rule.escalate == Escalate.HIERARCHICAL and next_team_up(ticket) is not None:
        to_team = next_team_up(ticket)
        kind = Escalation.Kind.HIERARCHICAL
    elif (
        rule.escalate == Escalate.FUNCTIONAL
        and rule.functional_team_id != ticket.team_id
        and rule.functional_team.is_active
    ):
        to_team = rule.functional_team
        kind = Escalation.Kind.FUNCTIONAL
    if to_team is not None:
        # Resolve the rule's recipients before the hand-off changes who "assignee" and "team
        # lead" are; the escalation notice then goes to them and the receiving team, once.
        _raise(
            ticket=ticket,
            kind=kind,
            to_team=to_team,
            package=package_from_history(ticket, reason),
            actor=None,
            rule=rule,
            trigger=decision.trigger,
            reason=reason,
            keep_assignee=rule.keep_assignee,
            now=now,
            also_notify=_rule_recipients(ticket, rule),
        )
    else:
        _notify_rule(ticket, rule, decision, now)
    return True


def _rule_recipients(ticket: Ticket, rule: EscalationRule) -> list[AbstractBaseUser]:
    """Who the rule tells about `ticket` (a hand-off adds the receiving team itself)."""
    return resolve_recipients(
        ticket,
        assignee=rule.notify_assignee,
        team_lead=rule.notify_team_lead,
        level_rank=rule.notify_level_rank,
        users=list(rule.notify_users.all()),
    )


def _notify_rule(
    ticket: Ticket, rule: EscalationRule, decision: Decision, now: dt.datetime
) -> None:
    recipients = _rule_recipients(ticket, rule)
    kinds = {
        Trigger.SLA_WARNING: Notification.Kind.SLA_WARNING,
        Trigger.SLA_BREACH: Notification.Kind.SLA_BREACH,
    }
    notify(
        recipients,
        kind=kinds.get(decision.trigger, Notification.Kind.RULE_FIRED),
        ticket=ticket,
        cause=f"rule:{rule.pk}:{ticket.pk}:{ticket.escalation_cycle}",
        payload={
            "rule": rule.name,
            "reason": describe(decision.reason),
            "target": decision.sla_target,
        },
        now=now,
    )


def evaluate_ticket(
    ticket: Ticket, *, now: dt.datetime, rules: RuleSet | None = None, dry_run: bool = False
) -> Outcome:
    """Record due SLA warnings/breaches, fire due rules, set `next_check_at`. Caller holds the
    row lock (inside a transaction). With `dry_run`, nothing is written.

    What it stores in words (reasons, the information package) is worded in the site's
    language (`LANGUAGE_CODE`), whoever's request caused the evaluation; a dry run speaks the
    viewer's language."""
    if dry_run:
        return _evaluate_ticket(ticket, now=now, rules=rules, dry_run=True)
    with translation.override(settings.LANGUAGE_CODE):
        return _evaluate_ticket(ticket, now=now, rules=rules, dry_run=False)


def _evaluate_ticket(
    ticket: Ticket, *, now: dt.datetime, rules: RuleSet | None, dry_run: bool
) -> Outcome:
    rules = rules or RuleSet.load()
    outcome = Outcome(ticket_id=ticket.pk, reference=ticket.reference)
    token = _evaluating.set(True)
    try:
        if not dry_run:
            # Before anything else, so a target missed just before resolving is on record.
            outcome.sla_events = record_due_sla_events(ticket, now)
        if not ticket.is_active:
            if not dry_run:
                close_escalations(ticket, now)
                Ticket.objects.filter(pk=ticket.pk).update(next_check_at=None)
                ticket.next_check_at = None
            return outcome
        evaluation: Evaluation | None = None
        uses_severity = any(r.trigger == Trigger.SEVERITY for r in rules.specs)
        for _round in range(MAX_ROUNDS):
            waiting = open_escalation(ticket)
            facts = ticket_facts(
                ticket,
                fired=_fired_rules(ticket),
                awaiting_ack=waiting.ack_due_at if waiting else None,
                # Only severity rules read this fact: spare the sweep the query otherwise.
                deescalated=uses_severity and deescalated_into_cycle(ticket),
            )
            evaluation = evaluate(facts, rules.specs, now)
            if not evaluation.decisions:
                break
            if dry_run:
                outcome.fired += [
                    f"{rules.by_id[d.rule.id].name} ({describe(d.reason)})"
                    for d in evaluation.decisions
                ]
                break
            applied = False
            for decision in evaluation.decisions:
                if _apply(ticket, decision, rules, now):
                    applied = True
                    outcome.fired.append(
                        f"{rules.by_id[decision.rule.id].name} ({describe(decision.reason)})"
                    )
                ticket.refresh_from_db()
            if not applied:
                break
        sla_next = next_sla_check(ticket)
        engine_next = evaluation.next_check_at if evaluation else None
        outcome.next_check_at = min(
            (i for i in (sla_next, engine_next) if i is not None), default=None
        )
        if not dry_run and ticket.next_check_at != outcome.next_check_at:
            Ticket.objects.filter(pk=ticket.pk).update(next_check_at=outcome.next_check_at)
            ticket.next_check_at = outcome.next_check_at
        return outcome
    finally:
        _evaluating.reset(token)


# Changes after which the soft signals are assessed again.
RISK_CHANGES = frozenset({"created", "customer_message", "reply", "reopen", "team", "recompute"})


def refresh_risk(ticket: Ticket, now: dt.datetime) -> None:
    """Assess the ticket's soft signals again and store the score with its reasons."""
    recent = list(
        ticket.messages.filter(kind__in=[Message.Kind.REPLY, Message.Kind.CUSTOMER])
        .order_by("-created_at", "-pk")
        .values_list("kind", "body")[:50]
    )
    follow_ups = 0
    for kind, _body in recent:
        if kind == Message.Kind.REPLY:
            break
        follow_ups += 1
    texts = tuple(body for kind, body in recent if kind == Message.Kind.CUSTOMER)[:5]
    score, reasons = assess(
        RiskInputs(
            follow_ups=follow_ups,
            customer_texts=texts,
            reopen_count=ticket.reopen_count,
            vip=bool(ticket.customer_id and ticket.customer.is_vip),
            hand_offs=max(ticket.escalation_cycle - ticket.reopen_count, 0),
        )
    )
    if (score, reasons) != (ticket.risk_score, ticket.risk_reasons):
        ticket.risk_score, ticket.risk_reasons, ticket.risk_changed_at = score, reasons, now
        Ticket.objects.filter(pk=ticket.pk).update(
            risk_score=score, risk_reasons=reasons, risk_changed_at=now
        )


def on_ticket_change(
    ticket: Ticket, changes: frozenset[str], now: dt.datetime, actor: AbstractBaseUser | None
) -> None:
    """Evaluate at once after a ticket service changed something: a Sev 1 ticket escalates on
    creation, not at the next sweep. Nested changes made by the evaluation itself are picked
    up by its own loop."""
    if "team" in changes:
        settle_escalations(ticket, now)
    if _evaluating.get():
        return
    if changes & RISK_CHANGES:
        refresh_risk(ticket, now)
    evaluate_ticket(ticket, now=now)


# ---------------------------------------------------------------------------------------------
# The sweep


@dataclass
class SweepReport:
    examined: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    bulk: int = 0  # tickets the set-based lane decided and wrote (escalation/bulk.py)
    single: int = 0  # tickets evaluated one at a time through the services

    @property
    def fired(self) -> int:
        return sum(len(o.fired) for o in self.outcomes)

    @property
    def sla_events(self) -> int:
        return sum(len(o.sla_events) for o in self.outcomes)


_NEXT_CHECK = Ticket._meta.get_field("next_check_at")


def helpers_wanted(*, now: dt.datetime, parallel: int, batch: int) -> int:
    """How many more sweeps should share the work due at `now`: one per further batch, at
    most `parallel` - 1 (one indexed count, capped)."""
    if parallel <= 1:
        return 0
    due = Ticket.objects.active().filter(next_check_at__lte=now)[: parallel * batch].count()
    return min(parallel - 1, max(0, -(-due // batch) - 1))


def sweep(
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    bulk: bool = True,
) -> SweepReport:
    """Evaluate every active ticket whose `next_check_at` has come. Rows another worker holds
    are skipped (SKIP LOCKED).

    With `bulk` (not for a dry run), each batch is locked and decided together and its rows
    written with a statement per table (`escalation/bulk.py`); tickets of a shape that lane
    does not take, or every ticket of a batch that failed there, are then evaluated one at a
    time. One at a time, each ticket has its own transaction: one that fails is logged and
    left due, so the next sweep retries it and the others go on.
    """
    from escalation import bulk as bulk_lane

    now = now or timezone.now()
    batch = batch or settings.ESCALATION_SWEEP_BATCH
    rules: RuleSet | None = None  # read once, and only when something is due
    report = SweepReport()
    # Keyset over (next_check_at, pk): each due ticket is looked at once per sweep, and the
    # probe stays one index range however many tickets are due (a ticket skipped because
    # another worker holds it, or that failed, waits for the next sweep).
    after: Q | RawSQL = Q()
    in_bulk = bulk and not dry_run and bulk_lane.available()
    while limit is None or report.examined < limit:
        size = batch if limit is None else min(batch, limit - report.examined)
        rows = list(
            Ticket.objects.active()
            .filter(after, next_check_at__lte=now)
            .order_by("next_check_at", "pk")
            .values_list("pk", "next_check_at")[:size]
        )
        if not rows:
            break
        last_pk, last_at = rows[-1]
        # A row comparison, so the (next_check_at, id) index starts right after the last row.
        after = RawSQL(
            '("tickets_ticket"."next_check_at", "tickets_ticket"."id") > (%s, %s)',
            (_NEXT_CHECK.get_db_prep_value(last_at, connection), last_pk),
            output_field=BooleanField(),
        )
        ids = [pk for pk, _at in rows]
        rules = rules or RuleSet.load()
        if in_bulk:
            with transaction.atomic():
                # By primary key only (the planner must not walk the due index for this);
                # a ticket that stopped being due since the probe is left out here.
                locked = {
                    t.pk: t
                    for t in Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("customer", "assignee", "sla_policy__calendar")
                    .filter(pk__in=ids)
                    .order_by()
                }
                tickets = [
                    t
                    for t in (locked.get(pk) for pk in ids)
                    if t is not None
                    and t.is_active
                    and t.next_check_at is not None
                    and t.next_check_at <= now
                ]
                report.examined += len(ids)
                handed_back = bulk_lane.run_batch(rules, tickets, now, report) if tickets else []
            for pk in handed_back:
                _sweep_one(pk, now=now, rules=rules, report=report, dry_run=False)
            if len(rows) < size:
                break
            continue
        for pk in ids:
            report.examined += 1
            _sweep_one(pk, now=now, rules=rules, report=report, dry_run=dry_run)
        if len(rows) < size:
            break
    return report


def _sweep_one(
    pk: int, *, now: dt.datetime, rules: RuleSet, report: SweepReport, dry_run: bool
) -> None:
    """Evaluate one due ticket in its own transaction (skipped when another worker holds it
    or it is no longer due); a failure is logged and the ticket left due."""
    try:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("team", "level", "customer", "sla_policy__calendar")
                .filter(pk=pk, next_check_at__lte=now)
                .first()
            )
            if ticket is None:
                return  # another worker has it, or it is no longer due
            report.single += 1
            outcome = evaluate_ticket(ticket, now=now, rules=rules, dry_run=dry_run)
            if outcome.fired or outcome.sla_events or dry_run:
                report.outcomes.append(outcome)
            if dry_run:
                transaction.set_rollback(True)
    except Exception:
        logger.exception("Escalation sweep failed for ticket %s; retried next sweep", pk)
        report.failed.append(pk)


def rules_changed(*, now: dt.datetime | None = None) -> int:
    """After rules were added, changed or removed: every active ticket is looked at again by
    the next sweep (their `next_check_at` was computed from the old rules). Returns how many
    tickets were brought forward."""
    now = now or timezone.now()
    return (
        Ticket.objects.active()
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__gt=now))
        .update(next_check_at=now)
    )


def preview(*, at: dt.datetime) -> SweepReport:
    """What the sweep would do at `at`, changing nothing: every active ticket due by then."""
    return sweep(now=at, dry_run=True)
