"""The hand-off shared by people and rules: the information package, the acknowledgement
deadline, the escalation row with its timeline entry and notices, and closing what a hand-off
or a resolution leaves behind. Callers hold the ticket's row lock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.facts import calendar_of
from escalation.models import Escalation, EscalationRule
from notifications.models import Notification
from notifications.services import notify, resolve_recipients
from sla.clock import add_business_time
from sla.services import calendar_spec
from tickets import services as ticket_services
from tickets.models import Message, Team, Ticket, TicketEvent


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


def ack_due(to_team: Team, ticket: Ticket, now: dt.datetime) -> dt.datetime | None:
    """When the receiving level must acknowledge (its tier target, on its calendar)."""
    target = getattr(to_team.level, "tier_target", None)
    if target is None:
        return None
    calendar = calendar_spec(target.calendar) if target.calendar else calendar_of(ticket)
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
        ack_due_at=ack_due(to_team, ticket, now),
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


def close_escalations(ticket: Ticket, now: dt.datetime) -> None:
    """A resolved or closed ticket ends its escalations."""
    for escalation in Escalation.objects.filter(
        ticket=ticket, status__in=[Escalation.Status.RAISED, Escalation.Status.ACKNOWLEDGED]
    ):
        escalation.close()
        escalation.closed_at = now
        escalation.save()
