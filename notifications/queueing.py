"""The delivery tasks by name, and the queue they run on.

The outbox queues the send task without importing `notifications.tasks` (which imports the
outbox): the arrow points one way, tasks → outbox → this module. `helpdesk/celery.py` routes
these tasks to their own queue, so that a slow receiver holds a delivery worker, never the
worker that runs the escalation sweep and the SLA work.
"""

from __future__ import annotations

from celery import current_app
from celery.canvas import Signature

SEND_DELIVERY = "notifications.tasks.send_delivery"
RELAY_DELIVERIES = "notifications.tasks.relay_deliveries"
# Emails and webhooks (each send, and the relay that queues them) run on this queue; a worker
# started with `-Q deliveries` consumes it, the default worker the rest.
DELIVERIES_QUEUE = "deliveries"
DELIVERY_TASKS = (SEND_DELIVERY, RELAY_DELIVERIES)


def send_delivery_task(delivery_id: int) -> Signature:
    """The send task for one delivery, ready for `apply_async`. When the task is registered in
    this process (always in a worker) its own `apply_async` runs, which honours eager mode;
    otherwise the message is sent by name."""
    return current_app.signature(SEND_DELIVERY, args=(delivery_id,))
