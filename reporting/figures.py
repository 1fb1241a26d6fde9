"""The building blocks of every figure: a period of instants, durations summarised as count,
mean, median and 90th percentile, and the business calendars durations are measured on."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TypeVar

from django.db import connection
from django.db.models import Model, Q, QuerySet

from sla.clock import CalendarSpec
from sla.models import BusinessCalendar
from sla.services import calendar_spec

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Period:
    """The instants [start, end)."""

    start: dt.datetime
    end: dt.datetime

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - (self.end - self.start), self.start)


@dataclass(frozen=True)
class Durations:
    """How many clocks stopped, and their mean, median and 90th percentile in seconds (None
    when none stopped)."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


def percentile(values: list[float], fraction: float, *, ordered: bool = False) -> float | None:
    """`percentile_cont`: the value at `fraction` of the sorted values, interpolated linearly
    between the two nearest (`ordered`: the values are sorted already)."""
    if not values:
        return None
    found = values if ordered else sorted(values)
    position = fraction * (len(found) - 1)
    low, high = math.floor(position), math.ceil(position)
    return found[low] + (found[high] - found[low]) * (position - low)


def percentiles_in_sql() -> bool:
    """PostgreSQL has `percentile_cont`; elsewhere Python computes the percentiles."""
    return connection.vendor == "postgresql"


def summarise(values: list[float]) -> Durations:
    """Count, mean, median and p90 of `values` (seconds), the way `percentile_cont` does."""
    values = sorted(values)  # once for both percentiles
    return Durations(
        count=len(values),
        mean=sum(values) / len(values) if values else None,
        median=percentile(values, 0.5, ordered=True),
        p90=percentile(values, 0.9, ordered=True),
    )


def first_rows(rows: QuerySet[M], limit: int, related: tuple[str, ...]) -> list[M]:
    """The first `limit` of `rows` (ordered) with the related rows `related` names, in two
    queries: their keys over `rows` alone, then those rows by key with their related rows (a
    row deleted in between is left out). In one query PostgreSQL spent 65 ms planning the
    join of six related tables with the period and the reader's visibility (a list of fifty
    hand-backs; load 6); the keys take a millisecond to plan and the rows by key a few."""
    keys = list(rows.values_list("pk", flat=True)[:limit])
    found = QuerySet(rows.model).select_related(*related).in_bulk(keys) if keys else {}
    return [found[key] for key in keys if key in found]


def within(field: str, period: Period) -> Q:
    """`field` lies in the period [start, end)."""
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def calendar_specs(calendar_ids: set[int]) -> dict[int, CalendarSpec]:
    """The clock's values of the given business calendars. Three queries (none without ids)."""
    if not calendar_ids:
        return {}
    calendars = BusinessCalendar.objects.filter(pk__in=calendar_ids).prefetch_related(
        "opening_hours", "exceptions"
    )
    return {calendar.pk: calendar_spec(calendar) for calendar in calendars}
