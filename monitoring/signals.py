"""Celery signal handlers: the request id goes along with every task queued during a request,
each task runs with its task id (and that request id) in the log context, and the escalation
sweep's end is recorded in its heartbeat (`monitoring.models.SweepHeartbeat`)."""

from __future__ import annotations

import contextlib
import logging
from contextvars import Token
from typing import Any

from celery import signals
from django.utils import timezone

from helpdesk import logcontext
from monitoring import services

logger = logging.getLogger(__name__)

SWEEP_TASK = "escalation.tasks.sweep_escalations"
REQUEST_ID_HEADER = "helpdesk_request_id"

# Per running task: the context tokens to restore and, for the sweep, when it started.
_running: dict[str, tuple[list[tuple[Any, Token[Any]]], Any]] = {}


def connect() -> None:
    signals.before_task_publish.connect(add_request_id, weak=False, dispatch_uid="mon-publish")
    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="mon-prerun")
    signals.task_postrun.connect(task_ended, weak=False, dispatch_uid="mon-postrun")


def add_request_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """The id of the request (or task) that queues a task travels in the message's headers."""
    current = logcontext.request_id.get()
    if headers is not None and current and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = current


def task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None or task is None:
        return
    request = getattr(task, "request", None)
    carried = getattr(request, REQUEST_ID_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    )
    tokens = [
        (logcontext.task_id, logcontext.task_id.set(task_id)),
        (logcontext.request_id, logcontext.request_id.set(carried)),
    ]
    _running[task_id] = (tokens, timezone.now())


def task_ended(
    task_id: str | None = None,
    task: Any = None,
    retval: Any = None,
    state: str | None = None,
    **kwargs: Any,
) -> None:
    if task_id is None:
        return
    tokens, started_at = _running.pop(task_id, ([], None))
    try:
        if (
            task is not None
            and task.name == SWEEP_TASK
            and state == "SUCCESS"
            and started_at is not None
            and isinstance(retval, dict)
        ):
            services.record_sweep(started_at=started_at, ended_at=timezone.now(), summary=retval)
    except Exception:
        # Monitoring must never turn a sweep that worked into a failed task.
        logger.warning("Could not record the sweep's heartbeat", exc_info=True)
    finally:
        for var, token in reversed(tokens):
            # ValueError: set in another context (a thread pool); nothing to restore.
            with contextlib.suppress(ValueError):
                var.reset(token)
