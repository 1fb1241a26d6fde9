"""Celery tasks of the reporting app: thin wrappers around `reporting.weekly` and
`reporting.rollups`."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from reporting import rollups, weekly


@shared_task(acks_late=True, ignore_result=True)
def send_weekly_reports() -> int:
    """Write the weekly report emails that are due (beat: every hour). Idempotent: each
    subscriber gets one per week."""
    return weekly.send_weekly_reports(timezone.now()).written


@shared_task(acks_late=True, ignore_result=True)
def roll_up_reports() -> int:
    """Write the closed days of the reports' rollups that are missing or stale (beat: every
    five minutes), at most `rollups.DAYS_PER_RUN` a run. Idempotent."""
    return len(rollups.roll_up(timezone.now()).days)
