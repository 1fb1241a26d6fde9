"""The sweep's set-based lane: a locked batch of due tickets decided in memory and written
with one statement per table.

The per-ticket lane (`evaluation.evaluate_ticket`) runs a ticket through the services, which
read and write row by row: some 45 statements and 30 ms per escalation. Here a batch is read
with a fixed number of queries, each ticket is decided with the same parts the services use
(`ticket_facts` and the engine's `evaluate`, `pending_sla_instants`, `clock_after_change`,
`package_from_history`, `dedupe_key`, webhook `publish`), and the batch's rows are written
together: firings, escalations, timeline events, webhook and email deliveries, in-app
notifications, clock segments, and the tickets themselves. The content of every row comes
from the builders both lanes call (`handoff.firing_row`, `escalation_row`,
`escalated_event_payload`, the notice payloads, `notifications.services.status_update_notice`),
so the differential test guards how the rows are written, not two copies of their wording.

It applies the common shapes: SLA warnings and breaches of every target (with the
status-update cadence of escalated tickets), rules that notify, and one hand-off up or
across per ticket. A ticket in any other shape (a rule that raises the priority or declares
a major incident, a second hand-off in one sweep, an SLA instant due right after its
hand-off) raises `HandBack` and is left untouched for the per-ticket lane, which the sweep
runs right after the batch commits. `tests/escalation/test_sweep_lanes.py` runs random
scenarios through both lanes and compares every row, so the two cannot drift apart
unnoticed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import timezone, translation

from escalation import evaluation, facts, handoff, reports, wording
from escalation.engine import Decision, Escalate, Evaluation, Trigger, evaluate
from escalation.models import Escalation, EscalationRule, RuleFiring
from helpdesk.db import update_rows
from notifications import outbox, webhooks
from notifications import services as notifications
from notifications.models import Delivery, Notification, WebhookEndpoint
from sla import services as sla
from sla.models import ClockSegment, SLAPolicy, SLATarget
from tickets import services as ticket_services
from tickets.models import TRANSITION_NAMES, Message, SupportLevel, Team, Ticket, TicketEvent

logger = logging.getLogger(__name__)
User = get_user_model()
E = TicketEvent.Kind
K = Notification.Kind
S = Escalation.Status
OPEN = (S.RAISED, S.ACKNOWLEDGED)

# The ticket columns the lane may change (everything else stays as it was read).
TICKET_FIELDS = list(
    dict.fromkeys(
        [
            "team",
            "level",
            "assignee",
            "escalation_cycle",
            "cycle_started_at",
            "updated_at",
            "version",
            *sla.SLA_FIELDS,
            *(column for columns in sla.COLUMNS.values() for column in columns[2:]),
            "next_check_at",
            # Not changed by the lane; written with the rest when a caller changed them
            # before (`run_batch`'s `as_read`: the recomputation refreshes the risk).
            "risk_score",
            "risk_reasons",
            "risk_changed_at",
        ]
    )
)


_ATTNAMES = [Ticket._meta.get_field(name).attname for name in TICKET_FIELDS]


def ticket_values(ticket: Ticket) -> tuple[Any, ...]:
    """The ticket's `TICKET_FIELDS` in memory (what `write` compares to tell what changed)."""
    return tuple(getattr(ticket, attname) for attname in _ATTNAMES)


class HandBack(Exception):
    """The ticket's shape is not one this lane applies: the per-ticket lane takes it."""


# The timeline entries this lane writes itself (with what the notifications listener would do
# for them). A further event listener may run beside it only if it declares, as its
# `event_kinds`, the kinds it acts on and none of them is one of these.
LANE_EVENT_KINDS = frozenset(
    {E.ASSIGNED, E.ESCALATED, E.LEVEL_CHANGED, E.SLA_BREACH, E.SLA_WARNING, E.TEAM_CHANGED}
)


# The changes this lane never makes: status transitions. A further change hook may run beside
# it only if it declares, as its `changes_watched`, the changes it acts on, all of them these
# (the closing-report reminder of `lessons` acts on "resolve").
NOT_LANE_CHANGES = frozenset({"status", *TRANSITION_NAMES})


def available() -> bool:
    """Whether the lane knows every effect of a ticket write: the change hooks it mirrors (the
    SLA clock's and the engine's) are registered, in that order, and any other acts only on
    changes the lane never makes; the notifications listener is registered (the lane writes
    what it would), any other listener acts on none of the kinds the lane writes, and
    listeners are not muted."""
    listeners = ticket_services.event_listeners()
    others = [listener for listener in listeners if listener is not notifications.on_ticket_event]
    hooks = ticket_services.change_hooks()
    mirrored = (sla.on_ticket_change, evaluation.on_ticket_change)
    return (
        hooks[:2] == mirrored
        and all(
            getattr(hook, "changes_watched", NOT_LANE_CHANGES | {"any"}) <= NOT_LANE_CHANGES
            for hook in hooks[2:]
        )
        and notifications.on_ticket_event in listeners
        and all(
            LANE_EVENT_KINDS.isdisjoint(getattr(listener, "event_kinds", LANE_EVENT_KINDS))
            for listener in others
        )
        and not ticket_services.listeners_are_muted()
    )


class EscalationId:
    """An escalation's id inside a payload or key, known once the batch's escalations are
    inserted (`template` formats it, e.g. "escalation:{}")."""

    def __init__(self, escalation: Escalation, template: str | None = None) -> None:
        self.escalation, self.template = escalation, template

    def value(self) -> int | str:
        pk = self.escalation.pk
        return pk if self.template is None else self.template.format(pk)


def _resolved(value: Any) -> Any:
    if isinstance(value, EscalationId):
        return value.value()
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item) for item in value]
    return value


@dataclass
class Config:
    """What every ticket of a sweep is decided with, read once per batch."""

    rules: facts.RuleSet
    levels: dict[int, SupportLevel]
    teams: dict[int, Team]
    members: dict[int, set[int]]
    level_leads: dict[int, set[int]]
    users: dict[int, AbstractBaseUser]
    policies: list[SLAPolicy]
    targets: dict[tuple[int, int], SLATarget]
    endpoints: list[WebhookEndpoint]

    @classmethod
    def load(cls, rules: facts.RuleSet, now: dt.datetime) -> Config:
        levels = {lv.pk: lv for lv in SupportLevel.objects.select_related("tier_target__calendar")}
        teams = {team.pk: team for team in Team.objects.all()}
        for team in teams.values():
            team.level = levels[team.level_id]
            team.escalates_to = teams.get(team.escalates_to_id) if team.escalates_to_id else None
        members: dict[int, set[int]] = defaultdict(set)
        for team_id, user_id in Team.members.through.objects.values_list("team_id", "user_id"):
            members[team_id].add(user_id)
        level_leads: dict[int, set[int]] = defaultdict(set)
        for team in teams.values():
            if team.lead_id is not None:
                level_leads[team.level.rank].add(team.lead_id)
        wanted = {pk for ids in members.values() for pk in ids}
        wanted |= {team.lead_id for team in teams.values() if team.lead_id is not None}
        users = User.objects.in_bulk(wanted)
        for rule in rules.by_id.values():
            users.update({user.pk: user for user in rule.notify_users.all()})
        policies = sla.policies_in_force(timezone.localdate(now))
        targets = {
            (target.policy_id, target.priority): target
            for target in SLATarget.objects.filter(policy__in=policies)
        }
        return cls(
            rules=rules,
            levels=levels,
            teams=teams,
            members=members,
            level_leads=level_leads,
            users=users,
            policies=policies,
            targets=targets,
            endpoints=webhooks.active_endpoints(),
        )


@dataclass
class Plan:
    """Everything one ticket's evaluation writes, decided but not yet written."""

    ticket: Ticket
    outcome: reports.Outcome
    before: tuple[Any, ...] = ()  # the ticket's TICKET_FIELDS as read
    firings: list[RuleFiring] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    further: list[Escalation] = field(default_factory=list)
    closed: list[Escalation] = field(default_factory=list)
    events: list[tuple[TicketEvent, webhooks.WebhookEvent | None]] = field(default_factory=list)
    segments_closed: list[ClockSegment] = field(default_factory=list)
    segments_created: list[ClockSegment] = field(default_factory=list)
    notices: list[notifications.Notice] = field(default_factory=list)


class Batch:
    """One locked batch: its per-ticket reads done once, then each ticket decided."""

    def __init__(
        self,
        config: Config,
        tickets: list[Ticket],
        now: dt.datetime,
        as_read: dict[int, tuple[Any, ...]] | None = None,
        segments: dict[int, list[ClockSegment]] | None = None,
    ) -> None:
        self.config, self.tickets, self.now = config, tickets, now
        self.as_read = as_read or {}
        self.rules = config.rules
        self.uses_severity = any(r.trigger == Trigger.SEVERITY for r in self.rules.specs)
        ids = [t.pk for t in tickets]
        for ticket in tickets:
            ticket.team = config.teams[ticket.team_id]
            ticket.level = config.levels[ticket.level_id]
        self.users = dict(config.users)
        self.users.update({t.assignee_id: t.assignee for t in tickets if t.assignee_id})
        self.followers: dict[int, set[int]] = defaultdict(set)
        for row in Ticket.watchers.through.objects.filter(ticket_id__in=ids).select_related("user"):
            self.followers[row.ticket_id].add(row.user_id)
            self.users[row.user_id] = row.user
        # Tickets an open major incident owns: their clock is held (one query per batch).
        self.owned = facts.owned_by_incident(ids)
        self.fired: dict[tuple[int, int], set[int]] = defaultdict(set)
        cycles = {t.pk: t.escalation_cycle for t in tickets}
        for ticket_id, rule_id, cycle in (
            RuleFiring.objects.filter(ticket_id__in=ids)
            .filter(cycle__gte=min(cycles.values(), default=0))
            .values_list("ticket_id", "rule_id", "cycle")
        ):
            self.fired[ticket_id, cycle].add(rule_id)
        self.escalations: dict[int, list[Escalation]] = defaultdict(list)
        self.deescalations: dict[int, list[dt.datetime]] = defaultdict(list)
        for escalation in Escalation.objects.filter(ticket_id__in=ids).filter(
            Q(status__in=OPEN) | Q(kind=Escalation.Kind.DE_ESCALATION)
        ):
            if escalation.status in OPEN:
                self.escalations[escalation.ticket_id].append(escalation)
            if escalation.kind == Escalation.Kind.DE_ESCALATION:
                self.deescalations[escalation.ticket_id].append(escalation.raised_at)
        self.segments: dict[int, list[ClockSegment]] = defaultdict(list)
        if segments is not None:
            self.segments.update(segments)
        else:
            for segment in ClockSegment.objects.filter(ticket_id__in=ids).order_by("pk"):
                self.segments[segment.ticket_id].append(segment)
        self.notes: dict[int, list[Message]] = defaultdict(list)
        latest = Window(
            RowNumber(),
            partition_by=[F("ticket_id")],
            order_by=[F("created_at").desc(), F("pk").desc()],
        )
        for message in (
            Message.objects.filter(ticket_id__in=ids, kind__in=["reply", "note"])
            .annotate(row=latest)
            .filter(row__lte=handoff.PACKAGE_NOTES)
            .order_by("ticket_id", "-created_at", "-pk")
        ):
            self.notes[message.ticket_id].append(message)

    # --- Reading the ticket as the services would -------------------------------------------

    def _open_escalation(self, ticket: Ticket) -> Escalation | None:
        waiting = [
            e
            for e in self.escalations[ticket.pk]
            if e.status == S.RAISED and e.to_team_id == ticket.team_id
        ]
        return max(waiting, key=_escalation_order, default=None)

    def _evaluate(self, ticket: Ticket) -> Evaluation:
        waiting = self._open_escalation(ticket)
        since = ticket.cycle_started_at or ticket.created_at
        ticket_facts = facts.ticket_facts(
            ticket,
            fired=self.fired[ticket.pk, ticket.escalation_cycle],
            awaiting_ack=waiting.ack_due_at if waiting else None,
            deescalated=self.uses_severity
            and any(raised >= since for raised in self.deescalations[ticket.pk]),
            teams=self.config.teams.values(),
            owned=ticket.pk in self.owned,
        )
        return evaluate(ticket_facts, self.rules.specs, self.now)

    def _recipients(
        self,
        ticket: Ticket,
        *,
        assignee: bool = False,
        team_lead: bool = False,
        team: Team | None = None,
        level_rank: int | None = None,
        watchers: bool = False,
        users: Iterable[AbstractBaseUser] = (),
    ) -> list[AbstractBaseUser]:
        """`notifications.services.resolve_recipients`, from what the batch has read."""
        ids = {u.pk for u in users}
        for user in users:
            self.users.setdefault(user.pk, user)
        if assignee and ticket.assignee_id:
            ids.add(ticket.assignee_id)
        if team_lead and ticket.team.lead_id:
            ids.add(ticket.team.lead_id)
        if team is not None:
            ids |= self.config.members[team.pk]
            if team.lead_id:
                ids.add(team.lead_id)
        if level_rank is not None:
            ids |= self.config.level_leads[level_rank]
        if watchers:
            ids |= self.followers[ticket.pk]
        return [self.users[pk] for pk in sorted(ids) if self.users[pk].is_active]

    def _rule_recipients(self, ticket: Ticket, rule: EscalationRule) -> list[AbstractBaseUser]:
        return self._recipients(
            ticket,
            assignee=rule.notify_assignee,
            team_lead=rule.notify_team_lead,
            level_rank=rule.notify_level_rank,
            users=list(rule.notify_users.all()),
        )

    def _target_of(self, ticket: Ticket, rule: EscalationRule) -> tuple[Team, str] | None:
        up = facts.next_team_up(ticket, self.config.teams.values())
        if rule.escalate == Escalate.HIERARCHICAL and up is not None:
            if up.pk == ticket.team_id:
                # A team that escalates to itself (only data written around the admin): the
                # services raise the escalation but skip the hand-off.
                raise HandBack("a team that escalates to itself")
            return up, Escalation.Kind.HIERARCHICAL
        if rule.escalate == Escalate.FUNCTIONAL:
            team = self.config.teams[rule.functional_team_id]
            if team.pk != ticket.team_id and team.is_active:
                return team, Escalation.Kind.FUNCTIONAL
        return None

    # --- Deciding ---------------------------------------------------------------------------

    def plan(self, ticket: Ticket) -> Plan:
        """What `evaluation.evaluate_ticket` would write for `ticket`, or `HandBack`. A ticket
        handed back leaves the batch's state for it spoilt: it is not planned again."""
        plan = Plan(
            ticket=ticket,
            outcome=reports.Outcome(ticket.pk, ticket.reference),
            before=self.as_read.get(ticket.pk) or ticket_values(ticket),
        )
        self.current = plan
        owned = ticket.pk in self.owned
        if not owned:
            plan.outcome.sla_events = self._record_due_sla_events(ticket)
        evaluation = self._evaluate(ticket)
        if evaluation.decisions:
            targets = [
                self._target_of(ticket, self.rules.by_id[d.rule.id]) for d in evaluation.decisions
            ]
            hand_offs = [i for i, target in enumerate(targets) if target is not None]
            if len(hand_offs) > 1 or (hand_offs and hand_offs[0] != len(targets) - 1):
                raise HandBack("more than one hand-off, or notices after one")
            for decision in evaluation.decisions:
                self._apply(ticket, decision)
                rule = self.rules.by_id[decision.rule.id]
                plan.outcome.fired.append(f"{rule.name} ({wording.describe(decision.reason)})")
            evaluation = self._evaluate(ticket)
            if evaluation.decisions:
                raise HandBack("a rule fires again after the first round")
        sla_next = None if owned else sla.next_sla_check(ticket)
        plan.outcome.next_check_at = min(
            (i for i in (sla_next, evaluation.next_check_at) if i is not None), default=None
        )
        ticket.next_check_at = plan.outcome.next_check_at
        return plan

    def _event(self, ticket: Ticket, kind: str, payload: dict[str, Any]) -> None:
        """`record_event` with the notification listener's part (`on_ticket_event`)."""
        event = TicketEvent(
            ticket=ticket, kind=kind, actor=None, payload=payload, created_at=self.now
        )
        published = (
            webhooks.publish(event, self.config.endpoints) if self.config.endpoints else None
        )
        self.current.events.append((event, published))
        if kind in (E.SLA_WARNING, E.SLA_BREACH) and payload.get("target") == "next_update":
            self._status_update_cadence(ticket, kind, payload)
        if kind == E.ASSIGNED and payload.get("to") is not None:
            raise HandBack("an assignment")
        if kind == E.ESCALATED:
            followers = self._recipients(ticket, watchers=True)
            if followers:
                escalation = payload["escalation"]
                self._notice(
                    followers,
                    kind=K.ESCALATION_RAISED,
                    ticket=ticket,
                    key=EscalationId(escalation.escalation, "escalation:{}"),
                    payload=handoff.raised_notice_payload(
                        payload.get("to_team", ""),
                        payload.get("reason", ""),
                        escalation,
                        payload.get("reason_facts"),
                    ),
                )

    def _status_update_cadence(self, ticket: Ticket, kind: str, payload: dict[str, Any]) -> None:
        """The status-update reminder of the notification listener
        (`notifications.services.status_update_notice`)."""
        escalated = ticket.is_major_incident or any(
            e.status in OPEN and e.kind != Escalation.Kind.DE_ESCALATION
            for e in self.escalations[ticket.pk]
        )
        if not ticket.is_active or not escalated:
            return
        if ticket.next_update_due_at is None:
            raise HandBack("a status-update notice keyed by its event")
        notice, order, notice_payload = notifications.status_update_notice(
            kind, payload.get("due_at")
        )
        recipients = self._recipients(ticket, **{order[0]: True}) or self._recipients(
            ticket, **{order[1]: True}
        )
        self._notify(
            recipients,
            kind=notice,
            ticket=ticket,
            cause="cadence",  # keyed by the deadline (`dedupe_key`), never by this cause
            payload=notice_payload,
        )

    def _notice(
        self,
        recipients: list[AbstractBaseUser],
        *,
        kind: str,
        ticket: Ticket,
        key: str | EscalationId,
        payload: dict[str, Any],
    ) -> None:
        notice = notifications.notice_for(
            recipients, kind=kind, ticket=ticket, key=key, payload=payload, now=self.now
        )
        if notice is not None:
            self.current.notices.append(notice)

    def _notify(
        self,
        recipients: list[AbstractBaseUser],
        *,
        kind: str,
        ticket: Ticket,
        cause: str,
        payload: dict[str, Any],
    ) -> None:
        key = notifications.dedupe_key(kind, ticket, cause, payload)
        self._notice(recipients, kind=kind, ticket=ticket, key=key, payload=payload)

    def _record_due_sla_events(self, ticket: Ticket) -> list[str]:
        """`sla.services.record_due_sla_events` (the batch holds the rows' locks)."""
        recorded = []
        for pending in sla.pending_sla_instants(ticket):
            if pending.at > self.now:
                continue
            setattr(ticket, pending.flag_column, self.now)
            self._event(ticket, pending.event_kind, pending.payload(ticket))
            recorded.append(f"{pending.target}:{pending.label}")
        return recorded

    def _apply(self, ticket: Ticket, decision: Decision) -> None:
        """`evaluation.apply_decision`."""
        rule = self.rules.by_id[decision.rule.id]
        if rule.raise_priority_to is not None and rule.raise_priority_to < ticket.priority:
            raise HandBack("the rule raises the priority")
        if rule.mark_major_incident:
            raise HandBack("the rule declares a major incident")
        self.current.firings.append(
            RuleFiring(**handoff.firing_row(ticket, rule, decision, self.now))
        )
        self.fired[ticket.pk, ticket.escalation_cycle].add(rule.pk)
        reason = handoff.rule_reason(rule, decision)
        if decision.trigger == Trigger.UNACKNOWLEDGED:
            waiting = self._open_escalation(ticket)
            if waiting is not None:
                self._notify(
                    self._recipients(
                        ticket, team_lead=True, team=self.config.teams[waiting.from_team_id]
                    ),
                    kind=K.ESCALATION_UNACKNOWLEDGED,
                    ticket=ticket,
                    cause=f"unack:{waiting.pk}",
                    payload={"to_team": self.config.teams[waiting.to_team_id].name},
                )
        target = self._target_of(ticket, rule)
        if target is None:
            self._notify(
                self._rule_recipients(ticket, rule),
                kind=handoff.rule_notice_kind(decision),
                ticket=ticket,
                cause=f"rule:{rule.pk}:{ticket.pk}:{ticket.escalation_cycle}",
                payload=handoff.rule_notice_payload(rule, decision),
            )
            return
        to_team, kind = target
        reason_facts = handoff.rule_reason_facts(rule, decision)
        package = handoff.package_from_history(
            ticket, reason, notes=self.notes[ticket.pk], reason_facts=reason_facts
        )
        self._raise(
            ticket,
            kind=kind,
            to_team=to_team,
            package=package,
            rule=rule,
            trigger=decision.trigger,
            reason=reason,
            reason_facts=reason_facts,
            also_notify=self._rule_recipients(ticket, rule),
        )

    def _raise(
        self,
        ticket: Ticket,
        *,
        kind: str,
        to_team: Team,
        package: handoff.Package,
        rule: EscalationRule,
        trigger: str,
        reason: str,
        reason_facts: dict[str, Any],
        also_notify: list[AbstractBaseUser],
    ) -> None:
        """`handoff.raise_escalation` for a rule (no actor)."""
        plan = self.current
        for previous in self.escalations[ticket.pk]:
            if previous.status == S.RAISED:
                previous.escalate_further()
                plan.further.append(previous)
        escalation = Escalation(
            **handoff.escalation_row(
                ticket=ticket,
                kind=kind,
                to_team=to_team,
                package=package,
                rule=rule,
                trigger=trigger,
                reason=reason,
                raised_by=None,
                now=self.now,
                reason_facts=reason_facts,
            )
        )
        plan.escalations.append(escalation)
        self.escalations[ticket.pk].append(escalation)
        self._event(
            ticket,
            E.ESCALATED,
            handoff.escalated_event_payload(escalation, EscalationId(escalation)),
        )
        self._hand_off(
            ticket,
            to_team,
            level=escalation.to_level,
            keep_assignee=rule.keep_assignee,
            reason=reason,
            reason_facts=reason_facts,
        )
        self._notice(
            self._recipients(ticket, team=to_team, users=also_notify),
            kind=K.ESCALATION_RAISED,
            ticket=ticket,
            key=EscalationId(escalation, "escalation:{}"),
            payload=handoff.raised_notice_payload(
                to_team.name, reason, EscalationId(escalation), reason_facts
            ),
        )

    def _hand_off(
        self,
        ticket: Ticket,
        team: Team,
        *,
        level: SupportLevel,
        keep_assignee: bool,
        reason: str,
        reason_facts: dict[str, Any],
    ) -> None:
        """`tickets.services.ticket_hand_off` with its change hooks (SLA clock, then the
        escalation hook's settling); `level`: the team's, or the ticket's own (lateral)."""
        plan, now = self.current, self.now
        old_team, old_level = ticket.team, ticket.level
        ticket.team, ticket.level = team, level
        ticket.escalation_cycle += 1
        ticket.cycle_started_at = now
        ticket.version += 1  # a form made before the hand-off no longer holds (once per intent)
        changes = {"handoff", "team"}
        because = {"reason": reason} | ({"reason_facts": reason_facts} if reason_facts else {})
        self._event(ticket, E.TEAM_CHANGED, {"from": old_team.name, "to": team.name} | because)
        if old_level.pk != level.pk:
            changes.add("level")
            self._event(ticket, E.LEVEL_CHANGED, {"from": old_level.rank, "to": level.rank})
        if not keep_assignee and ticket.assignee_id is not None:
            old = ticket.assignee
            ticket.assignee = None
            changes.add("assignee")
            self._event(
                ticket,
                E.ASSIGNED,
                {"from": ticket_services.user_label(old), "to": None} | because,
            )
        ticket.updated_at = now
        closed, created = sla.clock_after_change(
            ticket,
            frozenset(changes),
            now,
            segments=self.segments[ticket.pk],
            policies=self.config.policies,
            targets=self.config.targets,
        )
        plan.segments_closed += closed
        plan.segments_created += created
        if any(p.at <= now for p in sla.pending_sla_instants(ticket)):
            raise HandBack("an SLA instant is due right after the hand-off")
        for escalation in self.escalations[ticket.pk]:
            if escalation.status in OPEN and escalation.to_team_id != ticket.team_id:
                if escalation.pk is None:
                    raise HandBack("an escalation closed in the sweep that raised it")
                escalation.close()
                escalation.closed_at = now
                plan.closed.append(escalation)


def _escalation_order(escalation: Escalation) -> tuple[dt.datetime, bool, int]:
    """Newest last; an unsaved one (raised in this batch) after every saved one."""
    return (escalation.raised_at, escalation.pk is None, escalation.pk or 0)


def write(plans: list[Plan], now: dt.datetime) -> None:
    """Write the plans of a batch, one statement per table (inside the batch's transaction)."""
    if not plans:
        return
    further = [e.pk for p in plans for e in p.further]
    if further:
        Escalation.objects.filter(pk__in=further).update(status=S.ESCALATED_FURTHER)
    closed = [e.pk for p in plans for e in p.closed]
    if closed:
        Escalation.objects.filter(pk__in=closed).update(status=S.CLOSED, closed_at=now)
    escalations = [e for p in plans for e in p.escalations]
    if escalations:
        Escalation.objects.bulk_create(escalations)
    firings = [f for p in plans for f in p.firings]
    if firings:
        RuleFiring.objects.bulk_create(firings)
    events = [(event, published) for p in plans for event, published in p.events]
    if events:
        for event, _published in events:
            event.payload = _resolved(event.payload)
        TicketEvent.objects.bulk_create([event for event, _published in events])
        deliveries = []
        for event, published in events:
            if published is not None:
                published.payload.update(_resolved(published.payload))
                deliveries += published.deliveries(event)
        if deliveries:
            outbox.send_after_commit(Delivery.objects.bulk_create(deliveries))
    segments_closed = [s for p in plans for s in p.segments_closed]
    if segments_closed:
        update_rows(ClockSegment, segments_closed, ["ended_at", "end_reason", "business_seconds"])
    segments_created = [s for p in plans for s in p.segments_created]
    if segments_created:
        ClockSegment.objects.bulk_create(segments_created)
    # Only the columns that changed, of the tickets that changed (mostly `next_check_at`).
    changed: set[str] = set()
    touched = []
    for plan in plans:
        after = ticket_values(plan.ticket)
        fields = {
            f for f, old, new in zip(TICKET_FIELDS, plan.before, after, strict=True) if old != new
        }
        if fields:
            changed |= fields
            touched.append(plan.ticket)
    update_rows(Ticket, touched, [f for f in TICKET_FIELDS if f in changed])
    batch = notifications.NoticeBatch()
    for plan in plans:
        for notice in plan.notices:
            notice.key = _resolved(notice.key)
            notice.payload = _resolved(notice.payload)
            batch.add_notice(notice)
    batch.write()


def run_batch(
    rules: facts.RuleSet,
    tickets: list[Ticket],
    now: dt.datetime,
    report: reports.SweepReport,
    *,
    as_read: dict[int, tuple[Any, ...]] | None = None,
    segments: dict[int, list[ClockSegment]] | None = None,
) -> list[int]:
    """Decide and write a locked batch in the set-based lane; returns the ids it hands back
    to the per-ticket lane (all of them when the batch failed, rolled back to its savepoint).

    `as_read`: each ticket's `ticket_values` as the database holds them, when the caller has
    changed the tickets in memory without writing them (the SLA recomputation): the lane's
    one ticket statement then writes the caller's changes too. A ticket handed back is not
    written: the caller writes its own changes before the per-ticket lane reads it.
    `segments`: the tickets' clock segments by ticket, in the order of their ids, when the
    caller holds them as written (spares reading them again)."""
    handed_back: list[int] = []
    plans = []
    try:
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            # Teams, people, policies and endpoints as they are now (a dozen reads a batch).
            lane = Batch(Config.load(rules, now), tickets, now, as_read, segments)
            for ticket in tickets:
                try:
                    plans.append(lane.plan(ticket))
                except HandBack:
                    handed_back.append(ticket.pk)
                except Exception:
                    # The per-ticket lane will evaluate it and, if it fails there too, log
                    # it and leave it due; the rest of the batch goes on in bulk.
                    logger.warning("Bulk sweep could not plan ticket %s", ticket.pk, exc_info=True)
                    handed_back.append(ticket.pk)
            write(plans, now)
    except Exception:
        logger.exception(
            "Escalation sweep: a batch of %s tickets failed in bulk; each is evaluated alone",
            len(tickets),
        )
        return [t.pk for t in tickets]
    report.bulk += len(plans)
    report.outcomes += [p.outcome for p in plans if p.outcome.fired or p.outcome.sla_events]
    return handed_back
