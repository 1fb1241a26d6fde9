"""The SLA clock of each ticket: which policy governs it, its clock segments, its deadlines,
and the warnings and breaches recorded once each.

`on_ticket_change` runs inside every ticket service's transaction (registered in
`SlaConfig.ready`), so deadlines are always current when the transaction commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from helpdesk import configcache
from helpdesk.db import update_rows
from sla.clock import CalendarSpec, validate_spec
from sla.deadlines import Segment, TargetClock, instant_at, target_clock
from sla.models import BusinessCalendar, ClockSegment, SeverityMatrix, SLAPolicy, SLATarget
from tickets.models import Ticket, TicketEvent
from tickets.services import record_event

logger = logging.getLogger(__name__)

T = ClockSegment.Target
R = ClockSegment.Reason
RUNNING, PAUSED = ClockSegment.State.RUNNING, ClockSegment.State.PAUSED
# The targets in their order (`T.values` builds a new list at every read).
TARGETS = tuple(T.values)

# Ticket columns per target: (due, warning instant, warning recorded, breach recorded).
COLUMNS = {
    T.FIRST_RESPONSE: (
        "first_response_due_at",
        "first_response_warning_at",
        "first_response_warned_at",
        "first_response_breached_at",
    ),
    T.NEXT_UPDATE: (
        "next_update_due_at",
        "next_update_warning_at",
        "next_update_warned_at",
        "next_update_breached_at",
    ),
    T.RESOLUTION: (
        "resolution_due_at",
        "resolution_warning_at",
        "resolution_warned_at",
        "resolution_breached_at",
    ),
}

# The clock spec of each calendar, keyed by (pk, last change, day): compiling holidays costs
# milliseconds, and every ticket write needs it.
_spec_cache: dict[tuple[int, dt.datetime, dt.date], CalendarSpec] = {}


def calendar_spec(calendar: BusinessCalendar, today: dt.date | None = None) -> CalendarSpec:
    """The clock's value for `calendar`, cached until the calendar is saved again."""
    today = today or timezone.localdate()
    key = (calendar.pk, calendar.updated_at, today)
    spec = _spec_cache.get(key)
    if spec is None:
        if len(_spec_cache) > 256:
            _spec_cache.clear()
        spec = calendar.as_spec(today)
        problems = validate_spec(spec)
        if problems:
            # The admin refuses such calendars; one that slipped in (a script, an old row)
            # must not make every write on its tickets fail: count 24/7 and say so loudly.
            logger.error(
                "Business calendar %s is invalid (%s); its clocks run 24/7 until it is fixed.",
                calendar.pk,
                "; ".join(problems),
            )
            spec = CalendarSpec.always_open_spec(calendar.timezone)
        _spec_cache[key] = spec
    return spec


def _load_severity_matrix() -> dict[tuple[int, int], int] | None:
    matrix = SeverityMatrix.objects.filter(is_active=True).first()
    return dict(matrix.as_mapping()) if matrix is not None else None


def active_severity_matrix() -> dict[tuple[int, int], int] | None:
    """The grid of the active severity matrix, or None for the built-in default (cached per
    process until the SLA configuration changes: `helpdesk.configcache`)."""
    grid = configcache.cached("sla.severity_matrix", _load_severity_matrix)
    return dict(grid) if grid is not None else None


def policies_in_force(on: dt.date) -> list[SLAPolicy]:
    """The active policies valid on `on`, by order, with calendar and teams (one read, then
    cached per process until the SLA configuration changes: `helpdesk.configcache`). The
    instances are shared: callers read them and do not change them."""
    return list(
        configcache.cached(
            ("sla.policies", on),
            lambda: list(
                SLAPolicy.objects.in_force(on).select_related("calendar").prefetch_related("teams")
            ),
        )
    )


def _load_targets() -> dict[tuple[int, int], SLATarget]:
    return {(t.policy_id, t.priority): t for t in SLATarget.objects.all()}


def policy_target(policy: SLAPolicy, priority: int) -> SLATarget | None:
    """The target of `policy` for `priority` (every policy's targets are read at once, then
    cached per process until the SLA configuration changes)."""
    return configcache.cached("sla.targets", _load_targets).get((policy.pk, priority))


def policy_teams(policies: Iterable[SLAPolicy]) -> dict[int, set[int]]:
    """The team ids of each policy (prefetched), for `select_policy` over many tickets."""
    return {policy.pk: {team.pk for team in policy.teams.all()} for policy in policies}


def select_policy(
    ticket: Ticket,
    on: dt.date | None = None,
    policies: list[SLAPolicy] | None = None,
    teams: dict[int, set[int]] | None = None,
) -> SLAPolicy | None:
    """The first active policy, by order, whose conditions match `ticket` (`policies`: those
    in force, when the caller has read them already; `teams`: their `policy_teams`)."""
    on = on or timezone.localdate()
    customer = ticket.customer
    facts = {
        "tier": customer.tier if customer else "",
        "vip": bool(customer and customer.is_vip),
        "contract": customer.contract if customer else "",
        "team_id": ticket.team_id,
        "channel": ticket.channel,
        "priority": ticket.priority,
    }
    for policy in policies_in_force(on) if policies is None else policies:
        # Without `teams`, the policy reads its teams only when the rest matches.
        if policy.matches(**facts, team_ids=teams.get(policy.pk) if teams is not None else None):
            return policy
    return None


@dataclass(frozen=True)
class ClockView:
    """One target of a ticket's clock, for the ticket page."""

    target: str
    label: str
    target_duration: dt.timedelta
    clock: TargetClock
    met_at: dt.datetime | None
    breached_at: dt.datetime | None
    warned_at: dt.datetime | None
    segments: list[ClockSegment]
    live: bool

    @property
    def state(self) -> str:
        """met / breached / paused / warning / running / stopped, for the badge."""
        if self.met_at is not None and self.breached_at is None:
            return "met"
        if self.breached_at is not None:
            return "breached"
        if self.clock.paused:
            return "paused"
        if not self.live:
            return "stopped"
        if self.warned_at is not None:
            return "warning"
        return "running"


def _target_of(policy: SLAPolicy | None, priority: int) -> SLATarget | None:
    if policy is None:
        return None
    return next((t for t in policy.targets.all() if t.priority == priority), None)


def _duration(target: SLATarget, name: str) -> dt.timedelta | None:
    return getattr(target, name)


def _live_state(ticket: Ticket, name: str, target: SLATarget | None) -> str | None:
    """The state the target's clock should be in now: running, paused, or None (stopped)."""
    return _live_states(ticket, target)[name]


def _live_states(ticket: Ticket, target: SLATarget | None) -> dict[str, str | None]:
    """`_live_state` of every target, the ticket's status and policy read once."""
    status = ticket.status
    if target is None or status not in Ticket.ACTIVE_STATUSES:
        return dict.fromkeys(TARGETS)
    policy = ticket.sla_policy
    live = (
        PAUSED
        if status == Ticket.Status.PENDING and policy is not None and policy.pending_pauses
        else RUNNING
    )
    responded = ticket.first_responded_at is not None
    return {
        name: None
        if _duration(target, name) is None
        or (name == T.FIRST_RESPONSE and responded)
        or (name == T.NEXT_UPDATE and not responded)
        else live
        for name in TARGETS
    }


def _reason_for(name: str, changes: frozenset[str], state: str | None, ticket: Ticket) -> str:
    """Why a target's clock enters `state` now (recorded on the segment for the explanation)."""
    if "created" in changes:
        return R.CREATED
    if "reopen" in changes:
        return R.REOPENED
    if state == PAUSED:
        return R.WAITING
    if state is None:
        if ticket.status == Ticket.Status.RESOLVED:
            return R.RESOLVED
        if ticket.status == Ticket.Status.CLOSED:
            return R.CLOSED
        return R.RESPONDED
    if "reply" in changes:
        return R.RESPONDED
    return R.RESUMED


def plan_segments(
    ticket: Ticket,
    target: SLATarget | None,
    changes: frozenset[str],
    now: dt.datetime,
    segments: list[ClockSegment],
    *,
    closing_spec: CalendarSpec | None = None,
) -> tuple[list[ClockSegment], list[ClockSegment]]:
    """Close and open clock segments so each target's open segment matches the ticket,
    without writing: returns (segments closed now, new unsaved segments). Close before you
    insert (one open segment per target).

    `segments` are all of the ticket's segments; new ones are appended to it. A closing
    segment's business time is measured on `closing_spec` (the calendar it ran on, when the
    policy has just changed), else on the ticket's policy's calendar.
    """
    closed: list[ClockSegment] = []
    created: list[ClockSegment] = []
    if closing_spec is not None:
        spec: CalendarSpec | None = closing_spec
    else:
        spec = calendar_spec(ticket.sla_policy.calendar) if ticket.sla_policy else None
    open_segments = {s.target: s for s in segments if s.ended_at is None}
    states = _live_states(ticket, target)
    for name in TARGETS:
        desired = states[name]
        current = open_segments.get(name)
        restart = name == T.NEXT_UPDATE and "reply" in changes and current is not None
        if current is not None and current.state == desired and not restart:
            continue
        reason = R.UPDATE_SENT if restart else _reason_for(name, changes, desired, ticket)
        series = (
            current.series
            if current is not None
            else max((s.series for s in segments if s.target == name), default=0)
        )
        if restart:
            # A new status-update period: its warning and breach are recorded afresh.
            ticket.next_update_warned_at = ticket.next_update_breached_at = None
        if current is not None:
            current.ended_at = now
            current.end_reason = reason
            if spec is not None:
                seconds = int(spec_between(spec, current.started_at, now).total_seconds())
                current.business_seconds = seconds
                if current.state == PAUSED and name == T.RESOLUTION:
                    ticket.sla_paused_seconds += seconds
            closed.append(current)
        if desired is not None:
            segment = ClockSegment(
                ticket=ticket,
                target=name,
                state=desired,
                reason=reason,
                started_at=now,
                series=series + 1 if restart else series,
            )
            segments.append(segment)
            created.append(segment)
    if states[T.RESOLUTION] == PAUSED:
        ticket.sla_paused_at = ticket.sla_paused_at or now
    else:
        ticket.sla_paused_at = None
    return closed, created


def _segment_order(segment: ClockSegment) -> tuple[dt.datetime, bool, int]:
    """Segments by start; an unsaved one (just planned) after every saved one."""
    return (segment.started_at, segment.pk is None, segment.pk or 0)


def spec_between(spec: CalendarSpec, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    from sla.clock import business_time_between

    return business_time_between(spec, start, end)


def _segments(ticket: Ticket, name: str, series: int | None = None) -> list[ClockSegment]:
    rows = [s for s in ticket.clock_segments.all() if s.target == name]
    if series is None and rows:
        series = max(s.series for s in rows)
    return sorted((s for s in rows if s.series == series), key=_segment_order)


def clock_views(ticket: Ticket, now: dt.datetime | None = None) -> list[ClockView]:
    """Every target of the ticket's clock with its segments, for display and explanation."""
    now = now or timezone.now()
    policy = ticket.sla_policy
    target = _target_of(policy, ticket.priority)
    if policy is None or target is None:
        return []
    spec = calendar_spec(policy.calendar)
    views = []
    for name, label in T.choices:
        duration = _duration(target, name)
        if duration is None:
            continue
        segments = _segments(ticket, name)
        clock = target_clock(
            spec,
            [Segment(s.started_at, s.ended_at, s.state == RUNNING) for s in segments],
            duration,
            target.warning_offset(duration),
            now,
        )
        _due, _warn, warned, breached = COLUMNS[name]
        views.append(
            ClockView(
                target=name,
                label=str(label),
                target_duration=duration,
                clock=clock,
                met_at=ticket.first_responded_at
                if name == T.FIRST_RESPONSE
                else (ticket.resolved_at if name == T.RESOLUTION else None),
                breached_at=getattr(ticket, breached),
                warned_at=getattr(ticket, warned),
                segments=segments,
                live=_live_state(ticket, name, target) is not None,
            )
        )
    return views


def _refresh_deadlines(
    ticket: Ticket,
    target: SLATarget | None,
    ticket_segments: list[ClockSegment],
    spec: CalendarSpec | None,
) -> None:
    """Derive the due and warning columns of every live target from its segments, replayed
    on `spec` (the calendar of the ticket's policy)."""
    segments_by_target: dict[str, list[ClockSegment]] = {}
    if spec is not None:
        for name in TARGETS:
            rows = [s for s in ticket_segments if s.target == name]
            if rows:
                series = max(s.series for s in rows)
                segments_by_target[name] = sorted(
                    (s for s in rows if s.series == series), key=_segment_order
                )
    states = _live_states(ticket, target)
    for name, (due_col, warn_col, _warned, _breached) in COLUMNS.items():
        live = states[name]
        if spec is None or target is None or live is None:
            if target is None or name == T.NEXT_UPDATE:
                # No policy: no deadlines. A stopped status-update cadence has no deadline.
                setattr(ticket, due_col, None)
                setattr(ticket, warn_col, None)
            continue  # a met or stopped target keeps the deadline it had, for the record
        duration = _duration(target, name)
        clock = [
            Segment(s.started_at, s.ended_at, s.state == RUNNING)
            for s in segments_by_target.get(name, [])
        ]
        # `target_clock`'s due and warning instants, without the elapsed time it measures too.
        warning = target.warning_offset(duration)
        setattr(ticket, due_col, instant_at(spec, clock, duration))
        setattr(ticket, warn_col, instant_at(spec, clock, warning) if warning else None)


@dataclass(frozen=True)
class PendingInstant:
    """A warning or breach instant of a target that is still to be recorded."""

    target: str
    label: str  # "warning" or "breach"
    at: dt.datetime
    flag_column: str
    event_kind: str

    def payload(self, ticket: Ticket) -> dict[str, str | None]:
        """The timeline payload of its warning or breach event."""
        return {
            "target": self.target,
            "due_at": _iso(getattr(ticket, COLUMNS[self.target][0])),
            "at": _iso(self.at),
        }


def pending_sla_instants(ticket: Ticket) -> list[PendingInstant]:
    """The one answer to "which warnings and breaches may still be recorded?".

    An instant counts while its flag is empty and the target was not met before it: a met
    target keeps its deadline for the record, but nothing about it is due any more.
    """
    met = {T.FIRST_RESPONSE: ticket.first_responded_at, T.RESOLUTION: ticket.resolved_at}
    pending = []
    for name, (due_col, warn_col, warned_col, breached_col) in COLUMNS.items():
        for instant_col, flag_col, kind, label in (
            (warn_col, warned_col, TicketEvent.Kind.SLA_WARNING, "warning"),
            (due_col, breached_col, TicketEvent.Kind.SLA_BREACH, "breach"),
        ):
            instant = getattr(ticket, instant_col)
            if instant is None or getattr(ticket, flag_col) is not None:
                continue
            met_at = met.get(name)
            if met_at is not None and met_at <= instant:
                continue
            pending.append(PendingInstant(name, label, instant, flag_col, kind))
    return pending


def next_sla_check(ticket: Ticket) -> dt.datetime | None:
    """The earliest instant at which a warning or breach is still to record."""
    return min((p.at for p in pending_sla_instants(ticket)), default=None)


SLA_FIELDS = [
    "sla_policy",
    "sla_paused_at",
    "sla_paused_seconds",
    "next_update_warned_at",
    "next_update_breached_at",
    *(col for cols in COLUMNS.values() for col in cols[:2]),
]


# Changes after which the governing policy is chosen again.
POLICY_CHANGES = frozenset({"created", "priority", "team", "recompute"})


def clock_after_change(
    ticket: Ticket,
    changes: frozenset[str],
    now: dt.datetime,
    *,
    segments: list[ClockSegment],
    policies: list[SLAPolicy] | None = None,
    targets: dict[tuple[int, int], SLATarget] | None = None,
    teams: dict[int, set[int]] | None = None,
) -> tuple[list[ClockSegment], list[ClockSegment]]:
    """The SLA side of a change, in memory: the policy chosen again when it may differ, the
    segments planned (see `plan_segments`, whose result this returns), the deadlines derived.
    `policies` (in force today), `targets` (by policy and priority) and `teams` (their
    `policy_teams`) spare the reads when a caller has them for many tickets."""
    today = timezone.localdate()
    # The segments that close now ran on the calendar of the policy that governed them.
    closing_policy = ticket.sla_policy
    closing = calendar_spec(closing_policy.calendar, today) if closing_policy else None
    if changes & POLICY_CHANGES:
        ticket.sla_policy = select_policy(
            ticket, on=timezone.localdate(now), policies=policies, teams=teams
        )
    policy = ticket.sla_policy
    target = None
    if policy is not None:
        if targets is not None:
            target = targets.get((policy.pk, ticket.priority))
        else:
            target = policy_target(policy, ticket.priority)
    planned = plan_segments(ticket, target, changes, now, segments, closing_spec=closing)
    spec = calendar_spec(policy.calendar, today) if policy is not None else None
    _refresh_deadlines(ticket, target, segments, spec)
    return planned


def on_ticket_change(
    ticket: Ticket, changes: frozenset[str], now: dt.datetime, actor: AbstractBaseUser | None
) -> None:
    """Keep the ticket's SLA clock current after a ticket service changed it (same transaction).

    The policy is chosen again when something it selects by changed (creation, priority,
    team, or an explicit recomputation); segments open and close with the status; deadlines
    are derived from the segments. Recording warnings and breaches, and `next_check_at`, are
    the escalation evaluation's part, which runs right after this.
    """
    # A ticket being opened has no segments yet: spare the read.
    segments = [] if "created" in changes else list(ClockSegment.objects.filter(ticket=ticket))
    closed, created = clock_after_change(ticket, changes, now, segments=segments)
    for segment in closed:
        segment.save(update_fields=["ended_at", "end_reason", "business_seconds"])
    ClockSegment.objects.bulk_create(created)
    Ticket.objects.filter(pk=ticket.pk).update(
        **{
            field if field != "sla_policy" else "sla_policy_id": _value(ticket, field)
            for field in SLA_FIELDS
        }
    )
    record_due_sla_events(ticket, now)


def on_tickets_change(
    tickets: Sequence[Ticket],
    changes: frozenset[str],
    now: dt.datetime,
    actor: AbstractBaseUser | None,
) -> None:
    """`on_ticket_change` for the same change of many tickets (registered as its set-based
    version): the same segments and columns, in a fixed number of statements however many
    tickets. Their segments are read in one query (none for tickets being opened), each clock
    is planned in memory with the configuration cached per process (`clock_after_change`),
    the closed segments are written in one statement, the new ones in one, the SLA columns
    of every ticket in one. A warning or breach due already (only a target shorter than the
    time it took to open the ticket) is recorded ticket by ticket."""
    if not tickets:
        return
    segments: dict[int, list[ClockSegment]] = {ticket.pk: [] for ticket in tickets}
    if "created" not in changes:
        for segment in ClockSegment.objects.filter(ticket__in=tickets).order_by("pk"):
            segments[segment.ticket_id].append(segment)
    closed: list[ClockSegment] = []
    created: list[ClockSegment] = []
    for ticket in tickets:
        ended, started = clock_after_change(ticket, changes, now, segments=segments[ticket.pk])
        closed += ended
        created += started
    update_rows(ClockSegment, closed, ["ended_at", "end_reason", "business_seconds"])
    if created:
        ClockSegment.objects.bulk_create(created)
    update_rows(Ticket, tickets, SLA_FIELDS)
    for ticket in tickets:
        if any(pending.at <= now for pending in pending_sla_instants(ticket)):
            record_due_sla_events(ticket, now)


def _value(ticket: Ticket, field: str) -> object:
    return ticket.sla_policy_id if field == "sla_policy" else getattr(ticket, field)


def record_due_sla_events(ticket: Ticket, now: dt.datetime) -> list[str]:
    """Record each warning and breach of a live target whose instant has come, once.

    The claim is a conditional UPDATE (only while the column is still empty), so two sweeps
    or workers at once record it once: whoever updates the row writes the event.
    Returns the kinds recorded, e.g. ["first_response:warning"].
    """
    recorded = []
    for pending in pending_sla_instants(ticket):
        if pending.at > now:
            continue
        flag = pending.flag_column
        claimed = Ticket.objects.filter(Q(pk=ticket.pk), Q(**{f"{flag}__isnull": True})).update(
            **{flag: now}
        )
        setattr(ticket, flag, now)
        if claimed:
            record_event(
                ticket, pending.event_kind, actor=None, now=now, payload=pending.payload(ticket)
            )
            recorded.append(f"{pending.target}:{pending.label}")
    return recorded


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def deadlines_of(ticket: Ticket) -> tuple[int | None, dict[str, dt.datetime | None]]:
    """The ticket's policy and due instants, to tell afterwards what a recomputation moved."""
    return ticket.sla_policy_id, {cols[0]: getattr(ticket, cols[0]) for cols in COLUMNS.values()}


def recomputed_payload(
    ticket: Ticket, before: tuple[int | None, dict[str, dt.datetime | None]]
) -> dict[str, object] | None:
    """The SLA_RECOMPUTED timeline payload when the policy or a deadline moved, else None (a
    recomputation that changes nothing leaves no trace). Both recomputation paths use it."""
    after = {col: getattr(ticket, col) for col in before[1]}
    if not moved(before, ticket.sla_policy_id, after):
        return None
    return moved_payload(before, ticket.sla_policy.name if ticket.sla_policy else None, after)


def moved(
    before: tuple[int | None, dict[str, dt.datetime | None]],
    policy_id: int | None,
    after: dict[str, dt.datetime | None],
) -> bool:
    """Whether a recomputation changed the policy or a due instant."""
    return before != (policy_id, after)


def moved_payload(
    before: tuple[int | None, dict[str, dt.datetime | None]],
    policy_name: str | None,
    after: dict[str, dt.datetime | None],
) -> dict[str, object]:
    """The SLA_RECOMPUTED payload: the policy now, and each due instant that moved."""
    due_before = before[1]
    return {
        "policy": policy_name,
        "changed": {
            col: [_iso(due_before[col]), _iso(after[col])]
            for col in due_before
            if due_before[col] != after[col]
        },
    }


@transaction.atomic
def sla_recompute(*, ticket: Ticket, now: dt.datetime | None = None) -> Ticket:
    """Choose the policy again and re-derive the deadlines from the recorded segments.

    For a changed policy, calendar or holiday: replaying the same segments on the new
    calendar gives the new deadlines deterministically. Runs the ticket change hooks (so the
    escalation engine looks again) and records a timeline entry when the policy or a deadline
    moved. Many tickets at once: `sla_recompute_many`.
    """
    from tickets.services import run_change_hooks

    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    before = deadlines_of(ticket)
    run_change_hooks(ticket, {"recompute"}, now, None)
    payload = recomputed_payload(ticket, before)
    if payload is not None:
        record_event(ticket, TicketEvent.Kind.SLA_RECOMPUTED, actor=None, now=now, payload=payload)
    return ticket


def tickets_affected_by(
    *, policy: SLAPolicy | None = None, calendar: BusinessCalendar | None = None
) -> QuerySet[Ticket]:
    """Active tickets whose clock depends on `policy` or `calendar`, or that have no policy."""
    qs = Ticket.objects.active()
    if policy is not None:
        return qs.filter(Q(sla_policy=policy) | Q(sla_policy__isnull=True))
    if calendar is not None:
        return qs.filter(sla_policy__calendar=calendar)
    return qs


# Recomputes many tickets in batches (`escalation.recompute` registers it: the escalation
# evaluation that follows a recomputation lives above this app). Without one, each ticket
# goes through `sla_recompute` alone.
BatchRecompute = Callable[..., int]
_batch_recompute: list[BatchRecompute] = []


def register_batch_recompute(runner: BatchRecompute) -> None:
    if runner not in _batch_recompute:
        _batch_recompute.append(runner)


def sla_recompute_many(
    ticket_ids: Iterable[int],
    now: dt.datetime | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute these tickets; returns how many were recomputed. In committed batches
    through the registered set-based lane (the same rows as `sla_recompute` one by one), or
    each ticket in its own transaction. `progress(done, total)` is told after each batch."""
    ids = list(ticket_ids)
    if _batch_recompute:
        return _batch_recompute[-1](ids, now=now, progress=progress)
    return sla_recompute_many_alone(ids, now=now, progress=progress)


def sla_recompute_many_alone(
    ticket_ids: Sequence[int],
    now: dt.datetime | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Each ticket through `sla_recompute`, in its own transaction."""
    ids = list(ticket_ids)
    count = 0
    for done, pk in enumerate(ids, start=1):
        try:
            sla_recompute(ticket=Ticket(pk=pk), now=now)
            count += 1
        except Ticket.DoesNotExist:
            pass
        if progress is not None:
            progress(done, len(ids))
    return count
