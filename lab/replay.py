"""The backtest's replay: one ticket's recorded history through the real engine and clock,
under one configuration. Pure: no database, no Django — same history and configuration, same
course.

A history (`History`) is what people did to the ticket: when it was created (team, priority,
customer, channel) and its human steps in time order — replies, notes and status changes
(progress), pauses while pending and resumes, hand-offs by people to another team, priority
changes, and its end (resolved or closed). The automatic escalations are not in it: they are
what the replay recomputes.

`replay` walks the ticket's life like the sweep does: it evaluates the engine
(`escalation.engine.evaluate`) at creation and then only at the instants where something can
change — the engine's `next_check_at` (on the beat's one-minute grid), an SLA warning or
deadline instant, the next human step — never minute by minute. A decision to escalate moves
the ticket one step up the configuration's chain (or to the functional team) and starts a
new cycle, as the escalation service does; SLA instants come from `sla.deadlines` over the
ticket's clock segments (paused while pending when the policy says so) on the policy's
calendar. The policy is chosen again when the priority or the team changes, as the SLA
clock's change hook does (`reselect`).

The history's other human steps are replayed as they were recorded, under both
configurations alike: customer messages (they feed the risk score, `escalation.risk.assess`,
reassessed where the live system does: at creation, on a reply, a customer message and a
hand-off by a person), escalations raised by people (their acknowledgement deadline is the
tier target of the level reached, `Config.ack`), acknowledgements (of whatever escalation is
then waiting), de-escalations by leads (severity rules stay quiet in the cycle they start),
and links to major incidents (the engine holds a linked ticket's clock until the link ends).
The "next update" target runs from each public reply, as the SLA clock does.

Reopens are replayed as the ticket service makes them: the clocks stop at the resolution and
run again from the reopen (the resolution target keeps the business time it had), a new cycle
starts there (its rules may fire again), and the risk score is assessed again with the reopen
counted. The risk signals that need other records are replayed as they stood at each
assessment: the ticket's low ratings (counted once it has been reopened, as the live score
does) and its recurrences (earlier tickets of the same service and customer resolved in the
30 days before it was created, as their recorded resolutions and reopens stood then; read by
`lab.backtest`, handed in as `History.recurrences`).

What it leaves out: the wave trigger, a question about many tickets at once, which
`lab.waves` replays over all of them; the recorded links are replayed here, under both
configurations alike.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache

from escalation.engine import (
    Candidate,
    Escalate,
    Evaluation,
    RuleBook,
    RuleSpec,
    SLAInstants,
    TicketFacts,
    Trigger,
    candidates,
    decide,
    evaluate,
    rule_book,
)
from escalation.risk import RiskInputs, assess
from incidents.detection import WaveRuleSpec
from sla.clock import ALWAYS_OPEN, CalendarLike, add_business_time, business_time_between
from sla.deadlines import ZERO, Segment, instant_at

MINUTE = timedelta(minutes=1)
# A ticket's replay stops after this many evaluations (a bound, far above any real course).
MAX_STEPS = 5_000
# Evaluations at one instant while each decides something (as `escalation.evaluation`'s).
MAX_ROUNDS = 6
TARGETS = ("first_response", "next_update", "resolution")
# Steps that run no change hook (the incident's services set the next check themselves).
INCIDENT_STEPS = ("linked", "unlinked")
# Steps that only take triggers away or move them later (progress, a pause, an
# acknowledgement, a rating, which runs no change hook): when nothing was due before them, the
# change hook's evaluation would decide nothing, and the next check already named stays a
# safe one to look again at.
QUIET_STEPS = ("progress", "pause", "ack", "rated")
# Of those, the steps after which the live system asks the engine nothing (no change hook):
# quiet without the shortcuts too.
NO_HOOK = ("rated",)
NONE_FIRED: frozenset[int] = frozenset()
# A ticket without a policy: no SLA instants (shared, never changed, so that the same facts
# are recognised as such).
NO_INSTANTS: dict[str, tuple[datetime | None, datetime | None]] = {}
NO_SLA: dict[str, SLAInstants] = {}
# What the engine says about a ticket an open major incident holds.
HELD = Evaluation(decisions=(), next_check_at=None)
# How many customer messages the risk score's tone reads (as `escalation.evaluation` does).
TONE_MESSAGES = 5


@dataclass(frozen=True)
class Step:
    """One human step. `kind`: reply, progress, pause, resume, team, priority, end, reopen
    (a resolved ticket came back), rated (the customer rated a solution low); customer
        (a customer message, `text` its body); raised (a person escalated: the `team` step that
        follows awaits acknowledgement), deescalated (a lead handed it down: likewise, marks the
        cycle), ack (the waiting escalation was acknowledged); linked and unlinked (a major
        incident took over the ticket's communication, and let it go)."""

    at: datetime
    kind: str
    team_id: int | None = None
    priority: int | None = None
    level: int | None = None  # raised: the level rank the escalation reached
    text: str = ""


@dataclass(frozen=True)
class History:
    ticket_id: int
    reference: str
    created_at: datetime
    priority: int
    team_id: int
    tier: str = ""
    vip: bool = False
    contract: str = ""
    channel: str = ""
    steps: tuple[Step, ...] = ()
    # The recurrence count of the risk score from each instant on, in time order: (from,
    # count) pairs; none is 0 throughout.
    recurrences: tuple[tuple[datetime, int], ...] = ()
    # What the wave trigger reads besides (`lab.waves`): the affected service and the subject.
    service_id: int | None = None
    subject: str = ""

    def recurrences_at(self, at: datetime) -> int:
        """The recurrence count as the live assessment at `at` read it."""
        count = 0
        for since_at, n in self.recurrences:
            if since_at > at:
                break
            count = n
        return count


@dataclass(frozen=True)
class TargetSpec:
    duration: timedelta
    warning: timedelta | None  # business time after the start at which to warn


@dataclass(frozen=True)
class PolicySpec:
    """An SLA policy as plain values: its conditions, calendar and targets per priority."""

    name: str
    order: int
    calendar: CalendarLike
    pending_pauses: bool = True
    tiers: frozenset[str] = frozenset()
    vip_only: bool = False
    contract: str = ""
    channels: frozenset[str] = frozenset()
    priority_min: int = 1
    priority_max: int = 4
    team_ids: frozenset[int] = frozenset()
    # priority -> target name -> target
    targets: dict[int, dict[str, TargetSpec]] = field(default_factory=dict)

    def matches(self, h: History, priority: int, team_id: int) -> bool:
        """Whether it governs the ticket of `h` with `priority` at `team_id` (as
        `sla.models.SLAPolicy.matches`)."""
        return (
            (not self.tiers or h.tier in self.tiers)
            and (not self.vip_only or h.vip)
            and (not self.contract or self.contract == h.contract)
            and (not self.channels or h.channel in self.channels)
            and self.priority_min <= priority <= self.priority_max
            and (not self.team_ids or team_id in self.team_ids)
        )


@dataclass(frozen=True)
class Config:
    """A whole escalation configuration as the replay needs it."""

    rules: tuple[RuleSpec, ...]
    policies: tuple[PolicySpec, ...]  # in force, by order
    up: dict[int, int | None]  # team -> the active team one step up (None at the top)
    level_of: dict[int, int]  # team -> its level's rank
    team_names: dict[int, str] = field(default_factory=dict)  # for the result (ids may not last)
    # level rank -> (acknowledge within, its calendar; None: the ticket's policy's calendar)
    ack: dict[int, tuple[timedelta, CalendarLike | None]] = field(default_factory=dict)
    # The active wave rules (`lab.waves` replays them over all the tickets at once).
    waves: tuple[WaveRuleSpec, ...] = ()

    @cached_property
    def book(self) -> RuleBook:
        """The rules in evaluation order, sorted once for every ticket and instant."""
        return rule_book(self.rules)

    @cached_property
    def risky(self) -> bool:
        """Whether a rule reads the risk score (a soft signal); without one, it is not
        assessed and a customer message changes nothing the engine reads."""
        return any(rule.trigger == Trigger.SOFT_SIGNAL for rule in self.rules)

    @cached_property
    def risk_floor(self) -> int:
        """The lowest risk score a soft-signal rule fires at (above any score: none does)."""
        return min(
            (
                rule.risk_at_least
                for rule in self.rules
                if rule.trigger == Trigger.SOFT_SIGNAL and rule.risk_at_least is not None
            ),
            default=101,
        )

    @cached_property
    def quiet(self) -> tuple[str, ...]:
        """The steps after which the change hook's evaluation decides nothing when nothing
        was due before (`quiet_step`). Progress is not one of them when a no-progress rule
        has a zero threshold: there, progress makes the rule due at once."""
        quiet = QUIET_STEPS if self.risky else (*QUIET_STEPS, "customer")
        if any(
            rule.trigger == Trigger.NO_PROGRESS
            and rule.threshold is not None
            and not rule.threshold
            for rule in self.rules
        ):
            return tuple(kind for kind in quiet if kind != "progress")
        return quiet

    def same_course(self, other: Config) -> bool:
        """Whether every ticket whose policy is the same under both has the same course: the
        rules, the chain and the acknowledgement targets agree (the team names do not matter)."""
        return (self.rules, self.up, self.level_of, self.ack) == (
            other.rules,
            other.up,
            other.level_of,
            other.ack,
        )


@dataclass(frozen=True)
class Happening:
    """Something the configuration made happen: an escalation (`kind` "escalated", to
    `team_id` on `level`), a notification without hand-off ("notified"), an SLA warning or
    breach ("sla_warning", "sla_breach" of `target`)."""

    at: datetime
    kind: str
    trigger: str = ""
    target: str = ""
    team_id: int | None = None
    level: int | None = None
    rule_id: int | None = None


def ceil_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + MINUTE


def policy_for(
    config: Config, h: History, priority: int | None = None, team_id: int | None = None
) -> PolicySpec | None:
    """The first policy by order that governs the ticket of `h` (at creation, or with
    `priority` at `team_id`), as `sla.services.select_policy` chooses it."""
    priority = h.priority if priority is None else priority
    team_id = h.team_id if team_id is None else team_id
    return next((p for p in config.policies if p.matches(h, priority, team_id)), None)


@dataclass
class State:
    team_id: int
    level: int
    priority: int
    cycle: int
    cycle_started_at: datetime
    last_progress_at: datetime | None = None
    resumed_at: datetime | None = None
    paused: bool = False
    pending_pauses: bool = True  # the policy stops the clocks while pending
    first_responded: bool = False
    last_reply_at: datetime | None = None  # the "next update" target runs from here
    ended: bool = False
    fired: set[int] = field(default_factory=set)
    segments: list[Segment] = field(default_factory=list)
    awaiting_ack_until: datetime | None = None  # the open escalation's acknowledgement due
    deescalated: bool = False  # the current cycle began with a lead's de-escalation
    incoming: Step | None = None  # a raise or de-escalation whose hand-off follows
    owned: bool = False  # linked to an open major incident
    risky: bool = True  # a soft-signal rule reads the risk score
    risk: tuple[int, list[dict[str, object]]] = (0, [])
    risk_changed_at: datetime | None = None
    reopens: int = 0
    low_ratings: int = 0  # solutions the customer rated low so far
    messages: list[tuple[str, str]] = field(default_factory=list)  # (reply/customer, text)
    # The SLA instants only move when the segments, the priority or a target's state change:
    # (key, (warning, due) per target, the same as the engine's SLAInstants).
    cached: tuple[tuple, dict, dict[str, SLAInstants]] | None = None
    # The engine's candidates for the facts of the last evaluation: (`facts_key`, the SLA
    # instants, the candidates). Until a fact changes, the next evaluation decides from them.
    standing: tuple[tuple, dict[str, SLAInstants], tuple[Candidate, ...]] | None = None
    # Each target's instants as last computed: (segments, priority, last reply), the pair, the
    # engine's value.
    targets: dict[str, tuple[tuple, tuple[datetime | None, datetime | None], SLAInstants]] = field(
        default_factory=dict
    )
    shortcuts: bool = True  # False: every evaluation in full, at every change (for the tests)
    # The closed running segments' business time on the policy's calendar, summed once each
    # (`clock_instant`): their starts, the running total at each one's end, and how many of
    # `segments` are summed (all but the open last one; closed segments never change).
    summed_starts: list[datetime] = field(default_factory=list)
    summed_ends: list[timedelta] = field(default_factory=list)
    summed: int = 0
    # The SLA policy that governs the ticket now, and its calendar (the engine's too); chosen
    # again when the priority or the team changes (`reselect`).
    policy: PolicySpec | None = None
    calendar: CalendarLike = ALWAYS_OPEN


def since(segments: Sequence[Segment], start: datetime) -> list[Segment]:
    """The segments from `start` on (a "next update" period begins at each reply)."""
    return [
        Segment(max(s.started_at, start), s.ended_at, s.running)
        for s in segments
        if s.ended_at is None or s.ended_at > start
    ]


def sla_instants(state: State) -> dict[str, tuple[datetime | None, datetime | None]]:
    """(warning, due) per running target of the ticket's policy; a met, paused or absent
    target has none. Kept until what they depend on changes; without `State.shortcuts`,
    computed afresh every time (the reference the shortcuts are compared with)."""
    policy = state.policy
    if policy is None:
        return NO_INSTANTS
    key = (
        len(state.segments),
        state.priority,
        state.first_responded,
        state.last_reply_at,
        state.ended,
    )
    if state.cached is not None and state.cached[0] == key and state.shortcuts:
        return state.cached[1]
    targets = policy.targets.get(state.priority, {})
    result = {}
    engine = {}
    for name in TARGETS:
        spec = targets.get(name)
        if spec is None or state.ended:
            continue
        if name == "first_response" and state.first_responded:
            continue
        if name == "next_update" and state.last_reply_at is None:
            continue  # it runs from the first response on
        # One target's instants move only with the segments, the priority and (the next
        # update) the last reply: a reply leaves the resolution's as they were.
        own = (key[0], key[1], state.last_reply_at if name == "next_update" else None)
        known = state.targets.get(name)
        if known is None or known[0] != own or not state.shortcuts:
            if name == "next_update" or not state.shortcuts:
                segments = state.segments
                if name == "next_update":
                    segments = since(segments, state.last_reply_at)  # type: ignore[arg-type]
                calendar = policy.calendar
                due = instant_at(calendar, segments, spec.duration)
                warning = instant_at(calendar, segments, spec.warning) if spec.warning else None
            else:
                due = clock_instant(state, spec.duration)
                warning = clock_instant(state, spec.warning) if spec.warning else None
            known = state.targets[name] = (own, (warning, due), SLAInstants(warning, due))
        result[name] = known[1]
        engine[name] = known[2]
    state.cached = (key, result, engine)
    return result


def clock_instant(state: State, offset: timedelta) -> datetime | None:
    """`sla.deadlines.instant_at` over the ticket's segments on its policy's calendar, with
    each closed segment's business time measured once (`State.summed_ends`) instead of at
    every target and every change: the instant is found in the closed segment where the
    running total reaches `offset`, else in the open last one while it runs."""
    segments, calendar = state.segments, state.policy.calendar  # type: ignore[union-attr]
    starts, ends = state.summed_starts, state.summed_ends
    while state.summed < len(segments) - 1:
        segment = segments[state.summed]
        state.summed += 1
        if segment.running:
            span = business_time_between(calendar, segment.started_at, segment.ended_at)  # type: ignore[arg-type]
            starts.append(segment.started_at)
            ends.append((ends[-1] if ends else ZERO) + span)
    total = ends[-1] if ends else ZERO
    if ends and offset <= total:
        n = bisect_left(ends, offset)
        return add_business_time(calendar, starts[n], offset - (ends[n - 1] if n else ZERO))
    last = segments[-1]
    return add_business_time(calendar, last.started_at, offset - total) if last.running else None


def replay(
    h: History, config: Config, until: datetime, *, shortcuts: bool = True
) -> tuple[Happening, ...]:
    """What `config` makes happen to the ticket of history `h` up to `until`, in time order.

    `shortcuts` False asks the engine in full at every change a person made and at every
    sweep, as the live system does, instead of skipping the evaluations that cannot decide
    anything (`quiet_step`) and deciding from the last evaluation's candidates while no fact
    changed (`evaluate_state`): the same course, slower (`tests/lab/test_replay_shortcuts.py`
    compares both on random histories)."""
    policy = policy_for(config, h)
    state = State(
        team_id=h.team_id,
        level=config.level_of.get(h.team_id, 1),
        priority=h.priority,
        cycle=0,
        cycle_started_at=h.created_at,
        pending_pauses=policy.pending_pauses if policy is not None else False,
        # Without a policy no clock runs (a policy chosen later starts it then).
        segments=[Segment(h.created_at, None, policy is not None)],
        policy=policy,
        calendar=policy.calendar if policy is not None else ALWAYS_OPEN,
    )
    # The risk score only matters to soft-signal rules: without one, it is not assessed and a
    # customer message changes nothing the engine reads.
    state.risky = config.risky
    state.shortcuts = shortcuts
    quiet = config.quiet if shortcuts else NO_HOOK
    reassess(state, h, h.created_at)
    happened: list[Happening] = []
    # The warnings and breaches on record: (kind, target, the "next update" period's reply).
    recorded: set[tuple[str, str, datetime | None]] = set()
    steps = sorted(h.steps, key=lambda s: s.at)
    index, now = 0, h.created_at
    # Creation is a change: the engine is asked at once (as the change hook does).
    next_check = sweep(h, config, state, now, happened)
    beat = None if next_check is None else ceil_minute(next_check)  # the sweep that looks again
    count = len(steps)
    for _ in range(MAX_STEPS):
        instants = sla_instants(state)
        record_sla(instants, now, state.last_reply_at, recorded, happened)
        if beat is not None and beat <= now:
            # The beat's sweep; before it, with unchanged facts, the engine decides nothing.
            next_check = sweep(h, config, state, now, happened)
            beat = None if next_check is None else ceil_minute(next_check)
        changed = False
        while index < count and steps[index].at <= now:
            step = steps[index]
            apply(state, step, config, h)
            index += 1
            if step.kind in INCIDENT_STEPS:
                # No change hook: a link holds the ticket, its end wakes the beat's next sweep.
                # What fell due meanwhile is due now: a change before that sweep asks the
                # engine (the next check lies in the past).
                next_check = None if state.owned else now
                beat = None if state.owned else now.replace(second=0, microsecond=0) + MINUTE
            elif not quiet_step(step, state, quiet, config) or (
                next_check is not None and next_check <= now
            ):
                changed = True
        if state.ended:
            # Resolved: no sweep looks at it, no clock runs; a reopen may still follow.
            next_check = beat = None
            changed = False
            if index >= count:
                break
        if changed:
            # A person changed the ticket: the change hook asks the engine at that instant.
            next_check = sweep(h, config, state, now, happened)
            beat = None if next_check is None else ceil_minute(next_check)
        # The next instant that matters: a step or the next check. An SLA warning or deadline
        # before it changes nothing the engine reads: it is recorded at the next instant that
        # matters (as of its own instant), or at the end.
        upcoming = steps[index].at if index < count else None
        if beat is not None and beat > now and (upcoming is None or beat < upcoming):
            upcoming = beat
        if not shortcuts:
            # Every SLA instant visited on its own, for the comparison.
            for pair in sla_instants(state).values():
                for at in pair:
                    if at is not None and at > now and (upcoming is None or at < upcoming):
                        upcoming = at
        if upcoming is None or upcoming > until:
            # Nothing changes any more before `until`: the SLA instants due by then are
            # recorded (visiting the first one would record every one due by then), and so
            # is one that the last change brought into the past (a raised priority).
            record_sla(sla_instants(state), until, state.last_reply_at, recorded, happened)
            break
        now = upcoming
    return tuple(sorted(happened, key=lambda x: x.at))  # stable: SLA events before the sweep


def engine_sla(state: State) -> dict[str, SLAInstants]:
    """The running targets' instants as the engine takes them (`sla_instants`)."""
    if state.policy is None:
        return NO_SLA
    sla_instants(state)
    return state.cached[2]  # type: ignore[index]


def record_sla(
    instants: dict[str, tuple[datetime | None, datetime | None]],
    upto: datetime,
    period: datetime | None,
    recorded: set[tuple[str, str, datetime | None]],
    happened: list[Happening],
) -> None:
    """Each SLA warning and breach of `instants` at or before `upto`, once per target (as
    the ticket's flags record them: an instant that moves after it was recorded, with the
    priority or the policy, is not recorded again), and for the next update once per
    `period` (the reply it runs from: each reply starts a new one)."""
    for name, (warning, due) in instants.items():
        for kind, at in (("sla_warning", warning), ("sla_breach", due)):
            if at is None or at > upto:
                continue
            key = (kind, name, period if name == "next_update" else None)
            if key not in recorded:
                recorded.add(key)
                happened.append(Happening(at=at, kind=kind, target=name))


def quiet_step(step: Step, state: State, quiet: tuple[str, ...], config: Config) -> bool:
    """Whether the change hook's evaluation after `step` decides nothing and names the same
    next check (when none was due): a quiet kind, or a customer message that leaves the risk
    score below every soft-signal threshold (no rule's instant appears or moves)."""
    if step.kind in quiet:
        return True
    return state.shortcuts and step.kind == "customer" and state.risk[0] < config.risk_floor


def facts_of(h: History, state: State, sla: dict[str, SLAInstants], config: Config) -> TicketFacts:
    return TicketFacts(
        ticket_id=h.ticket_id,
        cycle=state.cycle,
        team_id=state.team_id,
        level_rank=state.level,
        priority=state.priority,
        customer_tier=h.tier,
        channel=h.channel,
        created_at=h.created_at,
        cycle_started_at=state.cycle_started_at,
        last_progress_at=state.last_progress_at,
        calendar=state.calendar,
        sla=sla,
        risk_score=state.risk[0],
        risk_changed_at=state.risk_changed_at,
        awaiting_ack_until=state.awaiting_ack_until,
        can_escalate_up=config.up.get(state.team_id) is not None,
        waiting_on_customer=state.paused,
        resumed_at=state.resumed_at,
        deescalated_into_cycle=state.deescalated,
        fired_rule_ids=frozenset(state.fired) if state.fired else NONE_FIRED,
        owned_by_incident=state.owned,
    )


def facts_key(state: State) -> tuple:
    """Every part of the state `facts_of` reads, but the rules fired and the SLA instants
    (which `evaluate_state` compares by identity): equal keys, equal facts."""
    return (
        state.cycle,
        state.team_id,
        state.level,
        state.priority,
        state.cycle_started_at,
        state.last_progress_at,
        state.risk[0],
        state.risk_changed_at,
        state.awaiting_ack_until,
        state.paused,
        state.resumed_at,
        state.deescalated,
        state.owned,
    )


def evaluate_state(
    h: History,
    config: Config,
    state: State,
    sla: dict[str, SLAInstants],
    now: datetime,
) -> Evaluation:
    """The engine's evaluation of the ticket at `now`. When no fact changed since the last
    one (only the rules fired since and `now` differ), it decides from the candidates of
    that one (`escalation.engine.candidates`): their trigger instants depend on the facts
    alone, so they need no new facts and no business-time arithmetic. Without
    `State.shortcuts`, `escalation.engine.evaluate` in full every time."""
    if not state.shortcuts:
        return evaluate(facts_of(h, state, sla, config), config.book, now)
    if state.owned:
        return HELD
    key = facts_key(state)
    standing = state.standing
    if standing is None or standing[1] is not sla or standing[0] != key:
        facts = facts_of(h, state, sla, config)
        standing = state.standing = (key, sla, candidates(facts, config.book))
    return decide(
        standing[2],
        now,
        fired=state.fired,
        can_escalate_up=config.up.get(state.team_id) is not None,
    )


def sweep(
    h: History,
    config: Config,
    state: State,
    now: datetime,
    happened: list[Happening],
) -> datetime | None:
    """The sweep at `now`: the engine's decisions applied, and the engine asked again while
    it decides something, as the evaluation's rounds do (`escalation.evaluation`): a
    hand-off starts a new cycle, a raised priority brings its targets, and a rule held back
    by another one's hand-off (or notice at the top of the chain) gets its turn. Returns the
    last evaluation's next check.

    With the shortcuts, a round whose decisions changed no fact (no hand-off, no priority)
    and held nothing back (none of them hands off) is the last: the next one would decide
    from the same candidates without those fired, so nothing, and name the same next check."""
    for _ in range(MAX_ROUNDS):
        evaluation = evaluate_state(h, config, state, engine_sla(state), now)
        moved = raised = False
        for decision in evaluation.decisions:
            rule = decision.rule
            state.fired.add(rule.id)
            if rule.raise_priority_to is not None and rule.raise_priority_to < state.priority:
                state.priority = rule.raise_priority_to
                reselect(state, config, h, now)
                raised = True
            target = None
            if rule.escalate == Escalate.HIERARCHICAL:
                target = config.up.get(state.team_id)
            elif rule.escalate == Escalate.FUNCTIONAL and rule.functional_team_id != state.team_id:
                target = rule.functional_team_id
            if target is not None and not moved:
                if rule.escalate == Escalate.HIERARCHICAL:
                    state.level = config.level_of.get(target, state.level)
                hand_off(state, target, now)
                # The escalation's acknowledgement is due on the calendar before the hand-off
                # (`escalation.handoff.raise_escalation` writes it first).
                state.awaiting_ack_until = ack_due(config, state.level, state.calendar, now)
                reselect(state, config, h, now)
                moved = True
                happened.append(
                    Happening(
                        at=now,
                        kind="escalated",
                        trigger=str(decision.trigger),
                        team_id=target,
                        level=state.level,
                        rule_id=rule.id,
                    )
                )
            elif rule.notify:
                happened.append(
                    Happening(
                        at=now, kind="notified", trigger=str(decision.trigger), rule_id=rule.id
                    )
                )
        if not evaluation.decisions:
            break
        if (
            state.shortcuts
            and not (moved or raised)
            and all(d.rule.escalate == Escalate.NONE for d in evaluation.decisions)
        ):
            break
    return evaluation.next_check_at


def ack_due(config: Config, level: int, calendar: CalendarLike, at: datetime) -> datetime | None:
    """When an escalation reaching `level` at `at` must be acknowledged: the level's tier
    target on its own calendar, else on the ticket's (as `escalation.handoff.ack_due`)."""
    target = config.ack.get(level)
    if target is None:
        return None
    within, own = target
    return add_business_time(own if own is not None else calendar, at, within)


def hand_off(state: State, team_id: int, at: datetime) -> None:
    """The ticket reaches another team: a new cycle, whose escalation (if any) the caller
    records; one still waiting for the previous team is over."""
    state.team_id = team_id
    state.cycle += 1
    state.cycle_started_at = at
    state.fired = set()
    state.awaiting_ack_until = None
    state.deescalated = False


def apply(state: State, step: Step, config: Config, h: History) -> None:
    """A human step changes the state the engine sees."""
    if step.kind in ("reply", "progress", "team"):
        state.last_progress_at = step.at
    if step.kind == "reply":
        state.first_responded = True
        state.last_reply_at = step.at
        state.messages.append(("reply", ""))
        reassess(state, h, step.at)
    elif step.kind == "customer":
        state.messages.append(("customer", step.text))
        reassess(state, h, step.at)
    elif step.kind == "pause" and not state.paused:
        state.paused = True
        pause(state, step.at, running=False)
    elif step.kind == "resume" and state.paused:
        state.paused = False
        state.resumed_at = step.at
        pause(state, step.at, running=True)
    elif step.kind in ("raised", "deescalated"):
        state.incoming = step
    elif step.kind == "team" and step.team_id is not None:
        incoming, state.incoming = state.incoming, None
        if incoming is not None and incoming.level is not None:
            state.level = incoming.level  # a lateral escalation keeps the ticket's level
        else:
            state.level = config.level_of.get(step.team_id, state.level)
        hand_off(state, step.team_id, step.at)
        if incoming is not None and incoming.kind == "raised":
            state.awaiting_ack_until = ack_due(config, state.level, state.calendar, step.at)
        elif incoming is not None:
            state.deescalated = True
        reselect(state, config, h, step.at)
        reassess(state, h, step.at)
    elif step.kind == "ack":
        state.awaiting_ack_until = None
    elif step.kind in ("linked", "unlinked"):
        state.owned = step.kind == "linked"
    elif step.kind == "priority" and step.priority is not None:
        state.priority = step.priority
        reselect(state, config, h, step.at)
    elif step.kind == "end" and not state.ended:
        state.ended = True
        pause(state, step.at, running=False, always=True)
    elif step.kind == "reopen" and state.ended:
        state.ended = False
        state.reopens += 1
        state.paused = False  # a reopened ticket is open, whatever it was resolved from
        pause(state, step.at, running=True, always=True)
        # A new cycle at the reopen (the ticket service's `reopen`), with the same team.
        state.cycle += 1
        state.cycle_started_at = step.at
        state.fired = set()
        state.deescalated = False
        reassess(state, h, step.at)
    elif step.kind == "rated":
        state.low_ratings += 1


@lru_cache(maxsize=4096)
def assessed(inputs: RiskInputs) -> tuple[int, list[dict[str, object]]]:
    """`escalation.risk.assess`, kept for the inputs seen last: many tickets share them (the
    counts, short messages). The replay only compares and keeps the result."""
    return assess(inputs)


def reassess(state: State, h: History, at: datetime) -> None:
    """The risk score again (`escalation.risk.assess`) from what the history shows: customer
    messages since the last reply, their tone, VIP, hand-offs so far; it changes at `at` when
    the score or a reason does. Nothing when no rule reads it (`State.risky`)."""
    if not state.risky:
        return
    recent = state.messages[-1:-51:-1]  # newest first, as many as the live assessment reads
    follow_ups = 0
    for kind, _text in recent:
        if kind == "reply":
            break
        follow_ups += 1
    texts = tuple(text for kind, text in recent if kind == "customer")[:TONE_MESSAGES]
    risk = assessed(
        RiskInputs(
            follow_ups=follow_ups,
            customer_texts=texts,
            reopen_count=state.reopens,
            vip=h.vip,
            hand_offs=state.cycle - state.reopens,
            # As `escalation.evaluation.risk_counts`: ratings count on a reopened ticket only.
            low_ratings=state.low_ratings if state.reopens else 0,
            recurrences=h.recurrences_at(at),
        )
    )
    if risk != state.risk:
        state.risk, state.risk_changed_at = risk, at


def pause(state: State, at: datetime, *, running: bool, always: bool = False) -> None:
    """The clocks stop (`running` False) or run again at `at`: while pending when the policy
    pauses them then, and `always` at a resolution and a reopen. Without a policy no clock
    runs."""
    if not (state.pending_pauses or always):
        return
    last = state.segments[-1]
    state.segments[-1] = Segment(last.started_at, at, last.running)
    state.segments.append(Segment(at, None, running and state.policy is not None))


def reselect(state: State, config: Config, h: History, at: datetime) -> None:
    """The policy chosen again after the priority or the team changed at `at`, as the SLA
    clock's change hook does (`sla.services.clock_after_change`). Another policy brings its
    calendar (for the deadlines over the same segments, the no-progress thresholds and the
    acknowledgements to come) and its targets; its pending rule may stop or start the clock
    of a pending ticket; with none, no clock runs (and one chosen later runs again from then
    on, with the business time used before)."""
    policy = policy_for(config, h, state.priority, state.team_id)
    if policy is state.policy:
        return
    state.policy = policy
    state.calendar = policy.calendar if policy is not None else ALWAYS_OPEN
    state.pending_pauses = policy.pending_pauses if policy is not None else False
    state.cached = None
    state.targets = {}
    state.summed_starts, state.summed_ends, state.summed = [], [], 0  # another calendar
    running = policy is not None and not state.ended and not (state.paused and state.pending_pauses)
    if state.segments[-1].running != running:
        pause(state, at, running=running, always=True)


def parting(live: Sequence[Happening], draft: Sequence[Happening]) -> int | None:
    """The index of the first happening in which two courses differ; None when they agree."""
    for n, (a, b) in enumerate(zip(live, draft, strict=False)):
        if a != b:
            return n
    return None if len(live) == len(draft) else min(len(live), len(draft))
