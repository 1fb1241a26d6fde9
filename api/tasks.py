"""Celery tasks of the API: thin wrappers."""

from __future__ import annotations

from celery import shared_task

from api import authentication, idempotency


@shared_task(name="api.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Delete idempotency keys past their TTL (beat: hourly); returns how many."""
    return idempotency.purge_expired()


@shared_task(name="api.tasks.purge_expired_tokens", ignore_result=True)
def purge_expired_tokens() -> int:
    """Delete API tokens past their expiry (beat: hourly); returns how many."""
    return authentication.purge_expired_tokens()
