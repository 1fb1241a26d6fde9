"""Escalation figures of a period, computed in SQL over the tickets given (already narrowed to
what the reader may see and the slices they chose), like `reporting.kpis`:

- `escalations_over_time`: escalations (up or across, not hand-backs) raised per day, week or
  month (local to the site's time zone) and receiving level. One query.
- `escalations_by_trigger`: escalations raised in the period by what raised them — a rule's
  trigger, or a person (manual) — and the tickets the wave trigger linked to a major incident
  in the period. Two queries.
- `time_in_tier`: per level, the stays that ended in the period. A stay begins when a hand-off
  (escalation or hand-back) brings the ticket to the level and ends at the ticket's next
  hand-off, or at its resolution. Calendar time, and business time on the calendar of the
  ticket's SLA policy.
- `first_contact_resolution`: of the tickets resolved in the period that started at the 1st
  level (the level before their first hand-off, or their level when they never had one), the
  share resolved there without any hand-off and never reopened. One query.
- `handbacks`: the hand-backs (de-escalations) raised in the period, newest first, with their
  reasons (at most `HANDBACK_ROWS`). Two queries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek
from django.utils.translation import gettext as _

from escalation.engine import Trigger
from escalation.models import Escalation
from incidents.models import IncidentLink
from reporting.figures import (
    Durations,
    Period,
    calendar_specs,
    first_rows,
    percentiles_in_sql,
    summarise,
    within,
)
from reporting.trends import escalations_of, handoffs_of, site_zone
from sla.clock import business_time_between
from tickets.models import SupportLevel, Ticket

DAY, WEEK, MONTH = "day", "week", "month"
HANDBACK_ROWS = 50
# What raised an escalation, in the order the page lists them; the SLA's warning and breach
# are one row.
TRIGGER_GROUPS: dict[str, tuple[str, ...]] = {
    "no_progress": (Trigger.NO_PROGRESS,),
    "sla": (Trigger.SLA_WARNING, Trigger.SLA_BREACH),
    "severity": (Trigger.SEVERITY,),
    "soft_signal": (Trigger.SOFT_SIGNAL,),
    "unacknowledged": (Trigger.UNACKNOWLEDGED,),
    "manual": ("",),
}
WAVE = "wave"


def trigger_labels() -> dict[str, str]:
    """The names of `handoffs.escalations_by_trigger`'s rows, in the reader's language."""
    return {
        "no_progress": _("No progress"),
        "sla": _("SLA warning or breach"),
        "severity": _("Severity"),
        "soft_signal": _("Soft signal (risk score)"),
        "unacknowledged": _("Not acknowledged in time"),
        "manual": _("Manual"),
        "wave": _("Wave (major incident)"),
    }


def grain_of(period: Period) -> str:
    """Days for up to a month, weeks for up to half a year, months beyond."""
    days = (period.end - period.start).days
    return DAY if days <= 31 else WEEK if days <= 183 else MONTH


def buckets(period: Period, grain: str) -> list[dt.date]:
    """The first local day of every bucket of `grain` that overlaps the period, oldest first."""
    zone = site_zone()
    first = period.start.astimezone(zone).date()
    last = (period.end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    if grain == WEEK:
        first -= dt.timedelta(days=first.weekday())
    elif grain == MONTH:
        first = first.replace(day=1)
    days: list[dt.date] = []
    day = first
    while day <= last:
        days.append(day)
        if grain == DAY:
            day += dt.timedelta(days=1)
        elif grain == WEEK:
            day += dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return days


@dataclass(frozen=True)
class OverTime:
    """Escalations per bucket (`grain`) and receiving level: `counts[bucket][level_id]`."""

    grain: str
    buckets: list[dt.date]
    levels: list[SupportLevel]
    counts: dict[dt.date, dict[int, int]]

    def row(self, bucket: dt.date) -> list[int]:
        per_level = self.counts.get(bucket, {})
        return [per_level.get(level.pk, 0) for level in self.levels]


def escalations_over_time(
    tickets: QuerySet[Ticket],
    period: Period,
    grain: str | None = None,
    counted: dict[dt.date, dict[int, int]] | None = None,
) -> OverTime:
    """Two queries: the counts, and the levels that received any; one when `counted` gives
    the counts per bucket and receiving level (`reporting.rollups`)."""
    grain = grain or grain_of(period)
    counts: dict[dt.date, dict[int, int]] = defaultdict(dict)
    if counted is not None:
        counts.update(counted)
    else:
        trunc = {DAY: TruncDay, WEEK: TruncWeek, MONTH: TruncMonth}[grain]
        rows = (
            escalations_of(tickets)
            .filter(within("raised_at", period))
            .annotate(bucket=trunc("raised_at", tzinfo=site_zone()))
            .values("bucket", "to_level_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            bucket = row["bucket"]
            day = (
                bucket.astimezone(site_zone()).date() if isinstance(bucket, dt.datetime) else bucket
            )
            counts[day][row["to_level_id"]] = row["n"]
    level_ids = {level_id for per_level in counts.values() for level_id in per_level}
    levels = list(SupportLevel.objects.filter(pk__in=level_ids).order_by("rank"))
    return OverTime(grain, buckets(period, grain), levels, dict(counts))


def escalations_by_trigger(
    tickets: QuerySet[Ticket], period: Period, per_trigger: dict[str, int] | None = None
) -> dict[str, int]:
    """Per group of `TRIGGER_GROUPS`, then `WAVE`: how many, in that order. Two queries; one
    when `per_trigger` (the escalations raised per stored trigger, from the rollups) is given."""
    if per_trigger is None:
        per_trigger = dict(
            escalations_of(tickets)
            .filter(within("raised_at", period))
            .values("trigger")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("trigger", "n")
        )
    result = {
        group: sum(per_trigger.get(str(trigger), 0) for trigger in triggers)
        for group, triggers in TRIGGER_GROUPS.items()
    }
    result[WAVE] = (
        IncidentLink.objects.filter(
            within("linked_at", period),
            source=IncidentLink.Source.WAVE,
            ticket_id__in=tickets.order_by().values("pk"),
        )
        .values("ticket_id")
        .distinct()
        .count()
    )
    return result


@dataclass(frozen=True)
class LevelStays:
    """The stays at one level: `durations` in calendar time; `business` in business time on
    the calendar of the ticket's SLA policy (stays of tickets without one are left out, so
    its count may be smaller)."""

    level: SupportLevel
    durations: Durations
    business: Durations


# PostgreSQL: each hand-off's stay ends at the ticket's next hand-off (LEAD over the ticket's
# hand-offs in time order) or else at its resolution; one sort of the hand-offs instead of a
# correlated lookup of the next one per hand-off. Only the tickets a stay can end for in the
# period are read (`{ending}`: a hand-off raised in it, `{resolving}`: resolved in it), as one
# UNION the planner estimates from the two indexes: two `IN` under an OR are filters it
# cannot estimate, and it read every ticket and hand-off to join them (a day's few stays
# cost as much as a year's).
STAYS_SQL = """
SELECT to_level_id, raised_at, left_at, calendar_id, team_id, level_id, priority
FROM (
    SELECT h.to_level_id, h.raised_at, COALESCE(
        LEAD(h.raised_at) OVER (PARTITION BY h.ticket_id ORDER BY h.raised_at, h.id),
        t.resolved_at
    ) AS left_at, p.calendar_id, t.team_id, t.level_id, t.priority
    FROM ({handoffs}) h JOIN tickets_ticket t ON t.id = h.ticket_id
    LEFT JOIN sla_slapolicy p ON p.id = t.sla_policy_id
    WHERE h.ticket_id IN ({ending} UNION {resolving})
) stays
WHERE left_at >= %s AND left_at < %s AND left_at >= raised_at
"""

# The receiving level, arrived, left, the calendar of the ticket's SLA policy, and the ticket's
# team, level and priority now (for `reporting.rollups`).
Stay = tuple[int, dt.datetime, dt.datetime, int | None, int | None, int | None, int | None]


def _stays_in_sql(
    handoffs: QuerySet[Escalation], ending: QuerySet, resolving: QuerySet, period: Period
) -> list[Stay]:
    handoffs_sql, handoffs_params = handoffs.values(
        "id", "ticket_id", "to_level_id", "raised_at"
    ).query.sql_with_params()
    ending_sql, ending_params = ending.order_by().query.sql_with_params()
    resolving_sql, resolving_params = resolving.order_by().query.sql_with_params()
    sql = STAYS_SQL.format(handoffs=handoffs_sql, ending=ending_sql, resolving=resolving_sql)
    params = [*handoffs_params, *ending_params, *resolving_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, period.start, period.end])
        return [tuple(row) for row in cursor.fetchall()]  # type: ignore[misc]


def _stays_python(handoffs: QuerySet[Escalation], period: Period) -> list[Stay]:
    next_handoff = (
        Escalation.objects.filter(
            ticket_id=OuterRef("ticket_id"), raised_at__gt=OuterRef("raised_at")
        )
        .order_by("raised_at", "pk")
        .values("raised_at")[:1]
    )
    stays = (
        handoffs.annotate(
            left_at=Coalesce(
                Subquery(next_handoff, output_field=DateTimeField()), F("ticket__resolved_at")
            )
        )
        .filter(within("left_at", period), left_at__gte=F("raised_at"))
        .order_by()
    )
    return list(
        stays.values_list(
            "to_level_id",
            "raised_at",
            "left_at",
            "ticket__sla_policy__calendar_id",
            "ticket__team_id",
            "ticket__level_id",
            "ticket__priority",
        )
    )


def stays(tickets: QuerySet[Ticket], period: Period) -> list[Stay]:
    """The stays that ended in the period (one query)."""
    # A stay ends in the period at a hand-off raised in it or at a resolution in it: only those
    # tickets' hand-offs are read (a day's few, for the rollups), but every one of them, not
    # only those raised before the period ends — a stay's end is the next hand-off even when
    # that lies after the period, else the stay would end at an earlier resolution.
    ending = Escalation.objects.filter(within("raised_at", period)).values("ticket_id")
    resolving = Ticket.objects.filter(within("resolved_at", period)).values("pk")
    if percentiles_in_sql():
        return _stays_in_sql(handoffs_of(tickets).order_by(), ending, resolving, period)
    handoffs = (
        handoffs_of(tickets).filter(Q(ticket_id__in=ending) | Q(ticket_id__in=resolving)).order_by()
    )
    return _stays_python(handoffs, period)


def measure_stays(found: list[Stay]) -> list[tuple[Stay, float, float | None]]:
    """Each stay with its seconds in calendar time and in business time (over the calendar of
    the ticket's SLA policy; None without one). Three queries for the calendars."""
    specs = calendar_specs({stay[3] for stay in found if stay[3]})
    measured: list[tuple[Stay, float, float | None]] = []
    for stay in found:
        arrived, left, calendar_id = stay[1], stay[2], stay[3]
        business = None
        if calendar_id in specs:
            business = business_time_between(specs[calendar_id], arrived, left).total_seconds()
        measured.append((stay, (left - arrived).total_seconds(), business))
    return measured


def stay_seconds(found: list[Stay]) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Per receiving level, the stays' seconds in calendar time and in business time (stays
    without a calendar are left out of the second). Three queries for the calendars."""
    calendar: dict[int, list[float]] = defaultdict(list)
    business: dict[int, list[float]] = defaultdict(list)
    for stay, seconds, business_seconds in measure_stays(found):
        calendar[stay[0]].append(seconds)
        if business_seconds is not None:
            business[stay[0]].append(business_seconds)
    return calendar, business


def level_stays(
    calendar: dict[int, list[float]], business: dict[int, list[float]]
) -> list[LevelStays]:
    """The table's rows from the seconds per level (one query: the levels)."""
    return summarised_stays(
        {pk: summarise(found) for pk, found in calendar.items()},
        {pk: summarise(found) for pk, found in business.items()},
    )


def summarised_stays(
    calendar: dict[int, Durations], business: dict[int, Durations]
) -> list[LevelStays]:
    """The table's rows from the stays summarised per level (one query: the levels)."""
    counted = [pk for pk, found in calendar.items() if found.count]
    levels = SupportLevel.objects.filter(pk__in=counted)
    return [
        LevelStays(level, calendar[level.pk], business.get(level.pk, summarise([])))
        for level in levels.order_by("rank")
    ]


def time_in_tier(tickets: QuerySet[Ticket], period: Period) -> list[LevelStays]:
    """Per receiving level (by rank), the stays that ended in the period, in calendar time and
    in business time (`sla.clock.business_time_between` over the calendar of the ticket's SLA
    policy: the hours the ticket's calendar was open, pauses not taken out). Five queries: the
    stays, their calendars (three) and their levels. The stays are few beside the tickets (one
    per hand-off), so Python measures them."""
    return level_stays(*stay_seconds(stays(tickets, period)))


@dataclass(frozen=True)
class FirstContact:
    resolved: int  # resolved in the period, started at the 1st level
    at_first_contact: int  # of them: never handed off, never reopened

    @property
    def percent(self) -> float | None:
        return round(100 * self.at_first_contact / self.resolved, 1) if self.resolved else None


def started_first_level(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    """The tickets resolved in the period that started at the 1st level (the rank their first
    hand-off left from, else their level's): first-contact resolution's whole."""
    first_from_rank = (
        Escalation.objects.filter(ticket_id=OuterRef("pk"))
        .order_by("raised_at", "pk")
        .values("from_level__rank")[:1]
    )
    return (
        tickets.filter(within("resolved_at", period))
        .annotate(start_rank=Coalesce(Subquery(first_from_rank), F("level__rank")))
        .filter(start_rank=1)
    )


def at_first_contact() -> Q:
    """Never handed off and never reopened: first-contact resolution's part."""
    return ~Exists(Escalation.objects.filter(ticket_id=OuterRef("pk"))) & Q(reopen_count=0)


def first_contact_resolution(tickets: QuerySet[Ticket], period: Period) -> FirstContact:
    figures = (
        started_first_level(tickets, period)
        .order_by()
        .aggregate(resolved=Count("pk"), first=Count("pk", filter=at_first_contact()))
    )
    return FirstContact(figures["resolved"], figures["first"])


def handbacks(tickets: QuerySet[Ticket], period: Period) -> list[Escalation]:
    """The period's hand-backs, newest first, with their ticket, levels and author. Two
    queries (`figures.first_rows`)."""
    return first_rows(
        handoffs_of(tickets)
        .filter(within("raised_at", period), kind=Escalation.Kind.DE_ESCALATION)
        .order_by("-raised_at", "-pk"),
        HANDBACK_ROWS,
        ("ticket", "from_level", "to_level", "from_team", "to_team", "raised_by"),
    )
