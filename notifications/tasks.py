"""Celery tasks of the outbox: thin wrappers around `notifications.outbox`. Both run on the
`deliveries` queue (routed in `helpdesk/celery.py`)."""

from __future__ import annotations

from celery import shared_task

from notifications import outbox
from notifications.queueing import RELAY_DELIVERIES, SEND_DELIVERY


@shared_task(name=SEND_DELIVERY, acks_late=True, ignore_result=True)
def send_delivery(delivery_id: int) -> str:
    """Send one delivery (queued after the commit that wrote it, by a retry, or by the relay).

    The retry policy lives with the row, not in Celery: `outbox.send` records the attempt
    and the next instant, and queues a short wait as a delayed task; a longer one is left to
    the relay. A duplicate task finds the row claimed and does nothing.
    """
    return outbox.send(delivery_id)


@shared_task(name=RELAY_DELIVERIES, acks_late=True, ignore_result=True)
def relay_deliveries() -> dict[str, int]:
    """The outbox relay (beat: every minute): queue what is due and was left behind."""
    return outbox.relay().summary()
