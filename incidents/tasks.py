"""Celery tasks of the incidents app: thin wrappers around `incidents.services`."""

from __future__ import annotations

from celery import shared_task

from incidents import services


@shared_task(acks_late=True, ignore_result=True)
def incident_sweep() -> dict[str, int]:
    """The wave trigger and the incidents' update reminders (beat: every minute).
    Idempotent: a wave fires once (`WaveFiring`), a reminder is sent once per deadline."""
    return services.incident_sweep()
