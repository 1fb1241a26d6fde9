"""The weekly report email: once a week, each subscriber (a team lead or an admin who asked for
it, `WeeklyReportSubscription`) gets last week's key figures beside the week before's, counted
over the tickets they may read, in their language and time zone.

`send_weekly_reports(now)` runs from beat every hour (`reporting.tasks.send_weekly_reports`).
A subscriber's week is Monday to Sunday in their own time zone (`notifications.Preference`);
from `SEND_HOUR` on Monday, local time, the past week is due. The email is one `Delivery`
through the outbox under the dedupe key of that week, so beat running twice, or every hour
until next Monday, writes it once. The figures are the page's (`reporting.kpis.report`);
the delivery keeps only numbers and the email's words are chosen when it is sent, in the
subscriber's language (`weekly_rows`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from notifications.models import Delivery, Preference
from notifications.outbox import write_emails
from reporting import kpis
from reporting.figures import Period
from reporting.models import WeeklyReportSubscription
from reporting.selectors import report_tickets, sees_reports
from reporting.table import COUNT, MINUTES, PERCENT, SCORE, Figure

EMAIL_KIND = "weekly_report"
# Local hour on Monday from which last week's report goes out.
SEND_HOUR = 6


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def week_due(now: dt.datetime, zone: ZoneInfo) -> tuple[dt.date, Period] | None:
    """The Monday and the instants of the local week whose report is due at `now` in `zone`:
    the week before the current one, from Monday `SEND_HOUR` on; None before that hour."""
    local = now.astimezone(zone)
    monday = local.date() - dt.timedelta(days=local.weekday())
    starts = dt.datetime.combine(monday, dt.time(SEND_HOUR), tzinfo=zone)
    if local < starts:
        return None
    first = monday - dt.timedelta(days=7)
    return first, Period(
        dt.datetime.combine(first, dt.time.min, tzinfo=zone),
        dt.datetime.combine(monday, dt.time.min, tzinfo=zone),
    )


def headline(report: kpis.Report) -> dict[str, float | int | None]:
    """The figures the email shows, by key (numbers only: the words come at sending)."""
    sla = {c.target: c for c in report.sla}
    return {
        "tickets_created": report.escalations.tickets_created,
        "tickets_resolved": report.resolution.calendar.count,
        "first_response_median": _minutes(report.first_response.calendar.median),
        "acknowledgement_median": _minutes(report.acknowledgement.calendar.median),
        "resolution_median": _minutes(report.resolution.calendar.median),
        "sla_resolution": sla["resolution"].percent,
        "sla_breaches": sum(c.breaches for c in report.sla),
        "escalations": report.escalations.escalations,
        "escalation_rate": report.escalations.escalation_rate_percent,
        "bounce_back": report.escalations.bounce_back_percent,
        "first_contact": report.first_contact.percent,
        "recurrence": report.recurrence.percent,
        "documentation": report.documentation.percent,
        "closing_reports": report.closing_reports.percent,
        "csat": None
        if report.satisfaction.average is None
        else round(report.satisfaction.average, 2),
        "low_ratings": report.satisfaction.low,
    }


def row_labels() -> dict[str, tuple[str, str]]:
    """The email's rows in order: key → (label in the active language, unit)."""
    return {
        "tickets_created": (_("Tickets created"), COUNT),
        "tickets_resolved": (_("Tickets resolved"), COUNT),
        "first_response_median": (_("Time to first response (median)"), MINUTES),
        "acknowledgement_median": (_("Time to acknowledge an escalation (median)"), MINUTES),
        "resolution_median": (_("Time to resolution (median)"), MINUTES),
        "sla_resolution": (_("SLA: resolution"), PERCENT),
        "sla_breaches": (_("SLA breaches recorded"), COUNT),
        "escalations": (_("Escalations raised"), COUNT),
        "escalation_rate": (_("Escalation rate"), PERCENT),
        "bounce_back": (_("Bounce-back rate"), PERCENT),
        "first_contact": (_("First-contact resolution at the 1st level"), PERCENT),
        "recurrence": (_("Recurrence within 30 days"), PERCENT),
        "documentation": (_("Documentation quality"), PERCENT),
        "closing_reports": (_("Closing reports of level-3+ escalations"), PERCENT),
        "csat": (_("Customer satisfaction (CSAT)"), SCORE),
        "low_ratings": (_("Low ratings"), COUNT),
    }


def weekly_rows(payload: dict[str, Any]) -> list[Figure]:
    """The delivery's figures as rows, labelled in the active language."""
    now, before = payload.get("current", {}), payload.get("previous", {})
    return [
        Figure(label, unit, now.get(key), before.get(key))
        for key, (label, unit) in row_labels().items()
        if key in now
    ]


def dedupe_key(first_day: dt.date) -> str:
    return f"weekly-report:{first_day.isoformat()}"


def report_url(first_day: dt.date) -> str:
    """The reports page for the week (the page counts in the site's time zone)."""
    last = first_day + dt.timedelta(days=6)
    query = urlencode({"preset": "custom", "start": first_day, "end": last})
    return f"{settings.SITE_URL}{reverse('reporting:index')}?{query}"


@dataclass(frozen=True)
class WeeklyRun:
    written: int  # deliveries written now
    skipped: int  # subscribers whose report was not due, already written, or who may not read


def send_weekly_reports(now: dt.datetime) -> WeeklyRun:
    """Write the due weekly report of every subscriber, once per week each."""
    user_model = get_user_model()
    subscribers = list(
        user_model.objects.filter(weekly_report_subscription__isnull=False, is_active=True)
    )
    preferences = {p.user_id: p for p in Preference.objects.filter(user__in=subscribers).order_by()}
    written = skipped = 0
    for user in subscribers:
        preference = preferences.get(user.pk) or Preference(user=user)
        due = week_due(now, ZoneInfo(preference.timezone))
        if due is None or not sees_reports(user):
            skipped += 1
            continue
        first_day, period = due
        key = dedupe_key(first_day)
        if Delivery.objects.filter(
            channel=Delivery.Channel.EMAIL, user=user, dedupe_key=key
        ).exists():
            skipped += 1
            continue
        tickets = report_tickets(user)
        payload = {
            "first_day": first_day.isoformat(),
            "last_day": (first_day + dt.timedelta(days=6)).isoformat(),
            "timezone": preference.timezone,
            "url": report_url(first_day),
            "current": headline(kpis.report(tickets, period)),
            "previous": headline(kpis.report(tickets, period.previous())),
        }
        with transaction.atomic():
            created = write_emails(
                [user],
                kind=EMAIL_KIND,
                ticket=None,
                dedupe_key=key,
                payload=payload,
                now=now,
                urgent=False,
                holds={},
            )
        written += len(created)
        skipped += 1 - len(created)
    return WeeklyRun(written=written, skipped=skipped)


def subscribe(user: Any, weekly: bool) -> bool:
    """Set whether `user` gets the weekly report; the same request twice has one effect.
    Returns the state now."""
    if weekly:
        WeeklyReportSubscription.objects.get_or_create(user=user)
    else:
        WeeklyReportSubscription.objects.filter(user=user).delete()
    return weekly


def is_subscribed(user: Any) -> bool:
    return WeeklyReportSubscription.objects.filter(user=user).exists()
