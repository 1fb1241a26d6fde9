"""Reads of closing reports and measures: the list with its search and filters, the open
measures, who may be given a measure.

Visibility is the ticket's: a reader sees the reports of the tickets they may read
(`Ticket.objects.visible_to`), so a team lead sees the reports of their teams' tickets and an
admin every report. Search is PostgreSQL full text over the stored vector (English and German
configurations; the last word also as a prefix), a case-insensitive substring match elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from lessons.models import SEARCH_CONFIGS, CauseCategory, ClosingReport, Measure
from tickets.models import Service, Ticket
from tickets.services import is_agent

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
WORD = re.compile(r"\w+")


def reports_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ClosingReport]:
    """The closing reports `user` may read: those of the tickets they may read; none for
    anybody who is not an agent."""
    if not is_agent(user):  # type: ignore[arg-type]
        return ClosingReport.objects.none()
    return ClosingReport.objects.filter(ticket__in=Ticket.objects.visible_to(user))


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to (the form's cleaned values)."""

    query: str = ""
    category: CauseCategory | None = None
    service: Service | None = None
    level: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None


def terms(query: str) -> list[str]:
    """The words of a search, lower-cased, at most `MAX_TERMS` (the query is cut first)."""
    words = WORD.findall((query or "")[:MAX_QUERY_CHARS].lower())
    return [w for w in words if len(w) > 1 or w.isdigit()][:MAX_TERMS]


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def search(reports: QuerySet[ClosingReport], query: str) -> QuerySet[ClosingReport]:
    """`reports` matching every word of `query` (the last also as a prefix), best first on
    PostgreSQL; a query without words changes nothing."""
    words = terms(query)
    if not words:
        return reports
    if connection.vendor == "postgresql":
        # Words only (\w+), so nothing in them is tsquery syntax.
        parts = [f"'{word}'" for word in words]
        if len(words[-1]) >= 3:
            parts[-1] += ":*"
        raw = " & ".join(parts)
        tsquery = None
        for config in SEARCH_CONFIGS:
            part = SearchQuery(raw, search_type="raw", config=config)
            tsquery = part if tsquery is None else tsquery | part
        return (
            reports.filter(Q(search_vector=tsquery) | Q(ticket__reference__iexact=query.strip()))
            .annotate(rank=SearchRank(F("search_vector"), tsquery))
            .order_by(F("rank").desc(nulls_last=True), "-created_at", "-pk")
        )
    for word in words:
        reports = reports.filter(
            Q(ticket__reference__icontains=word)
            | Q(ticket__subject__icontains=word)
            | Q(cause__icontains=word)
            | Q(solution__icontains=word)
            | Q(impact__icontains=word)
            | Q(lessons_learned__icontains=word)
            | Q(preventive_measures__icontains=word)
        )
    return reports


def report_list(
    user: AbstractBaseUser | AnonymousUser, filters: Filters, *, limit: int = 100
) -> list[ClosingReport]:
    """The reports `user` may read, narrowed by `filters`, newest first (best first when
    searching), at most `limit`, each with its ticket, service, category and `open_measures`
    count: one query, whatever the number of reports."""
    reports = reports_for(user)
    if filters.category is not None:
        reports = reports.filter(category=filters.category)
    if filters.service is not None:
        reports = reports.filter(ticket__service=filters.service)
    if filters.level is not None:
        reports = reports.filter(level_rank=filters.level)
    # The period is when the ticket was resolved (its report's creation for one never
    # resolved), in the site's time zone.
    if filters.start is not None:
        reports = reports.filter(
            Q(ticket__resolved_at__gte=_day_start(filters.start))
            | Q(ticket__resolved_at__isnull=True, created_at__gte=_day_start(filters.start))
        )
    if filters.end is not None:
        after = _day_start(filters.end + dt.timedelta(days=1))
        reports = reports.filter(
            Q(ticket__resolved_at__lt=after)
            | Q(ticket__resolved_at__isnull=True, created_at__lt=after)
        )
    reports = reports.select_related(
        "ticket", "ticket__service", "ticket__level", "category"
    ).annotate(open_measures=Count("measures", filter=Q(measures__done_at__isnull=True)))
    reports = search(reports, filters.query)
    if not terms(filters.query):
        reports = reports.order_by("-created_at", "-pk")
    return list(reports[:limit])


def report_for_ticket(ticket: Ticket) -> ClosingReport | None:
    return ClosingReport.objects.filter(ticket=ticket).select_related("category").first()


def visible_measures(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Measure]:
    """The measures `user` follows: those of the reports they may read and those they own."""
    if not (user.is_authenticated and user.is_active):
        return Measure.objects.none()
    return Measure.objects.filter(
        Q(report__in=reports_for(user).values("pk")) | Q(owner_id=user.pk)
    )


def open_measures(user: AbstractBaseUser | AnonymousUser, *, limit: int = 200) -> list[Measure]:
    """The measures not yet done that `user` follows (`visible_measures`), oldest due date
    first (the overdue on top), at most `limit`. One query."""
    return list(
        visible_measures(user)
        .open()
        .select_related("report__ticket", "owner")
        .order_by("due_on", "pk")[:limit]
    )


def measures_of(report: ClosingReport) -> list[Measure]:
    return list(
        report.measures.select_related("owner", "done_by").order_by(
            F("done_at").asc(nulls_first=True), "due_on", "pk"
        )
    )


def active_agents() -> QuerySet:
    """Who may be given a measure: active team members and leads, and admins."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(teams__isnull=False) | Q(led_teams__isnull=False))
        .distinct()
        .order_by("username")
    )
