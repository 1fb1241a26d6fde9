"""Celery tasks of the lessons app: thin wrappers around `lessons.services`."""

from __future__ import annotations

from celery import shared_task

from lessons import services


@shared_task(acks_late=True, ignore_result=True)
def remind_due_measures() -> int:
    """Remind the owners of preventive measures due today or overdue (beat: every 15 minutes).
    Idempotent: each owner is reminded once per due date."""
    return services.remind_due_measures()
