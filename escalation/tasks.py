"""Celery tasks of the escalation engine: thin wrappers around `escalation.sweep`."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from escalation import sweep as sweeping
from helpdesk import logcontext

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def sweep_escalations(at: str | None = None, helper: bool = False) -> dict[str, int]:
    """One sweep over the tickets whose next check has come (beat: every minute).

    When more than one batch is due, the beat's sweep first asks up to
    `ESCALATION_SWEEP_PARALLEL` - 1 other workers to sweep the same instant (`at`, `helper`);
    they share the work through SKIP LOCKED. Idempotent: duplicate beats, helpers or several
    workers at once do the work once.
    """
    now = dt.datetime.fromisoformat(at) if at else timezone.now()
    helpers = 0
    if not helper:
        wanted = sweeping.helpers_wanted(
            now=now,
            parallel=settings.ESCALATION_SWEEP_PARALLEL,
            batch=settings.ESCALATION_SWEEP_BATCH,
        )
        for _ in range(wanted):
            try:
                sweep_escalations.apply_async(
                    kwargs={"at": now.isoformat(), "helper": True}, retry=False
                )
            except Exception:
                logger.warning(
                    "Could not ask another worker to help; sweeping alone", exc_info=True
                )
                break
            helpers += 1
    report = sweeping.sweep(now=now)
    summary = {
        "examined": report.examined,
        "fired": report.fired,
        "sla_events": report.sla_events,
        "failed": len(report.failed),
        "bulk": report.bulk,
        "single": report.single,
        "helpers": helpers,
    }
    for outcome in report.outcomes:
        # One line per ticket that moved, with its reference in the log context: with the
        # request id of the change and the delivery's line, one escalation can be followed.
        with logcontext.bind(ticket=outcome.reference):
            logger.info(
                "Sweep: ticket %s fired %s, SLA events %s",
                outcome.reference,
                outcome.fired or "-",
                outcome.sla_events or "-",
            )
    if report.fired or report.sla_events or report.failed:
        logger.info("Escalation sweep: %s", summary)
    return summary
