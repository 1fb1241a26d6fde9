"""Celery tasks of the SLA clock: thin wrappers around `sla.services`."""

from __future__ import annotations

from collections.abc import Sequence

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sla import services
from sla.models import RecomputeRun

# Tickets per background recomputation task: small enough to retry cheaply.
RECOMPUTE_CHUNK = 500


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_ticket_clocks(ticket_ids: list[int], run_id: int | None = None) -> int:
    """Recompute the SLA clocks of these tickets (after a policy or calendar change), and
    count them done on the run the admin follows."""
    count = services.sla_recompute_many(ticket_ids)
    if run_id is not None:
        record_progress(run_id, len(ticket_ids))
    return count


def record_progress(run_id: int, done: int) -> None:
    """Add `done` tickets to the run; the chunk that completes it marks it finished."""
    RecomputeRun.objects.filter(pk=run_id).update(done=F("done") + done)
    RecomputeRun.objects.filter(pk=run_id, done__gte=F("total"), finished_at=None).update(
        finished_at=timezone.now()
    )


def recompute_tickets(ticket_ids: Sequence[int]) -> int:
    """Recompute now, in this process."""
    return services.sla_recompute_many(ticket_ids)


def queue_recompute(
    ticket_ids: Sequence[int], *, subject: str = "", requested_by=None
) -> RecomputeRun:
    """Recompute in the worker, in chunks, once the caller's transaction has committed; the
    returned run shows the progress."""
    ids = list(ticket_ids)
    run = RecomputeRun.objects.create(
        total=len(ids), subject=subject[:500], requested_by=requested_by
    )
    for start in range(0, len(ids), RECOMPUTE_CHUNK):
        chunk = ids[start : start + RECOMPUTE_CHUNK]
        transaction.on_commit(
            lambda chunk=chunk: recompute_ticket_clocks.delay(chunk, run_id=run.pk)
        )
    if not ids:
        RecomputeRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    return run
