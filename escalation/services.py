"""Escalation use cases of people: raise (up the chain or across), acknowledge, de-escalate.
Each is one transaction with a row lock on the ticket; each hand-off is an `Escalation` row and a
`TicketEvent` (`escalation.handoff`). Rules raise escalations through `escalation.evaluation`;
the periodic sweep lives in `escalation.sweep`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.facts import next_team_up
from escalation.handoff import EscalationError, Package, raise_escalation
from escalation.models import Escalation
from notifications.models import Notification
from notifications.services import notify, resolve_recipients
from tickets import services as ticket_services
from tickets.models import Team, Ticket, TicketEvent


def _escalation_target(ticket: Ticket, kind: str, to_team: Team | None) -> Team:
    if kind == Escalation.Kind.HIERARCHICAL:
        if ticket.team.kind == Team.Kind.FUNCTIONAL:
            # Joined laterally: up from the ticket's level, as the rules go (`next_team_up`).
            target = next_team_up(ticket)
        else:
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


@transaction.atomic
def escalation_raise(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    kind: str,
    package: Package,
    to_team: Team | None = None,
    reason: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Escalation:
    """A manual escalation by an agent: up the chain, or across to a functional team.

    The information package is required: at least what happened and what was tried. Only
    those who may move the ticket escalate it (`tickets.services.can_move`). A request made
    from an older `expected_version` of the ticket is refused (StaleRequest), so a double
    submit escalates once.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().select_related("team", "level").get(pk=ticket.pk)
    ticket_services.check_move(ticket, actor, expected_version)
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
    escalation = raise_escalation(
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


def acknowledge_assignees(escalation: Escalation, user: AbstractBaseUser) -> list[AbstractBaseUser]:
    """Whom `user` may hand the ticket to while acknowledging: themselves (any member of the
    receiving team), and for its lead (or an admin) every active member of the team."""
    team = escalation.to_team
    people = [user]
    if user.is_superuser or team.lead_id == user.pk:
        # `all()`: no query when the caller loaded the team with its members (the ticket page).
        members = sorted(team.members.all(), key=lambda m: m.get_username())
        people += [m for m in members if m.is_active and m != user]
    return people


@transaction.atomic
def escalation_acknowledge(
    *,
    escalation: Escalation,
    actor: AbstractBaseUser,
    assignee: AbstractBaseUser | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Escalation:
    """The receiving team takes the escalation; the chain's timer stops.

    Acknowledging does not assign by itself: `assignee` is whom the ticket goes to with it —
    the acknowledger ("acknowledge and take it") or, for the lead, a member of the team
    (`acknowledge_assignees`); None leaves the assignment as it is. An escalation that is no
    longer waiting, or a ticket no longer at `expected_version`, is refused (StaleRequest)
    with what happened, so a double click acknowledges once.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=escalation.ticket_id)
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if not can_acknowledge(escalation, actor):
        raise PermissionDenied(_("Only the receiving team can acknowledge this escalation."))
    ticket_services.expect_version(ticket, expected_version, actor)
    if escalation.status != Escalation.Status.RAISED:
        raise ticket_services.stale_request(ticket, actor)
    if assignee is not None and assignee not in acknowledge_assignees(escalation, actor):
        raise EscalationError(
            {"assignee": _("Choose yourself or, as the lead, a member of the team.")}
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
    ticket_services.bump_version(ticket)
    if (
        assignee is not None
        and assignee.pk != ticket.assignee_id
        and ticket.team_id == escalation.to_team_id
    ):
        ticket_services.ticket_assign(ticket=ticket, actor=actor, assignee=assignee, now=now)
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


def deescalation_targets(
    ticket: Ticket,
    *,
    escalations: Sequence[Escalation] | None = None,
    active_teams: Sequence[Team] | None = None,
) -> list[Team]:
    """Teams a lead can hand the ticket back to: lower levels, the one it came from first.

    The ticket page has both inputs loaded already and passes them (no query then):
    `escalations`, all of the ticket's escalations newest first (`raised_at`, then pk);
    `active_teams`, every active team with its level."""
    if escalations is None:
        came_from = (
            Escalation.objects.filter(ticket=ticket, to_team=ticket.team)
            .exclude(kind=Escalation.Kind.DE_ESCALATION)
            .order_by("-raised_at")
            .values_list("from_team_id", flat=True)
            .first()
        )
    else:
        came_from = next(
            (
                e.from_team_id
                for e in escalations
                if e.to_team_id == ticket.team_id and e.kind != Escalation.Kind.DE_ESCALATION
            ),
            None,
        )
    if active_teams is None:
        teams = list(
            Team.objects.filter(is_active=True, level__rank__lte=ticket.level.rank)
            .exclude(pk=ticket.team_id)
            .select_related("level")
        )
    else:
        teams = [
            t
            for t in active_teams
            if t.is_active and t.level.rank <= ticket.level.rank and t.pk != ticket.team_id
        ]
    return sorted(teams, key=lambda t: (t.pk != came_from, -t.level.rank, t.name))


@transaction.atomic
def escalation_deescalate(
    *,
    ticket: Ticket,
    actor: AbstractBaseUser,
    to_team: Team,
    reason: str,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Escalation:
    """A lead hands the ticket back down (or across to the same level), with a reason.
    StaleRequest when the ticket is no longer at `expected_version` (a double submit)."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket_services.can_work_ticket(ticket, actor):
        ticket_services.expect_version(ticket, expected_version, actor)
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
    # The hand-off moves the version: forms made before the hand-back are stale.
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
