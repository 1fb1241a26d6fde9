"""Prometheus metrics (`/metrics`).

Two kinds:
- **Read at scrape time** from the database and the broker (`StateCollector`): sweep lag and
  due backlog, the sweep's heartbeat, escalations by trigger and level, deliveries by status
  and channel, the outbox's age, tickets in back-off, Celery queue lengths. Every web process
  reports the same figures, and nothing is lost when a worker restarts.
- **Counted in the web process**: request latency by view (`REQUEST_LATENCY`). Under gunicorn
  with several workers, set `PROMETHEUS_MULTIPROC_DIR` (docker-compose does) so that the
  workers' figures are added up (prometheus_client's multiprocess mode).

Each scrape costs a fixed number of queries (`StateCollector.QUERIES`): aggregates over
indexed ranges, except the totals by trigger/level and by status/channel, which count their
whole tables (grouped counts; they grow with the history, see docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from escalation.models import Escalation, SweepFailure
from monitoring.models import SweepHeartbeat
from notifications.models import Delivery
from notifications.queueing import DELIVERIES_QUEUE
from tickets.models import Ticket

# Seconds; a ticket page is ~20-60 ms, the dashboard up to a few hundred.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "helpdesk_http_request_duration_seconds",
    "Time to answer a request, by view (URL name), method and status class.",
    ["view", "method", "status"],
    buckets=LATENCY_BUCKETS,
    registry=None,  # registered per scrape in `exposition`
)

CELERY_QUEUES = ("celery", DELIVERIES_QUEUE)
# kombu's Redis transport keeps a queue's messages of priority > 0 in sibling lists.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


def _seconds_since(instant: dt.datetime | None, now: dt.datetime) -> float:
    return max(0.0, (now - instant).total_seconds()) if instant else 0.0


def queue_lengths(broker_url: str) -> dict[str, int] | None:
    """Messages waiting per Celery queue, read from a Redis broker; None for other brokers."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        lengths: dict[str, int] = {}
        for queue in CELERY_QUEUES:
            keys = [queue] + [f"{queue}{_PRIORITY_SEP}{step}" for step in _PRIORITY_STEPS[1:]]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            lengths[queue] = sum(pipe.execute())
        return lengths
    finally:
        client.close()


def grouped_counts(manager: Any, *fields: str) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Rows per combination of `fields` (one grouped count, ordered by the fields)."""
    for row in manager.values(*fields).annotate(n=Count("pk")).order_by(*fields):
        yield tuple(row[field] for field in fields), row["n"]


class StateCollector(Collector):
    """Figures read from the database (and the broker) when Prometheus scrapes."""

    QUERIES = 6

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        due = Ticket.objects.active().filter(next_check_at__lte=now)
        backlog = due.aggregate(n=Count("pk"), oldest=Min("next_check_at"))
        lag = GaugeMetricFamily(
            "helpdesk_sweep_lag_seconds",
            "Now minus the oldest next_check_at that has come (0 when nothing is due).",
        )
        lag.add_metric([], _seconds_since(backlog["oldest"], now))
        yield lag
        yield GaugeMetricFamily(
            "helpdesk_sweep_due_tickets",
            "Active tickets whose next escalation check has come.",
            value=backlog["n"],
        )

        beat = SweepHeartbeat.objects.filter(pk=SweepHeartbeat.ONE).first()
        for name, text, value in (
            ("runs", "Escalation sweeps finished.", beat.runs if beat else 0),
            ("examined_tickets", "Tickets examined by sweeps.", beat.examined if beat else 0),
            ("fired_rules", "Escalation rules fired by sweeps.", beat.fired if beat else 0),
            ("failed_tickets", "Ticket evaluations that failed.", beat.failed if beat else 0),
            ("duration_seconds", "Seconds spent sweeping.", beat.seconds if beat else 0.0),
        ):
            yield CounterMetricFamily(f"helpdesk_sweep_{name}", text, value=value)
        yield GaugeMetricFamily(
            "helpdesk_sweep_last_duration_seconds",
            "Duration of the last finished sweep.",
            value=beat.last_duration if beat else 0.0,
        )
        yield GaugeMetricFamily(
            "helpdesk_sweep_last_finished_timestamp_seconds",
            "Unix time the last sweep finished (0: none yet).",
            value=beat.last_finished_at.timestamp() if beat and beat.last_finished_at else 0.0,
        )

        escalations = CounterMetricFamily(
            "helpdesk_escalations",
            "Escalations raised, by trigger (empty: manual) and receiving level rank.",
            labels=["trigger", "level"],
        )
        for (trigger, rank), n in grouped_counts(Escalation.objects, "trigger", "to_level__rank"):
            escalations.add_metric([trigger or "manual", str(rank)], n)
        yield escalations

        deliveries = GaugeMetricFamily(
            "helpdesk_deliveries",
            "Email and webhook deliveries, by status and channel.",
            labels=["status", "channel"],
        )
        for labels, n in grouped_counts(Delivery.objects, "status", "channel"):
            deliveries.add_metric(list(labels), n)
        yield deliveries

        oldest = Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=now
        ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
        yield GaugeMetricFamily(
            "helpdesk_outbox_age_seconds",
            "How long the oldest delivery that is due has waited to be sent (0: none waits).",
            value=_seconds_since(oldest, now),
        )
        yield GaugeMetricFamily(
            "helpdesk_sweep_backoff_tickets",
            "Tickets whose evaluation keeps failing, waiting for their next try.",
            value=SweepFailure.objects.count(),
        )

        try:
            lengths = queue_lengths(settings.CELERY_BROKER_URL)
        except Exception:
            lengths = None
            up = 0.0
        else:
            up = 1.0
        yield GaugeMetricFamily(
            "helpdesk_broker_up", "1 when the broker answered the scrape's questions.", value=up
        )
        if lengths is not None:
            queues = GaugeMetricFamily(
                "helpdesk_celery_queue_length",
                "Messages waiting per Celery queue.",
                labels=["queue"],
            )
            for queue, length in lengths.items():
                queues.add_metric([queue], length)
            yield queues


def exposition() -> bytes:
    """The text format for one scrape: this process's (or, in multiprocess mode, all web
    processes') request latency and the state read now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_LATENCY)
    registry.register(StateCollector())
    return generate_latest(registry)
