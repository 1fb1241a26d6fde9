"""Celery tasks of the API: thin wrappers."""

from __future__ import annotations

from celery import shared_task

from api import idempotency


@shared_task(name="api.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete idempotency keys past their TTL (beat: hourly); returns how many."""
    return idempotency.purge_expired()
