"""The escalation engine: which rules fire for a ticket now, and when to look again. Pure.

`evaluate(facts, rules, now)` takes plain values (no database, no Django) and returns the
decisions plus `next_check_at`, the earliest instant at which any rule that has not fired yet
could fire. The services turn decisions into escalations; the sweep uses `next_check_at` so
that its cost follows the due tickets, not the open ones.

**One breach, one step.** A hand-off (or a reopen) starts a new cycle at an instant; a trigger
*instant* that lies at or before that start was answered by the hand-off and never fires in
the new cycle (`answered_by_cycle_start`). So a sweep that runs exactly at an SLA deadline
escalates one level, not up the whole chain. The rule applies to every trigger that has an
instant: SLA warning and breach, no progress (counted from the start anyway, so only a zero
threshold meets it), unacknowledged (a zero acknowledgement target) and soft signals (a score
assessed before the hand-off). Cycle 0 starts at creation, which answered nothing: an instant
exactly at creation (a risk score assessed with the first message) fires there. Severity is a
standing state, not an instant: its rules hold in every cycle and climb the chain until their
level conditions (or a lead's de-escalation) stop them.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sla.clock import CalendarLike, add_business_time


class Trigger(StrEnum):
    NO_PROGRESS = "no_progress"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    SEVERITY = "severity"
    UNACKNOWLEDGED = "unacknowledged"
    SOFT_SIGNAL = "soft_signal"


class Escalate(StrEnum):
    NONE = "none"
    HIERARCHICAL = "hierarchical"
    FUNCTIONAL = "functional"


SLA_TARGETS = ("first_response", "next_update", "resolution")


@dataclass(frozen=True)
class SLAInstants:
    """One SLA target's instants; None when the target is not running (met, paused, none)."""

    warning_at: datetime | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class TicketFacts:
    """What the engine knows of one active ticket."""

    ticket_id: int
    cycle: int
    team_id: int
    level_rank: int
    priority: int  # 1 = Sev 1, the most severe
    customer_tier: str
    channel: str
    created_at: datetime
    cycle_started_at: datetime  # when the ticket reached its current team/level (or reopened)
    last_progress_at: datetime | None
    calendar: CalendarLike  # the business calendar for "no progress" thresholds
    sla: dict[str, SLAInstants] = field(default_factory=dict)
    risk_score: int = 0
    risk_changed_at: datetime | None = None
    # The open escalation waiting for acknowledgement, and when its tier target runs out.
    awaiting_ack_until: datetime | None = None
    can_escalate_up: bool = True  # False on the top of the chain (or the next team inactive)
    waiting_on_customer: bool = False  # pending: nobody can make progress
    resumed_at: datetime | None = None  # when it last came back from pending
    deescalated_into_cycle: bool = False  # a lead handed it down: severity was answered
    fired_rule_ids: frozenset[int] = frozenset()  # rules that already fired in this cycle
    # A major incident owns the ticket's communication: its own clock is held (no rule fires,
    # nothing to check until the link ends).
    owned_by_incident: bool = False


@dataclass(frozen=True)
class RuleSpec:
    """An escalation rule as plain data (built from `escalation.EscalationRule`)."""

    id: int
    order: int
    trigger: Trigger
    # Trigger parameters
    sla_target: str = ""  # "" = any target (sla_warning / sla_breach)
    threshold: timedelta | None = None  # business time without progress (no_progress)
    priority_at_least: int | None = None  # severity: priority value <= this (1 is highest)
    risk_at_least: int | None = None  # soft_signal
    # Conditions; empty means "any"
    team_ids: frozenset[int] = frozenset()
    level_ranks: frozenset[int] = frozenset()
    priority_min: int = 1
    priority_max: int = 4
    customer_tiers: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    # Actions
    escalate: Escalate = Escalate.NONE
    functional_team_id: int | None = None
    notify: bool = False
    raise_priority_to: int | None = None
    major_incident: bool = False


@dataclass(frozen=True)
class Reason:
    """Why a rule fires, as values (`escalation.facts.describe` words it for people): the
    trigger and its detail, which is the priority (severity), the risk score (soft signal),
    the business-time threshold (no progress) or the SLA target's name (warning, breach)."""

    trigger: Trigger
    detail: int | timedelta | str | None = None


@dataclass(frozen=True)
class Decision:
    """One rule fires for one ticket: the rule carries what to do, `reason` says why."""

    rule: RuleSpec
    trigger: Trigger
    reason: Reason
    at: datetime  # the instant the trigger condition became true

    @property
    def sla_target(self) -> str:
        """The SLA target a warning or breach rule fires for ("" for other triggers)."""
        if self.trigger in (Trigger.SLA_WARNING, Trigger.SLA_BREACH):
            return str(self.reason.detail)
        return ""


@dataclass(frozen=True)
class Evaluation:
    decisions: tuple[Decision, ...]
    next_check_at: datetime | None


class RuleBook(tuple):
    """Rules already in evaluation order (by order, then id), made once by `rule_book` for a
    caller that evaluates one rule set many times (the backtest's replay): `evaluate` takes it
    as it is instead of sorting again. A plain value: the same rules make an equal book."""

    __slots__ = ()


def rule_book(rules: Iterable[RuleSpec]) -> RuleBook:
    return RuleBook(sorted(rules, key=lambda r: (r.order, r.id)))


def conditions_hold(rule: RuleSpec, facts: TicketFacts) -> bool:
    """Whether the rule's conditions (not its trigger) match the ticket."""
    return (
        (not rule.team_ids or facts.team_id in rule.team_ids)
        and (not rule.level_ranks or facts.level_rank in rule.level_ranks)
        and rule.priority_min <= facts.priority <= rule.priority_max
        and (not rule.customer_tiers or facts.customer_tier in rule.customer_tiers)
        and (not rule.channels or facts.channel in rule.channels)
    )


def _sla_targets(rule: RuleSpec) -> Iterable[str]:
    return (rule.sla_target,) if rule.sla_target else SLA_TARGETS


def answered_by_cycle_start(at: datetime, facts: TicketFacts) -> bool:
    """Whether the hand-off (or reopen) that started the current cycle answered the trigger
    instant `at`: it lies before the start, or exactly at it after a hand-off (cycle 0 began
    at creation, which answered nothing)."""
    start = facts.cycle_started_at
    return at < start or (facts.cycle > 0 and at == start)


def trigger_instant(rule: RuleSpec, facts: TicketFacts) -> tuple[datetime | None, Reason | None]:
    """The instant at which the rule's trigger is (or becomes) true, with the reason.

    None when it cannot become true without something else changing first (no SLA clock
    running, nothing awaiting acknowledgement, severity or risk below the threshold).
    """
    match rule.trigger:
        case Trigger.SEVERITY:
            if facts.deescalated_into_cycle:
                # A lead handed the ticket down knowing its severity; climbing straight back
                # up would overrule them. A new severity change or another trigger can.
                return None, None
            if rule.priority_at_least is not None and facts.priority <= rule.priority_at_least:
                return facts.created_at, Reason(Trigger.SEVERITY, facts.priority)
            return None, None
        case Trigger.SOFT_SIGNAL:
            if rule.risk_at_least is None or facts.risk_score < rule.risk_at_least:
                return None, None
            changed = facts.risk_changed_at or facts.created_at
            if answered_by_cycle_start(changed, facts):
                # The hand-off answered this score; only new evidence escalates further.
                return None, None
            return changed, Reason(Trigger.SOFT_SIGNAL, facts.risk_score)
        case Trigger.NO_PROGRESS:
            if rule.threshold is None:
                return None, None
            if facts.waiting_on_customer:
                return None, None  # waiting on the customer is not a lack of progress
            # A new level gets the whole threshold (the clock starts at the hand-off), and so
            # does a ticket coming back from waiting on the customer.
            since = max(
                facts.last_progress_at or facts.created_at,
                facts.cycle_started_at,
                facts.resumed_at or facts.created_at,
            )
            at = add_business_time(facts.calendar, since, rule.threshold)
            if answered_by_cycle_start(at, facts):
                return None, None  # a zero threshold: the hand-off itself was the progress
            return at, Reason(Trigger.NO_PROGRESS, rule.threshold)
        case Trigger.UNACKNOWLEDGED:
            if facts.awaiting_ack_until is None or answered_by_cycle_start(
                facts.awaiting_ack_until, facts
            ):
                return None, None
            return facts.awaiting_ack_until, Reason(Trigger.UNACKNOWLEDGED)
        case Trigger.SLA_WARNING | Trigger.SLA_BREACH:
            best: tuple[datetime | None, Reason | None] = (None, None)
            for target in _sla_targets(rule):
                instants = facts.sla.get(target)
                if instants is None:
                    continue
                at = instants.warning_at if rule.trigger == Trigger.SLA_WARNING else instants.due_at
                if at is None or answered_by_cycle_start(at, facts):
                    # Passed before the ticket reached this level: the hand-off answered it.
                    continue
                if best[0] is None or at < best[0]:
                    best = (at, Reason(rule.trigger, target))
            return best
    return None, None


# A rule whose conditions hold and whose trigger has an instant, with the reason.
Candidate = tuple[RuleSpec, datetime, Reason]


def candidates(
    facts: TicketFacts, rules: Sequence[RuleSpec], skip: frozenset[int] = frozenset()
) -> tuple[Candidate, ...]:
    """The rules (in evaluation order, but those in `skip`) whose conditions hold for `facts`
    and whose trigger has an instant: what `decide` decides from. They depend on the facts
    alone, not on `now` nor on the rules fired, so a caller that asks again about unchanged
    facts may keep them (the backtest's replay does) and tell `decide` what fired since."""
    found: list[Candidate] = []
    for rule in rules if isinstance(rules, RuleBook) else rule_book(rules):
        if rule.id in skip or not conditions_hold(rule, facts):
            continue
        at, reason = trigger_instant(rule, facts)
        if at is not None and reason is not None:
            found.append((rule, at, reason))
    return tuple(found)


def decide(
    found: Iterable[Candidate], now: datetime, *, fired: Container[int], can_escalate_up: bool
) -> Evaluation:
    """The candidates that fire at `now` (not in `fired`, the rules fired in this cycle), in
    rule order, and when to look again (see `evaluate`)."""
    decisions: list[Decision] = []
    upcoming: list[datetime] = []
    escalated = {Escalate.HIERARCHICAL: False, Escalate.FUNCTIONAL: False}
    for rule, at, reason in found:
        if rule.id in fired:
            continue
        if at > now:
            upcoming.append(at)
            continue
        top_of_chain = rule.escalate == Escalate.HIERARCHICAL and not can_escalate_up
        if top_of_chain and not (rule.notify or rule.raise_priority_to or rule.major_incident):
            continue  # nowhere to go and nothing else to do; with other actions it still fires
        if rule.escalate in escalated:
            if escalated[rule.escalate]:
                # Another hand-off of this kind was decided; this rule gets its turn in the
                # next cycle (the hand-off starts one), so it is not due again here.
                continue
            escalated[rule.escalate] = True
        decisions.append(Decision(rule=rule, trigger=rule.trigger, reason=reason, at=at))
    return Evaluation(decisions=tuple(decisions), next_check_at=min(upcoming, default=None))


def evaluate(facts: TicketFacts, rules: Sequence[RuleSpec], now: datetime) -> Evaluation:
    """The rules that fire for `facts` at `now`, in rule order, and when to look again.

    A rule fires when its conditions hold, its trigger instant is at or before `now`, and it
    has not fired in this cycle. Trigger instants at or before the start of the cycle were
    answered by the hand-off that started it (see the module docstring), so a breach
    escalates once, not once per level; severity holds in every cycle, so its rules climb
    the chain until their level conditions stop them.
    At most one hierarchical and one functional hand-off are decided per evaluation (the
    first by order); a hierarchical one needs a team above. A ticket owned by an open major
    incident gets nothing and no next check: the incident's cadence speaks for it.
    """
    if facts.owned_by_incident:
        return Evaluation(decisions=(), next_check_at=None)
    fired = facts.fired_rule_ids
    return decide(
        candidates(facts, rules, fired),
        now,
        fired=fired,
        can_escalate_up=facts.can_escalate_up,
    )
