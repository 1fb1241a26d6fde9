"""What the engine knows of a ticket: the active rules as engine values, the ticket's facts,
the escalation waiting for acknowledgement. Reads only (the words for a rule's reason are in
`escalation.wording`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from escalation.engine import (
    RuleSpec,
    SLAInstants,
    TicketFacts,
)
from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk import configcache
from sla.clock import ALWAYS_OPEN, CalendarSpec
from sla.services import calendar_spec
from tickets.models import Team, Ticket

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

    @classmethod
    def current(cls) -> RuleSet:
        """The active rules, read once per process and kept until the configuration changes
        (`helpdesk.configcache`, watched in `EscalationConfig.ready`): what every ticket write
        evaluates. Shared: callers read it and do not change it."""
        return configcache.cached("escalation.rules", cls.load)


# ---------------------------------------------------------------------------------------------
# Facts


# Who says which tickets an open major incident owns (`incidents` registers it in its
# `AppConfig.ready`): a callable from ticket ids to the owned ones, one query per call.
IncidentOwner = Callable[[Iterable[int]], set[int]]
_incident_owners: list[IncidentOwner] = []


def register_incident_owner(owner: IncidentOwner) -> None:
    """Register a source of the "owned by incident" fact (idempotent)."""
    if owner not in _incident_owners:
        _incident_owners.append(owner)


def owned_by_incident(ticket_ids: Iterable[int]) -> set[int]:
    """The ids among `ticket_ids` whose communication an open major incident owns."""
    ids = list(ticket_ids)
    owned: set[int] = set()
    if ids:
        for owner in _incident_owners:
            owned |= owner(ids)
    return owned


def calendar_of(ticket: Ticket) -> CalendarSpec:
    if ticket.sla_policy_id is not None:
        return calendar_spec(ticket.sla_policy.calendar)
    return ALWAYS_OPEN


def ticket_facts(
    ticket: Ticket,
    *,
    fired: set[int],
    awaiting_ack: dt.datetime | None,
    deescalated: bool = False,
    teams: Iterable[Team] | None = None,
    owned: bool = False,
) -> TicketFacts:
    """The engine's view of `ticket`. Only running SLA targets carry instants. `teams`: see
    `next_team_up`."""
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
        calendar=calendar_of(ticket),
        sla=sla,
        risk_score=ticket.risk_score,
        risk_changed_at=ticket.risk_changed_at,
        awaiting_ack_until=awaiting_ack,
        can_escalate_up=next_team_up(ticket, teams) is not None,
        waiting_on_customer=ticket.status == Ticket.Status.PENDING,
        resumed_at=ticket.resumed_at,
        deescalated_into_cycle=deescalated,
        fired_rule_ids=frozenset(fired),
        owned_by_incident=owned,
    )


def next_team_up(ticket: Ticket, teams: Iterable[Team] | None = None) -> Team | None:
    """The active team one step up from where the ticket is (rules and people alike).

    From a tier team: the team it escalates to. From a functional team (which the ticket
    joined laterally, keeping its level): the functional team's own `escalates_to` when it
    leads above the ticket's current level, else the tier chain's team on the lowest level
    above the ticket's (by name among several). `teams`: every team, with levels and
    `escalates_to`, when already read (the bulk lane); otherwise they are queried.
    """
    team = ticket.team
    target = team_above(team)
    if team.kind != Team.Kind.FUNCTIONAL:
        return target if target is not None and target.is_active else None
    rank = ticket.level.rank
    if target is not None and target.is_active and target.level.rank > rank:
        return target
    if teams is None:
        teams = Team.objects.filter(
            kind=Team.Kind.TIER, is_active=True, level__rank__gt=rank
        ).select_related("level")
    above = [t for t in teams if t.kind == Team.Kind.TIER and t.is_active and t.level.rank > rank]
    return min(above, key=lambda t: (t.level.rank, t.name, t.pk), default=None)


def _load_teams() -> dict[int, Team]:
    return {team.pk: team for team in Team.objects.select_related("level")}


def team_above(team: Team) -> Team | None:
    """The team `team` escalates to, with its level: from `team` when it was read with it,
    else from every team as cached per process (`helpdesk.configcache`, teams are watched in
    `EscalationConfig.ready`), so a ticket write does not read it."""
    if team.escalates_to_id is None:
        return None
    if Team.escalates_to.is_cached(team):
        return team.escalates_to
    above = configcache.cached("escalation.teams", _load_teams).get(team.escalates_to_id)
    return above if above is not None else team.escalates_to


def deescalated_into_cycle(ticket: Ticket) -> bool:
    """Whether the current cycle began with a lead handing the ticket down."""
    return Escalation.objects.filter(
        ticket=ticket,
        kind=Escalation.Kind.DE_ESCALATION,
        raised_at__gte=ticket.cycle_started_at or ticket.created_at,
    ).exists()


def fired_rules(ticket: Ticket) -> set[int]:
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
