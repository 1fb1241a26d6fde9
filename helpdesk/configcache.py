"""Per-process caching of configuration that changes rarely, seen by every process at once.

Every ticket write reads the same configuration: the SLA policies in force with their targets
and calendars, the severity matrix, the active escalation rules, the webhook endpoints. They
change a few times a year, in the admin; reading them anew for each ticket was most of the
statements of `ticket_create`. Each process keeps them here instead, under one shared
configuration version:

* an app declares the models its cached values are read from (`watch`); saving or deleting
  any of their rows, or changing one of their many-to-many sets, is a change (`changed`);
* a change empties this process's values at once and, when its transaction commits, writes a
  new version (a random token) to the shared cache (`CACHES["default"]`: Redis in production),
  so every other process empties its values too;
* a process compares the shared version with the one its values were read under once per
  request and once per Celery task (outside those, e.g. in a shell or a management command,
  at every read), so a change in the admin is seen by every worker from its next request on;
* inside a transaction that changed configuration and has not committed yet, values are read
  from the database and not kept (what it wrote may still be rolled back).

Writes that bypass the model signals (`QuerySet.update`, raw SQL) call `changed()` themselves.
Without Redis (`REDIS_URL` unset: one process on a laptop) the version lives in the process's
own memory, which is right for one process only.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

logger = logging.getLogger(__name__)

T = TypeVar("T")

VERSION_KEY = "helpdesk:config-version"

_values: dict[object, object] = {}
_lock = threading.Lock()
_seen_version: list[str | None] = [None]


class _Scope(threading.local):
    """Whether this thread is inside a request or task, and whether it has compared the
    versions in it already."""

    active = False
    checked = False


_scope = _Scope()


def begin_scope(**_kwargs: object) -> None:
    """A request or task starts: compare the versions once, at its first read."""
    _scope.active, _scope.checked = True, False


def end_scope(**_kwargs: object) -> None:
    _scope.active, _scope.checked = False, False


request_started.connect(begin_scope, dispatch_uid="configcache.begin")
request_finished.connect(end_scope, dispatch_uid="configcache.end")
try:
    from celery.signals import task_postrun, task_prerun
except ImportError:  # pragma: no cover - Celery is a dependency of the project
    pass
else:
    task_prerun.connect(begin_scope, dispatch_uid="configcache.task_begin", weak=False)
    task_postrun.connect(end_scope, dispatch_uid="configcache.task_end", weak=False)


def clear_local() -> None:
    """Forget this process's values (they are read again at their next use)."""
    with _lock:
        _values.clear()


def publish() -> None:
    """Write a new shared version: every process reads its values again (after commit)."""
    token = uuid.uuid4().hex
    try:
        cache.set(VERSION_KEY, token, timeout=None)
    except Exception:  # the cache is down: other processes keep their values until it is back
        logger.exception("Could not publish a configuration change to the shared cache.")
    with _lock:
        _values.clear()
        _seen_version[0] = token


def _changed_here() -> bool:
    """Whether this connection's open transaction changed configuration (not committed yet)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return False
    return any(func is publish for _ids, func, _robust in connection.run_on_commit)


def changed(**_kwargs: object) -> None:
    """Configuration changed: forget this process's values now, tell the others on commit.
    A signal receiver, and the call for writes that bypass the signals."""
    clear_local()
    if not _changed_here():
        transaction.on_commit(publish)


def _shared_version() -> str | None:
    """The shared version (a new one written when there is none); None if the cache fails."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception:
        logger.exception("Could not read the configuration version from the shared cache.")
        return None
    return version


def _current() -> bool:
    """Compare the versions (once per request or task); False when values may not be kept."""
    if _scope.active and _scope.checked:
        return True
    version = _shared_version()
    if version is None:
        clear_local()
        return False
    with _lock:
        if version != _seen_version[0]:
            _values.clear()
            _seen_version[0] = version
    _scope.checked = _scope.active
    return True


def cached(key: object, load: Callable[[], T]) -> T:
    """The value under `key`, read by `load()` at the first use after a change.

    `load` must return a value callers do not modify (model instances are shared by every
    caller of the process)."""
    if _changed_here() or not _current():
        return load()
    try:
        return _values[key]  # type: ignore[return-value]
    except KeyError:
        pass
    value = load()
    with _lock:
        if len(_values) > 512:  # bounded: keys carrying a date accumulate over months
            _values.clear()
        _values[key] = value
    return value


def watch(*watched: type[models.Model]) -> None:
    """Treat every save or delete of `watched` rows, and every change to one of their
    many-to-many sets, as a configuration change (idempotent)."""
    for model in watched:
        label = model._meta.label_lower
        post_save.connect(changed, sender=model, dispatch_uid=f"configcache.save.{label}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"configcache.delete.{label}")
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            m2m_changed.connect(
                changed, sender=through, dispatch_uid=f"configcache.m2m.{through._meta.label_lower}"
            )
