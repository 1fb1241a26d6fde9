"""The hand-off shared by people and rules: the information package, the acknowledgement
deadline, the escalation row with its timeline entry and notices, and closing what a hand-off
or a resolution leaves behind. Callers hold the ticket's row lock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from escalation import wording
from escalation.engine import Decision, Trigger
from escalation.facts import calendar_of
from escalation.models import Escalation, EscalationRule, RuleFiring
from escalation.wording import describe
from notifications.models import Notification
from notifications.services import notify, resolve_recipients
from sla.clock import add_business_time
from sla.services import calendar_spec
from tickets import services as ticket_services
from tickets.models import Message, SupportLevel, Team, Ticket, TicketEvent


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
    # An automatic package's facts (`escalation.wording.package_facts`), worded per reader.
    facts: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_fields(self) -> dict[str, str]:
        return {name: getattr(self, name).strip() for name in Escalation.PACKAGE_FIELDS}


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


def handoff_level(ticket: Ticket, kind: str, to_team: Team) -> SupportLevel:
    """The level the ticket has after the hand-off: a lateral (functional) one brings in
    another team on the same level, so the ticket keeps its level; up the chain or back down,
    it takes the receiving team's."""
    return ticket.level if kind == Escalation.Kind.FUNCTIONAL else to_team.level


def ack_due(level: SupportLevel, ticket: Ticket, now: dt.datetime) -> dt.datetime | None:
    """When the receiving side must acknowledge: the tier target of the level the ticket
    reaches (for a lateral hand-off, the ticket's own level), on its calendar."""
    target = getattr(level, "tier_target", None)
    if target is None:
        return None
    calendar = calendar_spec(target.calendar) if target.calendar else calendar_of(ticket)
    return add_business_time(calendar, now, target.acknowledge_within)


def escalation_row(
    *,
    ticket: Ticket,
    kind: str,
    to_team: Team,
    package: Package,
    rule: EscalationRule | None,
    trigger: str,
    reason: str,
    raised_by: AbstractBaseUser | None,
    now: dt.datetime,
    reason_facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields of the Escalation row a hand-off writes (both sweep lanes and people)."""
    to_level = handoff_level(ticket, kind, to_team)
    return {
        "ticket": ticket,
        "kind": kind,
        "cycle": ticket.escalation_cycle,
        "trigger": trigger,
        "reason": reason,
        "reason_facts": reason_facts or {},
        "package_facts": package.facts,
        "rule": rule,
        "raised_by": raised_by,
        "from_team": ticket.team,
        "to_team": to_team,
        "from_level": ticket.level,
        "to_level": to_level,
        "raised_at": now,
        "ack_due_at": ack_due(to_level, ticket, now),
        **package.as_fields(),
    }


def escalated_event_payload(escalation: Escalation, ref: Any) -> dict[str, Any]:
    """The ESCALATED timeline entry's payload for `escalation`; `ref` stands for its id (the
    bulk lane knows it only once the batch's rows are inserted)."""
    payload = {
        "escalation": ref,
        "kind": escalation.kind,
        "from_team": escalation.from_team.name,
        "to_team": escalation.to_team.name,
        "from_level": escalation.from_level.rank,
        "to_level": escalation.to_level.rank,
        "trigger": escalation.trigger or "manual",
        "rule": escalation.rule.name if escalation.rule else None,
        "reason": escalation.reason,
    }
    if escalation.reason_facts:
        payload["reason_facts"] = escalation.reason_facts
    return payload


def raised_notice_payload(
    to_team_name: str, reason: str, ref: Any, reason_facts: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ESCALATION_RAISED notice's payload (the receiving team's and the followers'); a
    rule's `reason_facts` let each reader see the reason in their language."""
    payload = {"to_team": to_team_name, "reason": reason, "escalation": ref}
    return payload | ({"reason_facts": reason_facts} if reason_facts else {})


def rule_notice_payload(rule: EscalationRule, decision: Decision) -> dict[str, Any]:
    """The payload of the notice a rule that hands nothing off sends."""
    return {
        "rule": rule.name,
        "reason": describe(decision.reason),
        "reason_facts": rule_reason_facts(rule, decision),
        "target": decision.sla_target,
    }


def rule_notice_kind(decision: Decision) -> str:
    """SLA warnings and breaches have their own kinds; every other rule is 'a rule fired'."""
    kinds = {
        Trigger.SLA_WARNING: Notification.Kind.SLA_WARNING,
        Trigger.SLA_BREACH: Notification.Kind.SLA_BREACH,
    }
    return kinds.get(decision.trigger, Notification.Kind.RULE_FIRED)


def rule_reason(rule: EscalationRule, decision: Decision) -> str:
    """The reason a rule's escalation, priority change or major incident records."""
    return f"{rule.name}: {describe(decision.reason)}"


def rule_reason_facts(rule: EscalationRule, decision: Decision) -> dict[str, Any]:
    """`rule_reason` as facts, worded for each reader (`escalation.wording`)."""
    return wording.reason_facts(
        decision.reason, rule_id=rule.pk, rule_name=rule.name, rule_name_de=rule.name_de
    )


def firing_row(
    ticket: Ticket, rule: EscalationRule, decision: Decision, now: dt.datetime
) -> dict[str, Any]:
    """The fields of the RuleFiring row of `decision` (both sweep lanes)."""
    return {
        "ticket": ticket,
        "rule": rule,
        "cycle": ticket.escalation_cycle,
        "fired_at": now,
        "trigger": decision.trigger,
        "reason": describe(decision.reason)[: RuleFiring._meta.get_field("reason").max_length],
        "reason_facts": rule_reason_facts(rule, decision),
    }


# How many of the latest replies and notes an automatic package quotes as "actions taken".
PACKAGE_NOTES = 3


def package_from_history(
    ticket: Ticket,
    reason: str,
    notes: list[Message] | None = None,
    *,
    reason_facts: dict[str, Any] | None = None,
) -> Package:
    """A package assembled from the ticket's history, for escalations raised by rules (and
    to start a person's). `notes`: the ticket's latest replies and notes, newest first, when
    already read. With `reason_facts` (a rule's), the package keeps its facts, so that each
    reader sees it in their language; the fields hold the active language's words."""
    if notes is None:
        notes = list(
            ticket.messages.filter(kind__in=["reply", "note"]).order_by("-created_at", "-pk")[
                :PACKAGE_NOTES
            ]
        )
    facts = wording.package_facts(ticket, notes, reason_facts or {})
    return Package(
        summary=f"{ticket.subject}\n{ticket.description[:500]}".strip(),
        affected=wording.affected_text(facts),
        impact=wording.impact_text(facts),
        actions_taken=wording.actions_text(facts),
        next_steps="",
        risks=reason,
        facts=facts if reason_facts else {},
    )


def raise_escalation(
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
    reason_facts: dict[str, Any] | None = None,
) -> Escalation:
    """Record the escalation, hand the ticket over, tell the receiving side (and
    `also_notify`, once each). Locked ticket."""
    # The previous escalation that is still waiting is superseded by this one.
    for previous in Escalation.objects.filter(ticket=ticket, status=Escalation.Status.RAISED):
        previous.escalate_further()
        previous.save()
    escalation = Escalation.objects.create(
        **escalation_row(
            ticket=ticket,
            kind=kind,
            to_team=to_team,
            package=package,
            rule=rule,
            trigger=trigger,
            reason=reason,
            raised_by=actor if actor is not None and actor.is_authenticated else None,
            now=now,
            reason_facts=reason_facts,
        )
    )
    ticket_services.record_event(
        ticket,
        TicketEvent.Kind.ESCALATED,
        actor=escalation.raised_by,
        now=now,
        payload=escalated_event_payload(escalation, escalation.pk),
    )
    ticket_services.ticket_hand_off(
        ticket=ticket,
        team=to_team,
        actor=actor,
        keep_assignee=keep_assignee,
        keep_level=kind == Escalation.Kind.FUNCTIONAL,
        reason=reason,
        reason_facts=reason_facts,
        now=now,
    )
    ticket.refresh_from_db()
    recipients = resolve_recipients(ticket, team=to_team, users=also_notify or (), exclude=actor)
    notify(
        recipients,
        kind=Notification.Kind.ESCALATION_RAISED,
        ticket=ticket,
        cause=f"escalation:{escalation.pk}",
        payload=raised_notice_payload(to_team.name, reason, escalation.pk, reason_facts),
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
