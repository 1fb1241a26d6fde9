"""Celery tasks of the escalation engine: thin wrappers around `escalation.services`."""

from __future__ import annotations

import logging

from celery import shared_task

from escalation import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def sweep_escalations() -> dict[str, int]:
    """One sweep over the tickets whose next check has come (beat: every minute).

    Idempotent: duplicate beats or several workers at once do the work once.
    """
    report = services.sweep()
    summary = {
        "examined": report.examined,
        "fired": report.fired,
        "sla_events": report.sla_events,
        "failed": len(report.failed),
        "bulk": report.bulk,
        "single": report.single,
    }
    if report.fired or report.sla_events or report.failed:
        logger.info("Escalation sweep: %s", summary)
    return summary
