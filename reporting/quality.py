"""How well the work holds, computed in SQL over the tickets given (already narrowed to what the
reader may see and the slices they chose), like `reporting.kpis`:

- `recurrence`: of the tickets created in the period that have a customer and an affected
  service, the ones whose customer had a ticket of the same service resolved within the
  `RECURRENCE_DAYS` days before. One query (a window over the events on PostgreSQL).
- `documentation`: of the escalations (up or across) raised in the period, the ones whose
  information package was complete when raised (every field of it filled in). One query.
- `closing_reports`: of the tickets resolved in the period that reached incident management
  (level 3) or above at any point, the ones with a closing report (`lessons`). One query.
- `deflections`: the knowledge base's "this solved my problem" answers given in the period
  (a ticket not written: no ticket, team or level, so the slices do not apply). One query.
- `rating_comments` and `low_ratings`: the period's customer ratings with a comment, and those
  at or below `PORTAL_LOW_RATING`, newest first (at most `RATING_ROWS`). Two queries each.
- `load`: per level and per day, week or month: tickets created, hand-offs received, tickets
  resolved, and tickets open at the end. Four queries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Length, Trim, TruncDay, TruncMonth, TruncWeek

from escalation.models import Escalation
from knowledge.models import Deflection
from lessons.models import ClosingReport
from lessons.rules import REPORT_LEVEL
from portal.models import Rating
from reporting.figures import Period, first_rows, within
from reporting.handoffs import DAY, MONTH, WEEK, buckets, grain_of
from reporting.trends import escalations_of, handoffs_of, site_zone
from tickets.models import SupportLevel, Ticket, TicketEvent

RECURRENCE_DAYS = 30
RATING_ROWS = 50
RATING_RELATED = ("ticket", "team")  # what a rating's row shows beside it


@dataclass(frozen=True)
class Share:
    """`part` of `whole`, and the share in percent (None of nothing)."""

    part: int
    whole: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.part / self.whole, 1) if self.whole else None


def recurrent() -> Exists:
    """The ticket's customer had a ticket of the same service resolved within the
    `RECURRENCE_DAYS` days before this one was created (any ticket: recurrence is a fact about
    the customer's service, not about who may read the earlier ticket)."""
    return Exists(
        Ticket.objects.filter(
            customer_id=OuterRef("customer_id"),
            service_id=OuterRef("service_id"),
            resolved_at__lt=OuterRef("created_at"),
            resolved_at__gte=OuterRef("created_at") - dt.timedelta(days=RECURRENCE_DAYS),
        ).exclude(pk=OuterRef("pk"))
    )


# PostgreSQL: the creations of the period and the resolutions that could precede them, as one
# stream of events per customer and service in time order; a creation recurs when the latest
# resolution before it (a window over the events before it) lies within the days. At equal
# instants a creation sorts first: a resolution must come strictly before. This is a sort of
# the period's rows, where a correlated EXISTS probes every customer's tickets once per ticket.
RECURRENCE_STREAM = """
    SELECT team_id, level_id, priority, kind, at, MAX(CASE WHEN kind = 1 THEN at END) OVER (
        PARTITION BY customer_id, service_id ORDER BY at, kind
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS last_resolved
    FROM (
        SELECT customer_id, service_id, team_id, level_id, priority, created_at AS at, 0 AS kind
        FROM ({created}) c
        UNION ALL
        SELECT customer_id, service_id, NULL, NULL, NULL, resolved_at AS at, 1 AS kind
        FROM ({resolved}) r
    ) events
"""
RECURRENCE_SQL = """
SELECT COUNT(*) FILTER (WHERE kind = 0),
       COUNT(*) FILTER (WHERE kind = 0 AND last_resolved >= at - %s)
FROM ({stream}) stream
"""
RECURRENCE_ROWS_SQL = """
SELECT team_id, level_id, priority, at, COALESCE(last_resolved >= at - %s, false)
FROM ({stream}) stream
WHERE kind = 0
"""


def with_customer_and_service(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Ticket]:
    """The tickets created in the period that have a customer and an affected service:
    recurrence's whole (its part: those that are `recurrent`)."""
    return tickets.filter(
        within("created_at", period), customer__isnull=False, service__isnull=False
    )


def _recurrence_stream(sql: str, tickets: QuerySet[Ticket], period: Period) -> list[tuple]:
    days = dt.timedelta(days=RECURRENCE_DAYS)
    created = with_customer_and_service(tickets, period).order_by()
    resolved = Ticket.objects.filter(
        resolved_at__gte=period.start - days,
        resolved_at__lt=period.end,
        customer__isnull=False,
        service__isnull=False,
    ).order_by()
    created_sql, created_params = created.values(
        "customer_id", "service_id", "team_id", "level_id", "priority", "created_at"
    ).query.sql_with_params()
    resolved_sql, resolved_params = resolved.values(
        "customer_id", "service_id", "resolved_at"
    ).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(stream=RECURRENCE_STREAM.format(created=created_sql, resolved=resolved_sql)),
            [days, *created_params, *resolved_params],
        )
        return cursor.fetchall()


def recurrence(tickets: QuerySet[Ticket], period: Period) -> Share:
    """One query."""
    if connection.vendor != "postgresql":
        figures = with_customer_and_service(tickets, period).aggregate(
            whole=Count("pk"), part=Count("pk", filter=Q(recurrent()))
        )
        return Share(figures["part"], figures["whole"])
    ((whole, part),) = _recurrence_stream(RECURRENCE_SQL, tickets, period)
    return Share(part, whole)


def recurrences(tickets: QuerySet[Ticket], period: Period) -> list[tuple]:
    """Per ticket of recurrence's whole in the period: its team, level and priority, its
    creation and whether it recurs (for `reporting.rollups`). One query."""
    if connection.vendor != "postgresql":
        return list(
            with_customer_and_service(tickets, period)
            .order_by()
            .annotate(recurs=recurrent())
            .values_list("team_id", "level_id", "priority", "created_at", "recurs")
        )
    return _recurrence_stream(RECURRENCE_ROWS_SQL, tickets, period)


def with_package_lengths(escalations: QuerySet[Escalation]) -> QuerySet[Escalation]:
    """`escalations` annotated with the trimmed length of each information-package field, for
    `complete_package`."""
    return escalations.annotate(
        **{f"{name}_length": Length(Trim(name)) for name in Escalation.PACKAGE_FIELDS}
    )


def complete_package() -> Q:
    """Every field of the information package filled in (over `with_package_lengths`)."""
    complete = Q()
    for name in Escalation.PACKAGE_FIELDS:
        complete &= Q(**{f"{name}_length__gt": 0})
    return complete


def documentation(tickets: QuerySet[Ticket], period: Period) -> Share:
    figures = (
        with_package_lengths(escalations_of(tickets).filter(within("raised_at", period)))
        .order_by()
        .aggregate(whole=Count("pk"), part=Count("pk", filter=complete_package()))
    )
    return Share(figures["part"], figures["whole"])


def reached_report_level() -> Q:
    """The ticket is at incident management (`lessons.rules.REPORT_LEVEL`) or above, or a
    "level changed" entry of its timeline moved it there once (every hand-off writes one): the
    rule `lessons.rules.level_reached` applies to one ticket, in SQL."""
    moved_up = TicketEvent.objects.filter(
        ticket_id=OuterRef("pk"),
        kind=TicketEvent.Kind.LEVEL_CHANGED,
        payload__to__gte=REPORT_LEVEL,
    )
    return Q(level__rank__gte=REPORT_LEVEL) | Q(Exists(moved_up))


def closing_reports(tickets: QuerySet[Ticket], period: Period) -> Share:
    """Of the tickets resolved in the period that reached level 3 or above, the ones with a
    closing report (written at any time, so the share of a past period can still grow). One
    query."""
    figures = (
        tickets.filter(within("resolved_at", period))
        .filter(reached_report_level())
        .order_by()
        .aggregate(whole=Count("pk"), part=Count("pk", filter=Q(has_closing_report())))
    )
    return Share(figures["part"], figures["whole"])


def has_closing_report() -> Exists:
    return Exists(ClosingReport.objects.filter(ticket_id=OuterRef("pk")))


def deflections(period: Period) -> int:
    return Deflection.objects.filter(within("created_at", period)).count()


def ratings_of(tickets: QuerySet[Ticket], period: Period) -> QuerySet[Rating]:
    return (
        Rating.objects.filter(
            within("created_at", period), Exists(tickets.filter(pk=OuterRef("ticket_id")))
        )
        .select_related(*RATING_RELATED)
        .order_by("-created_at", "-pk")
    )


def rating_comments(tickets: QuerySet[Ticket], period: Period) -> list[Rating]:
    """Two queries (`figures.first_rows`)."""
    return first_rows(ratings_of(tickets, period).exclude(comment=""), RATING_ROWS, RATING_RELATED)


def low_ratings(tickets: QuerySet[Ticket], period: Period) -> list[Rating]:
    """Two queries (`figures.first_rows`)."""
    return first_rows(
        ratings_of(tickets, period).filter(score__lte=settings.PORTAL_LOW_RATING),
        RATING_ROWS,
        RATING_RELATED,
    )


@dataclass(frozen=True)
class LoadRow:
    bucket: dt.date
    level: SupportLevel
    created: int
    handed_in: int
    resolved: int
    open_at_end: int


# (first local day of the bucket, level id) -> how many
LoadCounts = dict[tuple[dt.date, int | None], int]


def bucket_of(day: dt.date, grain: str) -> dt.date:
    """The first local day of the bucket of `grain` that holds `day` (as `handoffs.buckets`)."""
    if grain == WEEK:
        return day - dt.timedelta(days=day.weekday())
    if grain == MONTH:
        return day.replace(day=1)
    return day


def load(
    tickets: QuerySet[Ticket],
    period: Period,
    grain: str | None = None,
    counted: tuple[LoadCounts, LoadCounts, LoadCounts] | None = None,
) -> list[LoadRow]:
    """Per bucket (oldest first) and level (by rank), by the level a ticket is at now for
    created, resolved and open (a ticket's past levels are not replayed), and by the receiving
    level for hand-offs. Open at the end = open when the period started + created - resolved
    so far (a reopened ticket counts with its latest resolution). Four queries; two when
    `counted` gives the created, resolved and handed-in counts (`reporting.rollups`)."""
    grain = grain or grain_of(period)
    trunc = {DAY: TruncDay, WEEK: TruncWeek, MONTH: TruncMonth}[grain]
    zone = site_zone()

    def per_bucket(rows: QuerySet, field: str, level_field: str) -> dict[tuple[dt.date, int], int]:
        grouped = (
            rows.filter(within(field, period))
            .annotate(bucket=trunc(field, tzinfo=zone))
            .values("bucket", level_field)
            .annotate(n=Count("pk"))
            .order_by()
        )
        return {
            (row["bucket"].astimezone(zone).date(), row[level_field]): row["n"] for row in grouped
        }

    tickets = tickets.order_by()
    if counted is None:
        created = per_bucket(tickets, "created_at", "level_id")
        resolved = per_bucket(tickets, "resolved_at", "level_id")
        handed_in = per_bucket(handoffs_of(tickets), "raised_at", "to_level_id")
    else:
        created, resolved, handed_in = counted
    open_before = dict(
        tickets.filter(created_at__lt=period.start)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=period.start))
        .values("level_id")
        .annotate(n=Count("pk"))
        .values_list("level_id", "n")
    )
    level_ids = {level for _, level in (*created, *resolved, *handed_in)} | set(open_before)
    levels = list(SupportLevel.objects.filter(pk__in=level_ids).order_by("rank"))
    result = []
    still_open = defaultdict(int, open_before)
    for bucket in buckets(period, grain):
        for level in levels:
            key = (bucket, level.pk)
            still_open[level.pk] += created.get(key, 0) - resolved.get(key, 0)
            result.append(
                LoadRow(
                    bucket,
                    level,
                    created.get(key, 0),
                    handed_in.get(key, 0),
                    resolved.get(key, 0),
                    still_open[level.pk],
                )
            )
    return result
