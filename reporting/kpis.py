"""The key figures of a period, computed in SQL: for a period [start, end) over the tickets given
(already narrowed to what the reader may see and the slices they chose: a `Ticket` queryset).

Each figure counts what *finished* in the period, so that a figure never changes once its
period is over except through corrections:

- `time_to_first_response`: tickets first answered in the period, clock from the ticket's
  creation to the first response.
- `time_to_acknowledge`: escalations (up or across) acknowledged in the period, clock from
  raising to acknowledging.
- `time_to_resolution`: tickets resolved in the period (a reopened and again resolved ticket
  counts with its latest resolution), clock from creation to resolution. Calendar time: a
  pending ticket's paused time counts.
- Each duration also in **business time**: for first response and resolution, the business
  seconds the ticket's SLA clock for that target ran (`sla.ClockSegment`, measured by
  `sla.clock` on the ticket's calendar; pending pauses left out); for an acknowledgement, the
  business time between raising and acknowledging on the calendar its tier target counts on.
- `acknowledgement_compliance`: escalations against their tier target (`ack_due_at`): met when
  acknowledged in time (counted when acknowledged), breached when the deadline passed without
  an acknowledgement (counted when the deadline passed).
- `sla_compliance`: per target, of the tickets whose clock for that target stopped in the
  period (first response: first answered; next update and resolution: resolved) and that had
  the target, how many met it (no breach recorded on it) and how many breached it; and the
  breaches of the target recorded in the period, on any ticket. The next update's breaches are
  read from the timeline (its column holds only the current period's breach).
- `escalations`: escalations raised in the period per receiving level, the hand-backs
  (de-escalations) raised in the period and the bounce-back rate (hand-backs per escalation);
  the escalation rate: of the tickets created in the period, the share escalated at least once.
- `satisfaction`: the customer ratings given in the period (`portal.selectors.csat_summary`).

Durations are seconds, in calendar time, as mean, median and 90th percentile (PostgreSQL's
`percentile_cont`; other databases get the durations and Python interpolates the same way).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, Extract

from escalation.models import Escalation
from portal.selectors import CsatSummary, csat_summary
from reporting.figures import (
    Durations,
    Period,
    calendar_specs,
    percentiles_in_sql,
    summarise,
    within,
)
from reporting.handoffs import FirstContact, escalations_by_trigger, first_contact_resolution
from reporting.quality import Share, closing_reports, deflections, documentation, recurrence
from reporting.trends import PercentileCont, escalations_of, handoffs_of
from sla.clock import ALWAYS_OPEN, business_time_between
from sla.models import ClockSegment
from tickets.models import SupportLevel, Ticket, TicketEvent

SLA_TARGETS = ("first_response", "next_update", "resolution")


@dataclass(frozen=True)
class Clock:
    """One duration KPI in calendar time and in business time. Business time is counted only
    for what has a business calendar, so its count may be smaller."""

    calendar: Durations
    business: Durations


@dataclass(frozen=True)
class Compliance:
    """One SLA target: `met` and `breached` among the tickets whose clock for it stopped in the
    period, `breaches` recorded in the period on any ticket."""

    target: str
    met: int
    breached: int
    breaches: int

    @property
    def percent(self) -> float | None:
        decided = self.met + self.breached
        return round(100 * self.met / decided, 1) if decided else None


@dataclass(frozen=True)
class LevelCount:
    level: SupportLevel
    count: int


@dataclass(frozen=True)
class Escalations:
    per_level: list[LevelCount]
    escalations: int
    handbacks: int
    tickets_created: int
    tickets_escalated: int

    @property
    def bounce_back_percent(self) -> float | None:
        if not self.escalations:
            return None
        return round(100 * self.handbacks / self.escalations, 1)

    @property
    def escalation_rate_percent(self) -> float | None:
        if not self.tickets_created:
            return None
        return round(100 * self.tickets_escalated / self.tickets_created, 1)


@dataclass(frozen=True)
class Report:
    period: Period
    first_response: Clock
    acknowledgement: Clock
    resolution: Clock
    sla: list[Compliance]
    acknowledgement_sla: Compliance
    escalations: Escalations
    triggers: dict[str, int]
    first_contact: FirstContact
    recurrence: Share
    documentation: Share
    closing_reports: Share
    deflections: int
    satisfaction: CsatSummary


def running_seconds(target: str) -> Cast:
    """A ticket's business seconds on the SLA clock of `target`: the sum of its running
    segments (`sla.ClockSegment`, each measured by `sla.clock` on the ticket's calendar when it
    ended). NULL for a ticket without segments (no SLA policy). An aggregate over a join: the
    planner hashes the segments once instead of probing them ticket by ticket."""
    return Cast(
        Sum(
            "clock_segments__business_seconds",
            filter=Q(
                clock_segments__target=target, clock_segments__state=ClockSegment.State.RUNNING
            ),
        ),
        FloatField(),
    )


def clock_durations(rows: QuerySet, start_field: str, stop_field: str, business: Cast) -> Clock:
    """Calendar time `stop_field - start_field` and business time (`business`, seconds) over
    `rows` whose stop is set: mean, median and p90 of each. One query."""
    rows = rows.filter(**{f"{stop_field}__isnull": False}).order_by()
    if percentiles_in_sql():
        seconds = Extract(F(stop_field) - F(start_field), "epoch", output_field=FloatField())
        figures = rows.annotate(business_seconds=business).aggregate(
            count=Count("pk"),
            mean=Avg(seconds),
            median=PercentileCont(seconds, 0.5),
            p90=PercentileCont(seconds, 0.9),
            b_count=Count("business_seconds"),
            b_mean=Avg("business_seconds"),
            b_median=PercentileCont(F("business_seconds"), 0.5),
            b_p90=PercentileCont(F("business_seconds"), 0.9),
        )
        return Clock(
            calendar=Durations(*(figures[k] for k in ("count", "mean", "median", "p90"))),
            business=Durations(*(figures[f"b_{k}"] for k in ("count", "mean", "median", "p90"))),
        )
    calendar, business_values = [], []
    for start, stop, in_business in rows.annotate(business_seconds=business).values_list(
        start_field, stop_field, "business_seconds"
    ):
        calendar.append((stop - start).total_seconds())
        if in_business is not None:
            business_values.append(float(in_business))
    return Clock(calendar=summarise(calendar), business=summarise(business_values))


def first_response_times(tickets: QuerySet[Ticket], period: Period) -> Clock:
    """Tickets first answered in the period: creation to first response, in calendar time and
    on the first-response clock (business hours, pauses left out). One query."""
    answered = tickets.filter(within("first_responded_at", period))
    return clock_durations(
        answered, "created_at", "first_responded_at", running_seconds("first_response")
    )


def time_to_first_response(tickets: QuerySet[Ticket], period: Period) -> Durations:
    return first_response_times(tickets, period).calendar


def resolution_times(tickets: QuerySet[Ticket], period: Period) -> Clock:
    """Tickets resolved in the period: creation to (latest) resolution in calendar time, and
    the business time their resolution clock ran (pending pauses and the time a reopened
    ticket lay resolved left out). One query."""
    resolved = tickets.filter(within("resolved_at", period))
    return clock_durations(resolved, "created_at", "resolved_at", running_seconds("resolution"))


def time_to_resolution(tickets: QuerySet[Ticket], period: Period) -> Durations:
    return resolution_times(tickets, period).calendar


# The ticket's team, level and priority now, the instant of the acknowledgement, and the
# seconds from raising to acknowledging in calendar time and in business time.
Acknowledged = tuple[int | None, int | None, int | None, dt.datetime, float, float]


def acknowledgements(tickets: QuerySet[Ticket], period: Period) -> list[Acknowledged]:
    """Escalations (up or across) acknowledged in the period, measured in calendar time and in
    business time on the calendar their tier target counts on (the receiving level's
    tier-target calendar, else the ticket's SLA calendar, else around the clock — as
    `escalation.handoff.ack_due`). One pass over those rows: four queries."""
    rows = list(
        escalations_of(tickets)
        .filter(within("acknowledged_at", period))
        .order_by()
        .values_list(
            "ticket__team_id",
            "ticket__level_id",
            "ticket__priority",
            "raised_at",
            "acknowledged_at",
            "to_level__tier_target__calendar_id",
            "ticket__sla_policy__calendar_id",
        )
    )
    specs = calendar_specs({tier or own for *_, tier, own in rows if tier or own})
    measured: list[Acknowledged] = []
    for team, level, priority, raised, acknowledged, tier, own in rows:
        spec = specs.get(tier or own, ALWAYS_OPEN)
        business = business_time_between(spec, raised, acknowledged).total_seconds()
        calendar = (acknowledged - raised).total_seconds()
        measured.append((team, level, priority, acknowledged, calendar, business))
    return measured


def acknowledgement_times(tickets: QuerySet[Ticket], period: Period) -> Clock:
    """Escalations (up or across) acknowledged in the period: raising to acknowledging, in
    calendar time and in business time (`acknowledgements`). Four queries."""
    rows = acknowledgements(tickets, period)
    return Clock(
        calendar=summarise([row[4] for row in rows]),
        business=summarise([row[5] for row in rows]),
    )


def time_to_acknowledge(tickets: QuerySet[Ticket], period: Period) -> Durations:
    return acknowledgement_times(tickets, period).calendar


def acknowledgement_decided(period: Period) -> tuple[Q, Q]:
    """(met, breached) of an escalation against its tier target in the period: met when
    acknowledged in the period by the deadline, breached when the deadline passed in the
    period without an acknowledgement (acknowledged late, or never)."""
    late = Q(acknowledged_at__isnull=True) | Q(acknowledged_at__gt=F("ack_due_at"))
    on_time = within("acknowledged_at", period) & Q(acknowledged_at__lte=F("ack_due_at"))
    has_target = Q(ack_due_at__isnull=False)
    return has_target & on_time, has_target & within("ack_due_at", period) & late


def acknowledgement_compliance(tickets: QuerySet[Ticket], period: Period) -> Compliance:
    """Escalations (up or across) with a tier target (`ack_due_at`): met when acknowledged by
    the deadline, counted in the period of the acknowledgement; breached when the deadline
    passed unacknowledged (acknowledged late, or never), counted in the period of the deadline.
    One query."""
    met, breached = acknowledgement_decided(period)
    figures = (
        escalations_of(tickets)
        .filter(ack_due_at__isnull=False)
        .order_by()
        .aggregate(met=Count("pk", filter=met), breached=Count("pk", filter=breached))
    )
    return Compliance("acknowledgement", figures["met"], figures["breached"], figures["breached"])


def breach_events(target: str) -> QuerySet[TicketEvent]:
    """The timeline's breach entries of `target`: append-only, so they keep every breach of the
    next update, whose column is cleared when the next period of updates starts."""
    return TicketEvent.objects.filter(kind=TicketEvent.Kind.SLA_BREACH, payload__target=target)


SLA_STOPS = {
    "first_response": "first_responded_at",
    "next_update": "resolved_at",
    "resolution": "resolved_at",
}


def sla_decided(target: str, period: Period) -> tuple[Q, Q]:
    """(the ticket's clock for `target` stopped in the period and it had the target, a breach
    of it was recorded): met is the first without the second, breached both."""
    breached = Q(**{f"{target}_breached_at__isnull": False})
    if target == "next_update":
        breached |= Q(Exists(breach_events(target).filter(ticket_id=OuterRef("pk"))))
    had_target = breached | Q(**{f"{target}_due_at__isnull": False})
    return within(SLA_STOPS[target], period) & had_target, breached


def sla_compliance(tickets: QuerySet[Ticket], period: Period) -> list[Compliance]:
    """Per target (`SLA_TARGETS`, in that order). Two queries: the tickets, and the next
    update's breaches on the timeline."""
    counts: dict[str, Count] = {}
    for target in SLA_STOPS:
        stopped, breached = sla_decided(target, period)
        counts[f"{target}_met"] = Count("pk", filter=stopped & ~breached)
        counts[f"{target}_breached"] = Count("pk", filter=stopped & breached)
        if target != "next_update":
            counts[f"{target}_breaches"] = Count(
                "pk", filter=within(f"{target}_breached_at", period)
            )
    figures = tickets.order_by().aggregate(**counts)
    figures["next_update_breaches"] = (
        breach_events("next_update")
        .filter(within("created_at", period), Exists(tickets.filter(pk=OuterRef("ticket_id"))))
        .count()
    )
    return [
        Compliance(
            target=target,
            met=figures[f"{target}_met"],
            breached=figures[f"{target}_breached"],
            breaches=figures[f"{target}_breaches"],
        )
        for target in SLA_TARGETS
    ]


def escalated_once() -> Exists:
    """The ticket was escalated (up or across) at least once."""
    return Exists(
        Escalation.objects.filter(ticket_id=OuterRef("pk")).exclude(
            kind=Escalation.Kind.DE_ESCALATION
        )
    )


def escalations(
    tickets: QuerySet[Ticket], period: Period, done: Precomputed | None = None
) -> Escalations:
    """Three queries: hand-offs raised per receiving level and kind, the levels, and the
    tickets created with and without escalation; one (the levels) with `done`."""
    if done is None:
        raised = (
            handoffs_of(tickets)
            .filter(within("raised_at", period))
            .values("to_level_id")
            .annotate(
                up=Count("pk", filter=~Q(kind=Escalation.Kind.DE_ESCALATION)),
                back=Count("pk", filter=Q(kind=Escalation.Kind.DE_ESCALATION)),
            )
            .order_by()
        )
        per_level_ids = {row["to_level_id"]: row["up"] for row in raised if row["up"]}
        handbacks = sum(row["back"] for row in raised)
    else:
        per_level_ids, handbacks = done.per_level, done.handbacks
    levels = SupportLevel.objects.filter(pk__in=per_level_ids).order_by("rank")
    if done is None:
        figures = (
            tickets.filter(within("created_at", period))
            .order_by()
            .aggregate(created=Count("pk"), escalated=Count("pk", filter=Q(escalated_once())))
        )
    else:
        figures = {"created": done.tickets_created, "escalated": done.tickets_escalated}
    return Escalations(
        per_level=[LevelCount(level, per_level_ids[level.pk]) for level in levels],
        escalations=sum(per_level_ids.values()),
        handbacks=handbacks,
        tickets_created=figures["created"],
        tickets_escalated=figures["escalated"],
    )


def satisfaction(tickets: QuerySet[Ticket], period: Period) -> CsatSummary:
    return csat_summary(period.start, period.end, tickets=tickets)


@dataclass(frozen=True)
class Precomputed:
    """The figures `reporting.rollups` gives from its daily rows (the same definitions)."""

    first_response: Clock
    acknowledgement: Clock
    resolution: Clock
    sla: list[Compliance]
    tickets_created: int
    tickets_escalated: int
    first_contact: FirstContact
    recurrence: Share
    per_level: dict[int, int]  # escalations raised per receiving level id
    handbacks: int
    triggers: dict[str, int]  # escalations raised per trigger (as stored)
    documentation: Share
    acknowledgement_sla: Compliance
    closing_reports: Share
    satisfaction: CsatSummary


def report(
    tickets: QuerySet[Ticket], period: Period, precomputed: Precomputed | None = None
) -> Report:
    """Every figure of the period. At most twenty queries whatever the number of tickets;
    fewer with `precomputed` (from the daily rollups)."""
    done = precomputed
    return Report(
        period=period,
        first_response=done.first_response if done else first_response_times(tickets, period),
        acknowledgement=done.acknowledgement if done else acknowledgement_times(tickets, period),
        resolution=done.resolution if done else resolution_times(tickets, period),
        sla=done.sla if done else sla_compliance(tickets, period),
        acknowledgement_sla=(
            done.acknowledgement_sla if done else acknowledgement_compliance(tickets, period)
        ),
        escalations=escalations(tickets, period, done),
        triggers=escalations_by_trigger(tickets, period, done.triggers if done else None),
        first_contact=done.first_contact if done else first_contact_resolution(tickets, period),
        recurrence=done.recurrence if done else recurrence(tickets, period),
        documentation=done.documentation if done else documentation(tickets, period),
        closing_reports=done.closing_reports if done else closing_reports(tickets, period),
        deflections=deflections(period),
        satisfaction=done.satisfaction if done else satisfaction(tickets, period),
    )
