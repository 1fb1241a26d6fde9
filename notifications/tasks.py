"""Celery tasks of the outbox: thin wrappers around `notifications.outbox`."""

from __future__ import annotations

import logging

from celery import shared_task

from notifications import outbox

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def send_delivery(delivery_id: int) -> str:
    """Send one delivery (queued after the commit that wrote it, by a retry, or by the relay).

    The retry policy lives with the row, not in Celery: `outbox.deliver` records the attempt
    and the next instant; a short wait is queued here as a delayed task, a longer one is left
    to the relay. A duplicate task finds the row claimed and does nothing.
    """
    outcome = outbox.deliver(delivery_id)
    if outcome.retry_at is not None:
        outbox.enqueue(delivery_id, eta=outcome.retry_at)
    return outcome.status


@shared_task(acks_late=True, ignore_result=True)
def relay_deliveries() -> dict[str, int]:
    """The outbox relay (beat: every minute): queue what is due and was left behind."""
    report = outbox.relay()
    summary = {
        "recovered": report.recovered,
        "released": report.released,
        "digests": report.digests,
        "queued": len(report.queued),
        "not_queued": len(report.not_queued),
    }
    if any(summary.values()):
        logger.info("Outbox relay: %s", summary)
    return summary
