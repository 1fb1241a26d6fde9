"""Celery tasks of the incidents app: thin wrappers around `incidents.services`."""

from __future__ import annotations

from celery import shared_task

from incidents import services
from notifications import outbox


@shared_task(acks_late=True, ignore_result=True)
def incident_sweep() -> dict[str, int]:
    """The wave trigger and the incidents' update reminders (beat: every minute).
    Idempotent: a wave fires once (`WaveFiring`), a reminder is sent once per deadline."""
    return services.incident_sweep()


@shared_task(acks_late=True, ignore_result=True)
def queue_deliveries(delivery_ids: list[int]) -> int:
    """Queue the send task of each outbox row of an incident update (queued once after its
    commit, `incidents.updates.queue_after_commit`). A row queued twice is sent once (the
    outbox claims it); one never queued is found by the relay. Returns how many were queued."""
    return sum(outbox.enqueue(pk) for pk in delivery_ids)
