"""Daily trends over a window of days, computed in SQL per local day of the site's time zone.

Each function takes the tickets to count (already narrowed to what the reader may see and the
filters they chose: a `Ticket` queryset), the last day of the window and its length, and
returns one `DayRow` per day, oldest first, with the days that had nothing filled in, so a chart
has no gaps. A fixed number of queries whatever the number of tickets: the grouping and the
counting happen in the database.

- `escalations_per_level`: escalations raised (up or across, not hand-backs) per day and per
  receiving level.
- `sla_compliance`: of the tickets resolved that day, how many met every SLA target (no breach
  recorded on any target).
- `median_time_to_acknowledge`: per day of raising, the median wall-clock time from raising to
  acknowledging, over the escalations acknowledged so far.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Count, Exists, F, FloatField, OuterRef, Q, QuerySet
from django.db.models.functions import Extract, TruncDate

from escalation.models import Escalation
from tickets.models import SupportLevel, Ticket

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    values: dict[str, float | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Trend:
    """A series per column (`columns`: key and label source) over `rows`, one row per day."""

    columns: list[tuple[str, str]]
    rows: list[DayRow]


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: object, fraction: float = 0.5, **extra: object) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def site_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def window(
    last_day: dt.date, days: int = DEFAULT_DAYS
) -> tuple[dt.datetime, dt.datetime, list[dt.date]]:
    """The instants bounding `days` local days ending with `last_day`, and the days."""
    zone = site_zone()
    first_day = last_day - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first_day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end, [first_day + dt.timedelta(days=n) for n in range(days)]


def handoffs_of(tickets: QuerySet[Ticket]) -> QuerySet[Escalation]:
    """Every hand-off (escalations and hand-backs) of `tickets`, through a correlated EXISTS:
    each escalation's ticket is looked up by key, not every ticket read first."""
    return Escalation.objects.filter(Exists(tickets.filter(pk=OuterRef("ticket_id"))))


def escalations_of(tickets: QuerySet[Ticket]) -> QuerySet[Escalation]:
    """Escalations (up or across, not hand-backs) of `tickets`."""
    return handoffs_of(tickets).exclude(kind=Escalation.Kind.DE_ESCALATION)


def escalations_per_level(
    tickets: QuerySet[Ticket], *, last_day: dt.date, days: int = DEFAULT_DAYS
) -> Trend:
    """Escalations raised per local day and receiving level (columns: one per level that has
    any in the window, by rank). Two queries."""
    start, end, day_list = window(last_day, days)
    counts = (
        escalations_of(tickets)
        .filter(raised_at__gte=start, raised_at__lt=end)
        .annotate(day=TruncDate("raised_at", tzinfo=site_zone()))
        .values("day", "to_level_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    table: dict[dt.date, dict[str, int]] = defaultdict(dict)
    level_ids: set[int] = set()
    for row in counts:
        table[row["day"]][str(row["to_level_id"])] = row["n"]
        level_ids.add(row["to_level_id"])
    levels = SupportLevel.objects.filter(pk__in=level_ids).order_by("rank")
    columns = [(str(level.pk), level.display_name) for level in levels]
    rows = [
        DayRow(day, {key: table[day].get(key, 0) for key, _label in columns}) for day in day_list
    ]
    return Trend(columns=columns, rows=rows)


def sla_compliance(
    tickets: QuerySet[Ticket], *, last_day: dt.date, days: int = DEFAULT_DAYS
) -> list[DayRow]:
    """Per local day: tickets resolved (`resolved`), of which met every target (`met`), and
    the share in percent (`percent`, None on a day without resolved tickets). One query."""
    start, end, day_list = window(last_day, days)
    breached = (
        Q(first_response_breached_at__isnull=False)
        | Q(next_update_breached_at__isnull=False)
        | Q(resolution_breached_at__isnull=False)
    )
    counts = (
        tickets.filter(resolved_at__gte=start, resolved_at__lt=end)
        .annotate(day=TruncDate("resolved_at", tzinfo=site_zone()))
        .values("day")
        .annotate(resolved=Count("pk"), met=Count("pk", filter=~breached))
        .order_by()
    )
    by_day = {row["day"]: row for row in counts}
    rows = []
    for day in day_list:
        row = by_day.get(day)
        resolved = row["resolved"] if row else 0
        met = row["met"] if row else 0
        percent = round(100 * met / resolved, 1) if resolved else None
        rows.append(DayRow(day, {"resolved": resolved, "met": met, "percent": percent}))
    return rows


def median_time_to_acknowledge(
    tickets: QuerySet[Ticket], *, last_day: dt.date, days: int = DEFAULT_DAYS
) -> list[DayRow]:
    """Per local day of raising: escalations acknowledged (`acknowledged`) and the median
    minutes from raising to acknowledging (`minutes`, None on a day without any). One query
    (PostgreSQL computes the median; other databases get the day's durations and Python
    takes the median, which is what the demo's SQLite needs)."""
    start, end, day_list = window(last_day, days)
    acknowledged = (
        escalations_of(tickets)
        .filter(raised_at__gte=start, raised_at__lt=end, acknowledged_at__isnull=False)
        .annotate(day=TruncDate("raised_at", tzinfo=site_zone()))
        .order_by()
    )
    medians: dict[dt.date, tuple[int, float]] = {}
    if connection.vendor == "postgresql":
        waited = Extract(F("acknowledged_at") - F("raised_at"), "epoch", output_field=FloatField())
        for row in acknowledged.values("day").annotate(
            n=Count("pk"), median=PercentileCont(waited)
        ):
            medians[row["day"]] = (row["n"], row["median"])
    else:
        waits: dict[dt.date, list[float]] = defaultdict(list)
        for day, raised, acked in acknowledged.values_list("day", "raised_at", "acknowledged_at"):
            waits[day].append((acked - raised).total_seconds())
        medians = {day: (len(v), statistics.median(v)) for day, v in waits.items()}
    rows = []
    for day in day_list:
        n, seconds = medians.get(day, (0, None))
        minutes = round(seconds / 60, 1) if seconds is not None else None
        rows.append(DayRow(day, {"acknowledged": n, "minutes": minutes}))
    return rows
