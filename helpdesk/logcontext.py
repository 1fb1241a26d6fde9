"""What every log line should say about where it comes from: the request id, the ticket and
the Celery task, held in context variables so that any module can log without passing them on.

The request middleware (`monitoring.middleware`) and the Celery signals (`monitoring.signals`)
set them; code that works on one ticket at a time wraps that work in `bind(ticket=reference)`.
`ContextFilter` copies them onto each log record, where the JSON formatter (production) writes
them as fields: one escalation can be followed from the request through the sweep to the
delivery by its ticket reference and request id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
ticket: ContextVar[str | None] = ContextVar("ticket", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)

_VARS = {"request_id": request_id, "ticket": ticket, "task_id": task_id}


@contextmanager
def bind(**values: str | None) -> Iterator[None]:
    """Set some of `request_id`, `ticket`, `task_id` for the block, then restore them."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str | None]:
    return {name: var.get() for name, var in _VARS.items()}


class ContextFilter(logging.Filter):
    """Adds `request_id`, `ticket` and `task_id` to every record (None when not known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True
