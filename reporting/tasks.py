"""Celery tasks of the reporting app: thin wrappers around `reporting.weekly`."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from reporting import weekly


@shared_task(acks_late=True, ignore_result=True)
def send_weekly_reports() -> int:
    """Write the weekly report emails that are due (beat: every hour). Idempotent: each
    subscriber gets one per week."""
    return weekly.send_weekly_reports(timezone.now()).written
