"""The volume lane of `seed_demo`: planned tickets replayed in memory with the services'
bookkeeping (status, stamps, cycle, progress, events and their payloads) and written with
`bulk_create`. Bulk rows do not run the change hooks (SLA clock, escalation engine), so they
are for tickets beyond `--via-services` (benchmarks, large databases), not the default demo.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from demo.organisation import Organisation, agent, taker
from demo.plan import Plan, Step
from tickets import services
from tickets.models import Message, Team, Ticket, TicketEvent

Status = Ticket.Status
Kind = TicketEvent.Kind


class _Replay:
    """One planned ticket replayed in memory with the services' bookkeeping, for bulk writes.

    Mirrors `tickets.services`: the same stamps, cycle and progress rules, the same event kinds
    and payloads. Kept next to the plans it replays; `test_seed_demo` checks the two paths
    produce the same timeline for the same plan.
    """

    def __init__(self, plan: Plan, org: Organisation, labels: dict[int, str]) -> None:
        self.plan = plan
        self.org = org
        self.labels = labels
        self.priority_of = org.priority
        self.status = Status.NEW
        self.team = plan.team
        self.level = plan.team.level
        self.assignee: Any = None
        self.impact, self.urgency = plan.impact, plan.urgency
        self.priority = org.priority(plan.impact, plan.urgency)
        self.overridden = False
        self.updated_at = plan.created_at
        self.last_progress_at: datetime | None = None
        self.first_responded_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.reopen_count = 0
        self.resumed_at: datetime | None = None
        self.cycle = 0
        self.cycle_started_at = plan.created_at
        # Plain values, turned into rows once the ticket has its primary key:
        # messages (kind, author id, author name, body, at) and
        # events (kind, actor id, at, payload, index of its message or None).
        self.messages: list[tuple[str, int | None, str, str, datetime]] = []
        self.events: list[tuple[str, int | None, datetime, dict[str, Any], int | None]] = []

    def label(self, user: Any) -> str | None:
        return None if user is None else self.labels[user.pk]

    def event(
        self,
        kind: str,
        actor: Any,
        at: datetime,
        payload: dict[str, Any] | None = None,
        message: int | None = None,
    ) -> None:
        self.events.append((kind, actor.pk if actor else None, at, payload or {}, message))

    def message(self, kind: str, author: Any, body: str, at: datetime) -> int:
        name = "" if author is not None else self.plan.author_name
        self.messages.append((kind, author.pk if author else None, name, body, at))
        return len(self.messages) - 1

    def progress(self, at: datetime) -> None:
        self.last_progress_at = at  # every actor here is an agent

    def run(self) -> None:
        plan, rng = self.plan, self.plan.rng
        creator = taker(self.org, rng, plan.team.pk) if plan.logged_by_agent else None
        self.created_by = creator
        self.event(
            Kind.CREATED,
            creator,
            plan.created_at,
            {
                "subject": plan.subject,
                "team": plan.team.name,
                "level": plan.team.level.rank,
                "priority": self.priority,
                "channel": plan.channel,
                "assignee": None,
            },
        )
        for step in plan.steps:
            self.step(step, rng)

    def step(self, step: Step, rng: random.Random) -> None:
        at = step.at
        assert at is not None
        if step.kind == "customer":
            self.customer(step.body, at)
            return
        if step.kind == "take":
            person = taker(self.org, rng, self.team.pk)
            self.assign(person, person, self.team, "", at)
            return
        actor = agent(self.org, rng, self.team.pk, self.assignee.pk if self.assignee else None)
        if step.kind in ("hand_over", "deescalate"):
            assert step.team is not None
            self.assign(actor, None, step.team, step.reason, at)
        elif step.kind == "escalate":
            if self.team.escalates_to is not None:
                self.assign(actor, None, self.team.escalates_to, step.reason, at)
        elif step.kind == "transition":
            self.transition(actor, step.name, at)
        elif step.kind == "reply":
            message = self.message(Message.Kind.REPLY, actor, step.body, at)
            first = self.first_responded_at is None
            if first:
                self.first_responded_at = at
            self.updated_at = at
            self.progress(at)
            self.event(Kind.REPLIED, actor, at, {"first_response": first}, message)
        elif step.kind == "note":
            message = self.message(Message.Kind.NOTE, actor, step.body, at)
            self.updated_at = at
            self.progress(at)
            self.event(Kind.NOTE_ADDED, actor, at, None, message)
        elif step.kind == "priority":
            self.change_priority(actor, step, at)

    def customer(self, body: str, at: datetime) -> None:
        message = self.message(Message.Kind.CUSTOMER, None, body, at)
        before = self.status
        if self.status == Status.PENDING:
            self.status = Status.OPEN
            self.resumed_at = at
        elif self.status == Status.RESOLVED:
            self.reopen(at)
        self.updated_at = at
        self.event(Kind.CUSTOMER_MESSAGE, None, at, None, message)
        if self.status != before:
            payload = {"from": before, "to": self.status, "automatic": True}
            self.event(Kind.TRANSITIONED, None, at, payload)

    def reopen(self, at: datetime) -> None:
        self.status = Status.OPEN
        self.resolved_at = None
        self.reopen_count += 1
        self.cycle += 1
        self.cycle_started_at = at

    def transition(self, actor: Any, name: str, at: datetime) -> None:
        before = self.status
        if name == "reopen":
            self.reopen(at)
        else:
            self.status = TRANSITION_TARGETS[name]
        if name == "resolve":
            self.resolved_at = at
        elif name == "close":
            self.closed_at = at
        elif name == "resume":
            self.resumed_at = at
        self.updated_at = at
        self.progress(at)
        payload = {"from": before, "to": self.status, "transition": name}
        self.event(Kind.TRANSITIONED, actor, at, payload)

    def assign(self, actor: Any, assignee: Any, team: Team, reason: str, at: datetime) -> None:
        changed = False
        if team.pk != self.team.pk:
            old_team, old_level = self.team, self.level
            self.team, self.level = team, team.level
            self.cycle += 1
            self.cycle_started_at = at
            changed = True
            payload = {"from": old_team.name, "to": team.name, "reason": reason}
            self.event(Kind.TEAM_CHANGED, actor, at, payload)
            if old_level.pk != team.level_id:
                payload = {"from": old_level.rank, "to": team.level.rank}
                self.event(Kind.LEVEL_CHANGED, actor, at, payload)
        if (assignee.pk if assignee else None) != (self.assignee.pk if self.assignee else None):
            payload = {
                "from": self.label(self.assignee),
                "to": self.label(assignee),
                "reason": reason,
            }
            self.assignee = assignee
            changed = True
            self.event(Kind.ASSIGNED, actor, at, payload)
        if changed:
            self.updated_at = at
            self.progress(at)

    def change_priority(self, actor: Any, step: Step, at: datetime) -> None:
        before = {"priority": self.priority, "impact": self.impact, "urgency": self.urgency}
        if step.impact is not None:
            self.impact = step.impact
        if step.urgency is not None:
            self.urgency = step.urgency
        self.priority = self.priority_of(self.impact, self.urgency)
        self.overridden = False
        after = {"priority": self.priority, "impact": self.impact, "urgency": self.urgency}
        if after == before:
            return
        self.updated_at = at
        payload = {"from": before, "to": after, "reason": step.reason}
        self.event(Kind.PRIORITY_CHANGED, actor, at, payload)

    def ticket_row(self, reference: str) -> Ticket:
        plan = self.plan
        return Ticket(
            reference=reference,
            subject=plan.subject,
            description=plan.description,
            status=self.status,
            impact=self.impact,
            urgency=self.urgency,
            priority=self.priority,
            priority_overridden=self.overridden,
            team_id=self.team.pk,
            level_id=self.level.pk,
            assignee_id=self.assignee.pk if self.assignee else None,
            customer_id=plan.customer.pk if plan.customer else None,
            channel=plan.channel,
            created_by_id=self.created_by.pk if self.created_by else None,
            created_at=plan.created_at,
            updated_at=self.updated_at,
            resolved_at=self.resolved_at,
            closed_at=self.closed_at,
            reopen_count=self.reopen_count,
            resumed_at=self.resumed_at,
            escalation_cycle=self.cycle,
            cycle_started_at=self.cycle_started_at,
            last_progress_at=self.last_progress_at,
            first_responded_at=self.first_responded_at,
        )


TRANSITION_TARGETS = {
    "open": Status.OPEN,
    "pend": Status.PENDING,
    "resume": Status.OPEN,
    "resolve": Status.RESOLVED,
    "close": Status.CLOSED,
}


def replay(plan: Plan, org: Organisation, labels: dict[int, str]) -> _Replay:
    state = _Replay(plan, org, labels)
    state.run()
    return state


@transaction.atomic
def write_bulk(
    plans: Sequence[Plan], org: Organisation, labels: dict[int, str], batch_size: int
) -> tuple[int, int]:
    """Write `plans` (in creation order) with bulk inserts. Returns (messages, events)."""
    references: list[str] = []
    by_year = Counter(plan.created_at.year for plan in plans)
    for year in sorted(by_year):
        references.extend(services.allocate_references(year, by_year[year]))
    replays = [replay(plan, org, labels) for plan in plans]
    tickets = [state.ticket_row(ref) for state, ref in zip(replays, references, strict=True)]
    # Rows are built with ids (not objects): at this volume the ORM's per-object
    # bookkeeping for related objects is the main cost.
    Ticket.objects.bulk_create(tickets, batch_size=batch_size)
    messages: list[Message] = []
    firsts: list[int] = []  # where each ticket's messages start in `messages`
    for state, ticket in zip(replays, tickets, strict=True):
        firsts.append(len(messages))
        messages.extend(
            Message(
                ticket_id=ticket.pk,
                kind=kind,
                author_id=author_id,
                author_name=name,
                body=body,
                created_at=at,
            )
            for kind, author_id, name, body, at in state.messages
        )
    Message.objects.bulk_create(messages, batch_size=batch_size)
    events = [
        TicketEvent(
            ticket_id=ticket.pk,
            kind=kind,
            actor_id=actor_id,
            created_at=at,
            payload=payload,
            message_id=None if index is None else messages[first + index].pk,
        )
        for state, ticket, first in zip(replays, tickets, firsts, strict=True)
        for kind, actor_id, at, payload, index in state.events
    ]
    TicketEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(messages), len(events)
