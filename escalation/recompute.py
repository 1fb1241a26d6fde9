"""Recomputing SLA clocks at the speed of the sweep: many tickets, in committed batches.

After a policy, target, calendar or holiday changes, every open ticket it governs gets its
deadlines derived again. One at a time (`sla.services.sla_recompute`) that is a lock, a
dozen reads and writes and the escalation evaluation per ticket. Here a batch is locked and
read with a fixed number of queries, each ticket's clock replayed in memory with the same
function (`sla.services.clock_after_change`), the soft signals assessed again with the same
function (`evaluation.set_risk`), the changed clock segments written; then the sweep's
set-based lane (`escalation/bulk.py`) evaluates the batch — warnings and breaches now due,
rules, `next_check_at` — and writes each ticket row once with the recomputed columns and its
own (it is given the rows as read and the segments as written). Whatever shape it does not
take gets its recomputed columns written and is evaluated one by one, all in the batch's
transaction. So a sweep never sees a ticket half recomputed, and an
interrupted run loses at most its current batch (run it again: a recomputation that changes
nothing writes nothing). `tests/escalation/test_recompute_lanes.py` compares the rows both
paths write.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import timezone, translation

from escalation import bulk as bulk_lane
from escalation import evaluation
from escalation.facts import RuleSet
from escalation.reports import SweepReport
from helpdesk.db import insert_rows, update_rows
from sla import services as sla
from sla.models import ClockSegment, SLAPolicy, SLATarget
from tickets import services as ticket_services
from tickets.models import Message, Ticket, TicketEvent

logger = logging.getLogger(__name__)

RECOMPUTE = frozenset({"recompute"})
RISK_FIELDS = ["risk_score", "risk_reasons", "risk_changed_at"]


def recompute_many(
    ticket_ids: Sequence[int],
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute the SLA clocks of these tickets in committed batches of `batch` (in the
    order given); returns how many were recomputed. `progress(done, total)` after each."""
    now = now or timezone.now()
    batch = batch or settings.SLA_RECOMPUTE_BATCH
    ids = list(ticket_ids)
    rules: RuleSet | None = None
    count = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        rules = rules or RuleSet.load()
        if bulk_lane.available():
            count += recompute_batch(chunk, now=now, rules=rules)
        else:  # listeners muted or unknown hooks: only the services know every effect
            count += sla.sla_recompute_many_alone(chunk, now=now)
        if progress is not None:
            progress(min(start + batch, len(ids)), len(ids))
    return count


@transaction.atomic
def recompute_batch(ticket_ids: Sequence[int], *, now: dt.datetime, rules: RuleSet) -> int:
    """One batch: locked, recomputed, evaluated and written in one transaction. The tickets
    are written once, by the lane, with what the recomputation and the evaluation changed."""
    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .select_related("customer", "assignee")
        .filter(pk__in=ticket_ids)
        .order_by("pk")
    )
    active = [t for t in tickets if t.is_active]
    inactive = [t for t in tickets if not t.is_active]
    with translation.override(settings.LANGUAGE_CODE):
        before = {t.pk: sla.deadlines_of(t) for t in active}
        handed_back: list[int] = []
        if active:
            as_read = {t.pk: bulk_lane.ticket_values(t) for t in active}
            segments = _recompute_clocks(active, now)
            _refresh_risks(active, now)
            recomputed = {t.pk: _recomputed_values(t) for t in active}
            handed_back = bulk_lane.run_batch(
                rules, active, now, SweepReport(), as_read=as_read, segments=segments
            )
            _write_recomputed([t for t in active if t.pk in set(handed_back)], recomputed)
        written = set(before) - set(handed_back)
        # The lane's tickets are in memory as it wrote them; the others are read back.
        after = {t.pk: _deadlines_after(t) for t in active if t.pk in written}
        # What the set-based lane does not take, it has left untouched: the services do it,
        # inside this transaction (the rows are locked already).
        for pk in [*handed_back, *(t.pk for t in inactive)]:
            with transaction.atomic():
                ticket = (
                    Ticket.objects.select_related("team", "level", "customer", "sla_policy")
                    .filter(pk=pk)
                    .first()
                )
                if ticket is None:
                    continue
                if not ticket.is_active:
                    # An inactive ticket's clock is stopped: the one-by-one path records it.
                    sla.sla_recompute(ticket=ticket, now=now)
                else:
                    evaluation.evaluate_ticket(ticket, now=now, rules=rules)
        _record_recomputations(before, after, now)
    return len(tickets)


# The columns a recomputation sets in memory (the lane writes them with its own).
RECOMPUTED_FIELDS = [*sla.SLA_FIELDS, *RISK_FIELDS]
_ATTNAMES = [Ticket._meta.get_field(name).attname for name in RECOMPUTED_FIELDS]


def _recomputed_values(ticket: Ticket) -> tuple[object, ...]:
    return tuple(getattr(ticket, attname) for attname in _ATTNAMES)


def _write_recomputed(tickets: list[Ticket], recomputed: dict[int, tuple[object, ...]]) -> None:
    """The recomputed columns of tickets the lane handed back (it wrote nothing of them, and
    may have changed them in memory): the per-ticket lane reads them from the table."""
    for ticket in tickets:
        for attname, value in zip(_ATTNAMES, recomputed[ticket.pk], strict=True):
            setattr(ticket, attname, value)
    update_rows(Ticket, tickets, RECOMPUTED_FIELDS)


Deadlines = tuple[int | None, str | None, dict[str, dt.datetime | None]]


def _deadlines_after(ticket: Ticket) -> Deadlines:
    policy = ticket.sla_policy if ticket.sla_policy_id is not None else None
    policy_id, due = sla.deadlines_of(ticket)
    return policy_id, policy.name if policy is not None else None, due


def _recompute_clocks(tickets: list[Ticket], now: dt.datetime) -> dict[int, list[ClockSegment]]:
    """`sla.services.on_ticket_change` for "recompute", for a batch: the clock replayed in
    memory and the segments written together; the tickets' columns are set in memory (the
    lane writes them). The warnings and breaches that come due are the evaluation's (bulk
    lane) part. Returns every ticket's segments as written, in the order of their ids."""
    policies = sla.policies_in_force(timezone.localdate(now))
    targets = {
        (target.policy_id, target.priority): target
        for target in SLATarget.objects.filter(policy__in=policies)
    }
    teams = sla.policy_teams(policies)
    # Each ticket's policy now, with its calendar: those in force read once (cached), any
    # other (no longer in force: its running segments close on its calendar) in one query.
    by_id = {policy.pk: policy for policy in policies}
    others = {t.sla_policy_id for t in tickets if t.sla_policy_id is not None} - set(by_id)
    if others:
        by_id.update(SLAPolicy.objects.select_related("calendar").in_bulk(others))
    segments: dict[int, list[ClockSegment]] = defaultdict(list)
    for segment in ClockSegment.objects.filter(ticket__in=tickets).order_by("pk"):
        segments[segment.ticket_id].append(segment)
    closed: list[ClockSegment] = []
    created: list[ClockSegment] = []
    for ticket in tickets:
        if ticket.sla_policy_id is not None:
            ticket.sla_policy = by_id[ticket.sla_policy_id]
        ended, started = sla.clock_after_change(
            ticket,
            RECOMPUTE,
            now,
            segments=segments[ticket.pk],
            policies=policies,
            targets=targets,
            teams=teams,
        )
        closed += ended
        created += started
    update_rows(ClockSegment, closed, ["ended_at", "end_reason", "business_seconds"])
    if created:
        ClockSegment.objects.bulk_create(created)
    return segments


def _record_recomputations(
    before: dict[int, tuple[int | None, dict[str, dt.datetime | None]]],
    after: dict[int, Deadlines],
    now: dt.datetime,
) -> None:
    """The timeline entry of each ticket whose policy or deadlines moved, as `sla_recompute`
    records it: after the evaluation (a rule that raised the priority has moved them too).
    `after`: the tickets known in memory; the others are read back."""
    columns = list(next(iter(before.values()))[1]) if before else []
    missing = [pk for pk in before if pk not in after]
    if missing:
        # As plain values: a whole Ticket per row cost a fifth of the run (bench/recompute.py).
        for pk, policy_id, policy_name, *due in Ticket.objects.filter(pk__in=missing).values_list(
            "pk", "sla_policy_id", "sla_policy__name", *columns
        ):
            after[pk] = (policy_id, policy_name, dict(zip(columns, due, strict=True)))
    events = []
    for pk in sorted(after):
        policy_id, policy_name, due = after[pk]
        if sla.moved(before[pk], policy_id, due):
            events.append(
                TicketEvent(
                    ticket_id=pk,
                    kind=TicketEvent.Kind.SLA_RECOMPUTED,
                    payload=sla.moved_payload(before[pk], policy_name, due),
                    created_at=now,
                )
            )
    # Written with COPY (`insert_rows`): `bulk_create` prepares every field of every entry
    # through the field's methods, which costs more than the rows. Then what `record_event`
    # does after writing each: its listeners (the webhooks and notifications an entry calls
    # for; none for a recomputation today).
    for event in insert_rows(TicketEvent, events):
        for listener in ticket_services.event_listeners():
            listener(event)


def _refresh_risks(tickets: list[Ticket], now: dt.datetime) -> None:
    """`evaluation.refresh_risk` for a batch: the latest messages of every ticket in one read,
    the low ratings and recurrences in two more."""
    latest = Window(
        RowNumber(),
        partition_by=[F("ticket_id")],
        order_by=[F("created_at").desc(), F("pk").desc()],
    )
    recent: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for ticket_id, kind, body, _row in (
        Message.objects.filter(
            ticket__in=tickets, kind__in=[Message.Kind.REPLY, Message.Kind.CUSTOMER]
        )
        .annotate(row=latest)
        .filter(row__lte=evaluation.RISK_MESSAGES)
        .order_by("ticket_id", "-created_at", "-pk")
        .values_list("ticket_id", "kind", "body", "row")
    ):
        recent[ticket_id].append((kind, body))
    counts = evaluation.risk_counts(tickets)
    for ticket in tickets:  # set in memory: the lane writes them with the rest
        evaluation.set_risk(ticket, recent[ticket.pk], now, counts[ticket.pk])
