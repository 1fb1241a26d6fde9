"""Playing the demo history through the real services and the escalation engine, in time order.

Every planned ticket is a list of human steps with instants (`demo.plan`). The player merges
them into one timeline and, before each step at instant t, runs the sweep
(`escalation.sweep.sweep(now=…)`, the bulk lane) at every instant where something fell due,
on a one-minute grid like the beat, jumping straight to the next `min(next_check_at)` so empty
minutes cost nothing. Then the step goes through the services with `now=t`. Escalations the
engine or an agent raises are acknowledged by the receiving team as the story says (mostly
within their deadline, now and then a little late). The play ends at the real "now" of the
seeding; what was written for the past (in-app notifications older than a few hours, emails
and webhooks) is then marked as history: read, and sent when written, so the worker sends
nothing old and leads open with a handful unread.

Everything runs in one transaction: a seeding that fails leaves nothing behind, and SQLite
commits once instead of after every step.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max, Min
from django_fsm import TransitionNotAllowed

from demo import story
from demo.bulk import write_bulk
from demo.organisation import Organisation, agent, taker
from demo.plan import Plan, Step, draw_created, plan_ticket, rng_for
from escalation import services as escalation_services
from escalation.handoff import Package
from escalation.models import Escalation
from escalation.sweep import sweep
from lessons import services as lessons_services
from notifications import outbox
from notifications.models import Delivery, Notification
from tickets import services
from tickets.models import Ticket

SERVICE_ERRORS = (TransitionNotAllowed, PermissionDenied, ValidationError)
MINUTE = timedelta(minutes=1)


@dataclass
class TicketRun:
    requested: int
    existing: int
    via_services: int = 0
    in_bulk: int = 0
    skipped_steps: int = 0
    skipped_kinds: Counter[str] = field(default_factory=Counter)  # refused steps by kind
    services_seconds: float = 0.0
    bulk_seconds: float = 0.0
    sweeps: int = 0  # sweeps the replay ran (one per due minute)
    rules_fired: int = 0  # rules the replay's sweeps fired (steps fire others through hooks)
    acknowledged: int = 0
    deescalated: int = 0
    notifications_read: int = 0  # in-app notifications of the past marked read
    deliveries_sent: int = 0  # emails and webhooks of the past marked sent without sending


def _kind_of(action: Any) -> str:
    """What a scheduled action is, for the count of refused steps."""
    step = next((arg for arg in action.args if isinstance(arg, Step)), None)
    return step.kind if step is not None else action.func.__name__


def _ceil_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + MINUTE


class Player:
    """The timeline of one seeding: human steps, acknowledgements and the sweeps between."""

    def __init__(
        self,
        org: Organisation,
        *,
        seed: int,
        end: datetime,
        run: TicketRun,
        progress: Callable[[], None] | None = None,
    ) -> None:
        self.org = org
        self.seed = seed
        self.end = end
        self.run = run
        self.progress = progress
        self.queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self.order = itertools.count()
        self.tickets: dict[int, int] = {}  # plan index -> ticket pk
        self.swept_at: datetime | None = None
        self.seen_escalation = Escalation.objects.aggregate(last=Max("pk"))["last"] or 0
        self.first_notification = Notification.objects.aggregate(last=Max("pk"))["last"] or 0
        self.first_delivery = Delivery.objects.aggregate(last=Max("pk"))["last"] or 0

    # --- The timeline ---------------------------------------------------------------------

    def schedule(self, at: datetime, action: Callable[[datetime], None]) -> None:
        heapq.heappush(self.queue, (at, next(self.order), action))

    def add(self, plan: Plan) -> None:
        self.schedule(plan.created_at, partial(self.create, plan))
        for step in plan.steps:
            assert step.at is not None
            self.schedule(step.at, partial(self.step, plan, step))

    def play(self) -> None:
        """Every scheduled action and every due sweep up to the end, in time order (a sweep
        due at the instant of an action runs first, as the beat's would have); then the past
        is marked as history."""
        while True:
            action_at = self.queue[0][0] if self.queue else None
            sweep_at = self.next_sweep()
            beat_first = action_at is None or (sweep_at is not None and sweep_at <= action_at)
            if sweep_at is not None and sweep_at <= self.end and beat_first:
                self.run_sweep(sweep_at)
                continue
            if action_at is None or action_at > self.end:
                break  # what is left has not happened yet at the seeding's "now"
            _at, _order, action = heapq.heappop(self.queue)
            try:
                with transaction.atomic():  # a refused step leaves nothing behind
                    action(action_at)
            except SERVICE_ERRORS:
                self.run.skipped_steps += 1
                self.run.skipped_kinds[_kind_of(action)] += 1
            self.watch_escalations()
        self.settle_history()

    def next_sweep(self) -> datetime | None:
        """The next minute of the beat's grid at which an active ticket falls due."""
        due = Ticket.objects.active().filter(next_check_at__isnull=False)
        if self.swept_at is not None:
            # A ticket the last sweep left due (it failed) waits for the next due minute.
            due = due.filter(next_check_at__gt=self.swept_at)
        first = due.aggregate(first=Min("next_check_at"))["first"]
        return None if first is None else _ceil_minute(first)

    def run_sweep(self, at: datetime) -> None:
        report = sweep(now=at)
        self.swept_at = at
        self.run.sweeps += 1
        self.run.rules_fired += report.fired
        self.watch_escalations()

    # --- Human steps ------------------------------------------------------------------------

    def create(self, plan: Plan, at: datetime) -> None:
        rng = plan.rng
        creator = taker(self.org, rng, plan.team.pk) if plan.logged_by_agent else None
        ticket = services.ticket_create(
            actor=creator,
            data=services.NewTicket(
                subject=plan.subject,
                description=plan.description,
                team=plan.team,
                customer=plan.customer,
                impact=plan.impact,
                urgency=plan.urgency,
                channel=plan.channel,
            ),
            now=at,
        )
        self.tickets[plan.index] = ticket.pk
        self.run.via_services += 1
        if self.progress is not None:
            self.progress()

    def step(self, plan: Plan, step: Step, at: datetime) -> None:
        ticket = Ticket.objects.select_related("team").get(pk=self.tickets[plan.index])
        org, rng = self.org, plan.rng
        if step.kind == "customer":
            services.ticket_add_customer_message(
                ticket=ticket, body=step.body, author_name=plan.author_name, now=at
            )
            return
        if step.kind == "take":
            person = taker(org, rng, ticket.team_id)
            services.ticket_assign(ticket=ticket, actor=person, assignee=person, now=at)
            return
        if step.kind == "deescalate":
            self.deescalate(ticket, step, at)
            return
        actor = agent(org, rng, ticket.team_id, ticket.assignee_id)
        if step.kind == "hand_over":
            services.ticket_assign(
                ticket=ticket,
                actor=actor,
                assignee=None,
                team=step.team,
                reason=step.reason,
                now=at,
            )
        elif step.kind == "escalate":
            escalation_services.escalation_raise(
                ticket=ticket,
                actor=actor,
                kind=Escalation.Kind.HIERARCHICAL,
                package=Package(summary=plan.subject, actions_taken=step.body),
                reason=step.reason,
                now=at,
            )
        elif step.kind == "transition":
            if step.name == "close":  # documented from its timeline when it must be
                lessons_services.report_from_draft(ticket=ticket, actor=actor, now=at)
            services.ticket_transition(ticket=ticket, actor=actor, name=step.name, now=at)
        elif step.kind == "reply":
            services.ticket_reply(ticket=ticket, actor=actor, body=step.body, now=at)
        elif step.kind == "note":
            services.ticket_add_note(ticket=ticket, actor=actor, body=step.body, now=at)
        elif step.kind == "priority":
            services.ticket_change_priority(
                ticket=ticket,
                actor=actor,
                reason=step.reason,
                impact=step.impact,
                urgency=step.urgency,
                now=at,
            )
        else:  # pragma: no cover - a planning bug, not a user's mistake
            raise ValueError(f"Unknown step {step.kind!r}")

    def deescalate(self, ticket: Ticket, step: Step, at: datetime) -> None:
        """The lead of the ticket's team hands it back down: to the team the story says when
        that is one of the targets, else to the first target there is."""
        lead = next(
            (p for p in self.org.people(ticket.team_id) if p.pk == ticket.team.lead_id), None
        )
        targets = escalation_services.deescalation_targets(ticket)
        if lead is None or not targets:
            raise PermissionDenied("nobody to hand the ticket back to")
        target = next((t for t in targets if step.team and t.pk == step.team.pk), targets[0])
        escalation_services.escalation_deescalate(
            ticket=ticket, actor=lead, to_team=target, reason=step.reason, now=at
        )
        self.run.deescalated += 1

    # --- Acknowledgements ----------------------------------------------------------------

    def watch_escalations(self) -> None:
        """Schedule the acknowledgement of every escalation raised since the last look."""
        raised = Escalation.objects.filter(pk__gt=self.seen_escalation).order_by("pk")
        for escalation in raised.only("pk", "ticket_id", "status", "raised_at", "ack_due_at"):
            self.seen_escalation = escalation.pk
            if escalation.status == Escalation.Status.RAISED:
                self.schedule(
                    self.acknowledge_at(escalation), partial(self.acknowledge, escalation.pk)
                )

    def acknowledge_at(self, escalation: Escalation) -> datetime:
        """When the receiving team acknowledges (`scenarios.json` "acknowledgement")."""
        shape = story.scenarios()["acknowledgement"]
        rng = random.Random(
            f"helpdesk-demo:{self.seed}:ack:{escalation.ticket_id}:{escalation.raised_at}"
        )
        raised, due = escalation.raised_at, escalation.ack_due_at
        if due is None:
            return raised + MINUTE * rng.uniform(*shape["without_deadline_minutes"])
        if rng.random() < shape["late_chance"]:
            late = due + MINUTE * rng.uniform(*shape["late_minutes"])
            if due <= self.end < late:
                # Late, but not left waiting past its deadline at the seeding's "now".
                return max(raised, self.end - MINUTE * rng.uniform(1, 10))
            return late
        in_time = (due - raised) * rng.uniform(*shape["in_time_share"])
        return raised + min(in_time, MINUTE * shape["at_most_minutes"])

    def acknowledge(self, escalation_pk: int, at: datetime) -> None:
        escalation = Escalation.objects.select_related("to_team", "ticket").get(pk=escalation_pk)
        if escalation.status != Escalation.Status.RAISED:
            return  # taken further, closed or handed back before anyone got to it
        rng = random.Random(f"helpdesk-demo:{self.seed}:acker:{escalation_pk}")
        people = self.org.people(escalation.to_team_id)
        escalation_services.escalation_acknowledge(
            escalation=escalation, actor=rng.choice(people), now=at
        )
        self.run.acknowledged += 1

    # --- The past as history ----------------------------------------------------------------

    def settle_history(self) -> None:
        """In-app notifications older than `unread_hours` are read (twenty minutes after they
        came); every email and webhook the replay wrote counts as sent when it was written."""
        hours = story.scenarios()["history"]["unread_hours"]
        self.run.notifications_read = Notification.objects.filter(
            pk__gt=self.first_notification,
            read_at__isnull=True,
            created_at__lt=self.end - timedelta(hours=hours),
        ).update(read_at=F("created_at") + timedelta(minutes=20))
        self.run.deliveries_sent = Delivery.objects.filter(
            pk__gt=self.first_delivery,
            status__in=[Delivery.Status.PENDING, Delivery.Status.HELD],
        ).update(
            status=Delivery.Status.SENT,
            sent_at=F("created_at"),
            next_attempt_at=F("created_at"),
        )


def service_positions(count: int, quota: int) -> set[int]:
    """`quota` positions spread evenly over `count` (the tickets that go through services)."""
    quota = max(0, min(quota, count))
    return {p for p in range(count) if (p * quota) // count != ((p + 1) * quota) // count}


def seed_tickets(
    org: Organisation,
    *,
    total: int,
    seed: int,
    days: int,
    anchor: datetime,
    via_services: int,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> TicketRun:
    """Top the ticket table up to `total` tickets; never delete or change existing ones.

    The new tickets are planned by index (existing count .. total - 1). Up to `via_services`
    of them (fewer when tickets exist already), spread evenly over the period, are played
    through the services and the engine in time order (`Player`); the rest are written in
    bulk batches of `batch_size` without hooks (`demo.bulk`).
    """
    existing = Ticket.objects.count()
    run = TicketRun(requested=total, existing=existing)
    indices: Iterable[int] = range(existing, max(total, existing))
    order = sorted(indices, key=lambda i: (draw_created(rng_for(seed, i), i, anchor, days)[0], i))
    if not order:
        return run
    by_service = service_positions(len(order), max(0, via_services - existing))
    people = [org.admin, *(user for team in org.members.values() for user in team)]
    labels = {user.pk: user.get_full_name() or user.get_username() for user in people}

    def report() -> None:
        if progress is not None:
            progress(run.via_services + run.in_bulk, len(order))

    # The history's deliveries are settled as sent before commit: no send task for them.
    with transaction.atomic(), outbox.queueing_held():
        player = Player(org, seed=seed, end=anchor, run=run, progress=report)
        in_bulk: list[Plan] = []
        for position, index in enumerate(order):
            plan = plan_ticket(index, seed=seed, anchor=anchor, days=days, org=org)
            (player.add if position in by_service else in_bulk.append)(plan)
        started = time.monotonic()
        player.play()
        run.services_seconds = time.monotonic() - started
        started = time.monotonic()
        for first in range(0, len(in_bulk), batch_size):
            batch = in_bulk[first : first + batch_size]
            write_bulk(batch, org, labels, batch_size)
            run.in_bulk += len(batch)
            report()
        run.bulk_seconds = time.monotonic() - started
    return run


def describe(run: TicketRun) -> dict[str, Any]:
    """The replay's figures, for the command's summary."""
    return {
        "sweeps": run.sweeps,
        "rules fired": run.rules_fired,
        "acknowledged": run.acknowledged,
        "de-escalated": run.deescalated,
        "notifications read": run.notifications_read,
        "deliveries sent": run.deliveries_sent,
    }
