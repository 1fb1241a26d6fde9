"""Celery tasks of the SLA clock: thin wrappers around `sla.services`."""

from __future__ import annotations

from collections.abc import Sequence

from celery import shared_task
from django.db import transaction

from sla import services

# Tickets per background recomputation task: small enough to retry cheaply.
RECOMPUTE_CHUNK = 500


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_ticket_clocks(ticket_ids: list[int]) -> int:
    """Recompute the SLA clocks of these tickets (after a policy or calendar change)."""
    return services.sla_recompute_many(ticket_ids)


def recompute_tickets(ticket_ids: Sequence[int]) -> int:
    """Recompute now, in this process."""
    return services.sla_recompute_many(ticket_ids)


def queue_recompute(ticket_ids: Sequence[int]) -> None:
    """Recompute in the worker, in chunks, once the caller's transaction has committed."""
    ids = list(ticket_ids)
    for start in range(0, len(ids), RECOMPUTE_CHUNK):
        chunk = ids[start : start + RECOMPUTE_CHUNK]
        transaction.on_commit(lambda chunk=chunk: recompute_ticket_clocks.delay(chunk))
