"""The outbox: emails and webhooks are `Delivery` rows written in the transaction of their
cause, and sent by a worker after it commits.

    pending ──claim──▶ sending ──ok──▶ sent
       ▲                  │ failed, attempts left: back to pending at next_attempt_at
       └──────────────────┘ failed for good, or attempts used up: failed
    held ──(recipient's hours begin; relay)──▶ pending, or digested into one digest email
    cancelled: nothing left to send (recipient inactive, endpoint disabled)

Exactly once: a row is sent only by whoever moves it from pending to sending with a
conditional UPDATE, so duplicate tasks (relay and retry at once, two relays, a redelivered
message) send nothing twice. Nothing is lost: the row, not the broker, is the source of truth;
when a task never arrives (broker down at commit, worker killed), the relay finds the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from helpdesk import configcache, logcontext
from notifications import email, webhooks
from notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.queueing import send_delivery_task

logger = logging.getLogger(__name__)

S = Delivery.Status


def sending_timeout() -> dt.timedelta:
    """A row in `sending` longer than this was left by a worker that died mid-send: the relay
    puts it back (well above the webhook and SMTP timeouts, so a slow send is not taken for
    dead). `NOTIFICATIONS_SENDING_TIMEOUT_SECONDS`, 10 minutes by default."""
    return dt.timedelta(seconds=settings.NOTIFICATIONS_SENDING_TIMEOUT_SECONDS)


def relay_lease() -> dt.timedelta:
    """The relay queues a due row at most once per lease, however long the queue is
    (`NOTIFICATIONS_RELAY_LEASE_SECONDS`, 5 minutes by default)."""
    return dt.timedelta(seconds=settings.NOTIFICATIONS_RELAY_LEASE_SECONDS)


# Retries due sooner than this are scheduled as a delayed task; later ones are left to the
# relay (a broker holds delayed tasks only for its visibility timeout).
DIRECT_RETRY_LIMIT = dt.timedelta(minutes=5)
# After the broker refused a task, this process stops trying for a moment: one request that
# writes many deliveries during an outage waits for the broker once, not once per row.
BROKER_PAUSE_SECONDS = 15.0
# Publish once, reconnect once at most; never the default retry loop of several seconds.
FAST_PUBLISH = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# The send tasks' broker priorities (Redis serves the lowest number first; kombu keeps one
# list per step of 0, 3, 6, 9): the kinds registered as urgent (a sign-in code, useless after
# minutes) go ahead of every other email and webhook, a morning's digests included.
URGENT_PRIORITY = 0
NORMAL_PRIORITY = 6

_broker_down_until = 0.0


# --- Queueing ----------------------------------------------------------------------------------


def enqueue(
    delivery_id: int, *, eta: dt.datetime | None = None, priority: int = NORMAL_PRIORITY
) -> bool:
    """Put a send task for the delivery on the broker. Never raises and never waits long: when
    the broker is unreachable the row stays pending and the relay sends it later. Returns
    whether the task was queued."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    try:
        send_delivery_task(delivery_id).apply_async(
            eta=eta, retry=True, retry_policy=FAST_PUBLISH, priority=priority
        )
    except Exception as exc:  # kombu OperationalError, redis/socket errors: all the same here
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("Broker unreachable; delivery %s waits for the relay (%s)", delivery_id, exc)
        return False
    return True


def reset_broker_pause() -> None:
    """Forget an earlier broker failure (tests, and the relay once the broker answered)."""
    global _broker_down_until
    _broker_down_until = 0.0


_queueing_held: ContextVar[bool] = ContextVar("outbox_queueing_held", default=False)


@contextmanager
def queueing_held() -> Iterator[None]:
    """Write deliveries without queueing send tasks for them: for writing history (the demo's
    past), whose deliveries are settled before the transaction commits. Whatever stays
    pending is still sent: the relay finds it."""
    token = _queueing_held.set(True)
    try:
        yield
    finally:
        _queueing_held.reset(token)


def send_after_commit(deliveries: Iterable[Delivery]) -> None:
    """Queue each pending delivery once the current transaction has committed; nothing is
    queued when it rolls back, or while queueing is held (`queueing_held`)."""
    if _queueing_held.get():
        return
    for delivery in deliveries:
        if delivery.status == S.PENDING and delivery.pk is not None:
            pk, priority = delivery.pk, priority_of(delivery.kind)
            transaction.on_commit(lambda pk=pk, p=priority: enqueue(pk, priority=p), robust=True)


# --- Writing email deliveries ------------------------------------------------------------------


@dataclass(frozen=True)
class EmailGroup:
    """The emails of one notice: one per user, under one dedupe key. `holds` maps a user id
    to the start of their business hours when the email must wait (ignored when `urgent`)."""

    users: Sequence[Any]
    kind: str
    ticket: Any
    dedupe_key: str
    payload: dict[str, Any]
    now: dt.datetime
    urgent: bool
    holds: dict[int, dt.datetime | None]


def write_emails(
    users: Sequence[Any],
    *,
    kind: str,
    ticket: Any,
    dedupe_key: str,
    payload: dict[str, Any],
    now: dt.datetime,
    urgent: bool,
    holds: dict[int, dt.datetime | None],
) -> list[Delivery]:
    """One email delivery per user for `dedupe_key`, unless that user already has one (then
    nothing: nobody gets the same email twice for one cause)."""
    return write_email_groups(
        [EmailGroup(users, kind, ticket, dedupe_key, payload, now, urgent, holds)]
    )


def write_email_groups(groups: Sequence[EmailGroup]) -> list[Delivery]:
    """The email deliveries of many notices at once, as `write_emails` would write them one
    after the other (a user gets one email per dedupe key, whichever group comes first)."""
    groups = [group for group in groups if group.users]
    if not groups:
        return []
    taken = set(
        Delivery.objects.filter(
            channel=Delivery.Channel.EMAIL,
            dedupe_key__in={group.dedupe_key for group in groups},
            user__in={u.pk for group in groups for u in group.users},
        ).values_list("user_id", "dedupe_key")
    )
    rows = []
    for group in groups:
        for user in group.users:
            if (user.pk, group.dedupe_key) in taken:
                continue
            taken.add((user.pk, group.dedupe_key))
            held = None if group.urgent else group.holds.get(user.pk)
            rows.append(
                Delivery(
                    channel=Delivery.Channel.EMAIL,
                    status=S.HELD if held else S.PENDING,
                    kind=group.kind,
                    user=user,
                    ticket=group.ticket,
                    dedupe_key=group.dedupe_key,
                    payload=group.payload,
                    next_attempt_at=held or group.now,
                    created_at=group.now,
                )
            )
    if not rows:
        return []
    try:
        with transaction.atomic():
            created = Delivery.objects.bulk_create(rows)
    except IntegrityError:
        # Another transaction wrote one of them meanwhile: keep the others, one by one.
        created = []
        for row in rows:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                created.append(row)
            except IntegrityError:
                continue
    send_after_commit(created)
    return created


# --- Sending -----------------------------------------------------------------------------------


def backoff(
    attempt: int,
    *,
    base: float | None = None,
    cap: float | None = None,
    rand: Callable[[], float] = random.random,
) -> dt.timedelta:
    """The wait after the `attempt`-th failure: exponential (base·2^(attempt-1), at most
    `cap`) with jitter, between half and all of it, so that receivers coming back are not
    hit by every sender at the same instant."""
    base = settings.NOTIFICATIONS_RETRY_BASE_SECONDS if base is None else base
    cap = settings.NOTIFICATIONS_RETRY_MAX_SECONDS if cap is None else cap
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return dt.timedelta(seconds=ceiling / 2 + rand() * ceiling / 2)


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    error: str = ""
    status_code: int | None = None
    final: bool = False  # no retry: failed for good
    cancel: bool = False  # nothing to send at all


@dataclass(frozen=True)
class SendOutcome:
    status: str  # the delivery's status afterwards, or "skipped" when it was not ours
    retry_at: dt.datetime | None = None
    priority: int = NORMAL_PRIORITY  # of the retry's send task


def claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take a due pending delivery for sending. True for exactly one caller."""
    return (
        Delivery.objects.filter(pk=delivery_id, status=S.PENDING, next_attempt_at__lte=now).update(
            status=S.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
        == 1
    )


def _attempt(delivery: Delivery, now: dt.datetime) -> AttemptResult:
    if delivery.channel == Delivery.Channel.WEBHOOK:
        return _attempt_webhook(delivery, now)
    return _attempt_email(delivery)


EmailSender = Callable[[Delivery], None]
_email_senders: dict[str, EmailSender] = {}
_urgent_kinds: set[str] = set()


def register_email_sender(kind: str, sender: EmailSender, *, urgent: bool = False) -> None:
    """Send email deliveries of `kind` with `sender` instead of `email.send` (e.g. the mail
    app's customer emails, which go to a contact rather than a user). `sender` raises
    `email.Undeliverable` when there is nobody to send to, else the backend's error.

    `urgent`: the kind's send tasks go ahead of the others on the broker (`URGENT_PRIORITY`)
    and the relay queues its due rows first."""
    _email_senders[kind] = sender
    if urgent:
        _urgent_kinds.add(kind)
    else:
        _urgent_kinds.discard(kind)


def priority_of(kind: str) -> int:
    """The broker priority of a delivery's send task."""
    return URGENT_PRIORITY if kind in _urgent_kinds else NORMAL_PRIORITY


def _attempt_email(delivery: Delivery) -> AttemptResult:
    try:
        _email_senders.get(delivery.kind, email.send)(delivery)
    except email.Undeliverable as exc:
        return AttemptResult(ok=False, error=str(exc), cancel=True)
    except smtplib.SMTPRecipientsRefused as exc:
        return AttemptResult(ok=False, error=f"recipient refused: {exc}", final=True)
    except Exception as exc:  # SMTP, network, template: all retried, the error kept
        return AttemptResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    return AttemptResult(ok=True)


def _attempt_webhook(delivery: Delivery, now: dt.datetime) -> AttemptResult:
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.is_active:
        return AttemptResult(ok=False, error="the endpoint is disabled", cancel=True)
    result = webhooks.post(endpoint, delivery, now)
    if result.ok:
        return AttemptResult(ok=True, status_code=result.status)
    if result.status == 410:
        disable_endpoint(endpoint, reason=f"410 Gone at {now:%Y-%m-%d %H:%M} UTC", now=now)
        return AttemptResult(ok=False, error=result.error, status_code=410, final=True)
    return AttemptResult(
        ok=False, error=result.error, status_code=result.status, final=result.refused
    )


def disable_endpoint(endpoint: WebhookEndpoint, *, reason: str, now: dt.datetime) -> None:
    """The receiver unsubscribed: stop sending to it, and cancel what still waits for it."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_reason=reason)
    configcache.changed()  # the update bypasses the signals the endpoint cache watches
    endpoint.is_active, endpoint.disabled_reason = False, reason
    Delivery.objects.filter(endpoint=endpoint, status__in=[S.PENDING, S.HELD]).update(
        status=S.CANCELLED, last_error="the endpoint was disabled: " + reason
    )


def deliver(delivery_id: int, *, now: dt.datetime | None = None) -> SendOutcome:
    """Send one delivery if it is due and nobody else is sending it; record the attempt and
    decide what follows (sent, retry at a later instant, failed, cancelled).

    Runs outside any transaction: the HTTP or SMTP conversation never holds a lock.
    """
    now = now or timezone.now()
    if not claim(delivery_id, now):
        return SendOutcome(status="skipped")
    delivery = Delivery.objects.select_related("user", "endpoint", "ticket").get(pk=delivery_id)
    with logcontext.bind(ticket=delivery.ticket.reference if delivery.ticket else None):
        started = time.monotonic()
        try:
            result = _attempt(delivery, now)
        except Exception as exc:  # a bug must not leave the row in `sending` for ten minutes
            logger.exception("Delivery %s failed unexpectedly", delivery_id)
            result = AttemptResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        duration = int((time.monotonic() - started) * 1000)
        outcome = _finish(delivery, result, now=now, duration_ms=duration)
        logger.info(
            "Delivery %s (%s %s) attempt %s: %s in %s ms",
            delivery.pk,
            delivery.channel,
            delivery.kind,
            delivery.attempts,
            outcome.status,
            duration,
        )
    return outcome


def _finish(
    delivery: Delivery, result: AttemptResult, *, now: dt.datetime, duration_ms: int
) -> SendOutcome:
    retry_at = None
    if result.ok:
        fields: dict[str, Any] = {"status": S.SENT, "sent_at": timezone.now(), "last_error": ""}
    elif result.cancel:
        fields = {"status": S.CANCELLED, "last_error": result.error}
    elif result.final or delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        fields = {"status": S.FAILED, "last_error": result.error}
    else:
        retry_at = now + backoff(delivery.attempts)
        fields = {
            "status": S.PENDING,
            "next_attempt_at": retry_at,
            "relayed_at": None,
            "last_error": result.error,
        }
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_log.count() + 1,
            started_at=now,
            duration_ms=duration_ms,
            ok=result.ok,
            status_code=result.status_code,
            error=result.error[:2000],
        )
        updated = Delivery.objects.filter(
            pk=delivery.pk, status=S.SENDING, claimed_at=delivery.claimed_at
        ).update(**fields)
    if not updated:
        logger.warning("Delivery %s was taken back by the relay while sending", delivery.pk)
        return SendOutcome(status="skipped")
    if retry_at is not None and retry_at - now > DIRECT_RETRY_LIMIT:
        retry_at = None  # the relay picks it up when it is due
    return SendOutcome(
        status=fields["status"], retry_at=retry_at, priority=priority_of(delivery.kind)
    )


def send(delivery_id: int) -> str:
    """Send one delivery (the send task's use case): `deliver`, then queue a short retry as a
    delayed task; a longer wait is left to the relay. Returns the delivery's status."""
    outcome = deliver(delivery_id)
    if outcome.retry_at is not None:
        enqueue(delivery_id, eta=outcome.retry_at, priority=outcome.priority)
    return outcome.status


# --- Resending ---------------------------------------------------------------------------------


def resend(deliveries: Iterable[Delivery], *, now: dt.datetime | None = None) -> int:
    """Send finished deliveries again (admin "resend"): a fresh set of attempts on the same
    row, so a webhook keeps its event id. Deliveries still pending or being sent are left
    alone. Returns how many were queued."""
    now = now or timezone.now()
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        queued = dict(
            Delivery.objects.filter(pk__in=ids, status__in=[S.SENT, S.FAILED, S.CANCELLED])
            .select_for_update()
            .values_list("pk", "kind")
        )
        Delivery.objects.filter(pk__in=queued).update(
            status=S.PENDING,
            attempts=0,
            next_attempt_at=now,
            claimed_at=None,
            relayed_at=None,
            sent_at=None,
        )
        for pk, kind in queued.items():
            priority = priority_of(kind)
            transaction.on_commit(lambda pk=pk, p=priority: enqueue(pk, priority=p), robust=True)
    return len(queued)


# --- The relay ---------------------------------------------------------------------------------


@dataclass
class RelayReport:
    recovered: int = 0
    released: int = 0
    digests: int = 0
    queued: list[int] = field(default_factory=list)
    not_queued: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """The counts, for the log and the task result."""
        return {
            "recovered": self.recovered,
            "released": self.released,
            "digests": self.digests,
            "queued": len(self.queued),
            "not_queued": len(self.not_queued),
        }


def _recover_stale(now: dt.datetime) -> int:
    """Rows a dead worker left in `sending` go back to pending (or fail, attempts used up)."""
    stale = Q(status=S.SENDING, claimed_at__lt=now - sending_timeout())
    error = "the worker was lost while sending"
    failed = Delivery.objects.filter(
        stale, attempts__gte=settings.NOTIFICATIONS_MAX_ATTEMPTS
    ).update(status=S.FAILED, last_error=error)
    retried = Delivery.objects.filter(stale).update(
        status=S.PENDING, next_attempt_at=now, relayed_at=None, last_error=error
    )
    return failed + retried


def _release_held(now: dt.datetime, batch: int) -> tuple[int, int]:
    """Held emails whose hours have begun: one left for a recipient goes out as it is;
    several become one digest. Returns (released, digests)."""
    released = digests = 0
    with transaction.atomic():
        held = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=S.HELD, next_attempt_at__lte=now)
            .order_by("user_id", "created_at", "pk")[:batch]
        )
        by_user: dict[int, list[Delivery]] = defaultdict(list)
        for row in held:
            by_user[row.user_id].append(row)
        for user_id, rows in by_user.items():
            if len(rows) == 1:
                Delivery.objects.filter(pk=rows[0].pk, status=S.HELD).update(
                    status=S.PENDING, next_attempt_at=now
                )
                released += 1
                continue
            digest = Delivery.objects.create(
                channel=Delivery.Channel.EMAIL,
                kind=email.DIGEST,
                user_id=user_id,
                dedupe_key=f"digest:{rows[0].pk}",
                payload={"count": len(rows)},
                next_attempt_at=now,
                created_at=now,
            )
            Delivery.objects.filter(pk__in=[r.pk for r in rows], status=S.HELD).update(
                status=S.DIGESTED, digest=digest
            )
            digests += 1
    return released, digests


def _claim_for_relay(now: dt.datetime, batch: int) -> list[tuple[int, str]]:
    """Due pending rows (pk, kind) not queued by a relay within the lease, marked as queued
    now, the urgent kinds first. SKIP LOCKED: two relays at once take disjoint rows."""
    urgent_first = Case(When(kind__in=sorted(_urgent_kinds), then=0), default=1)
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=S.PENDING, next_attempt_at__lte=now)
            .filter(Q(relayed_at__isnull=True) | Q(relayed_at__lt=now - relay_lease()))
            .order_by(urgent_first, "next_attempt_at", "pk")
            .values_list("pk", "kind")[:batch]
        )
        Delivery.objects.filter(pk__in=[pk for pk, _kind in rows]).update(relayed_at=now)
    return rows


def relay(*, now: dt.datetime | None = None, batch: int = 500) -> RelayReport:
    """Catch up on everything the direct path missed (beat: every minute): put back rows a
    lost worker left in `sending`, release held emails whose hours have begun, and queue
    every due pending row. Safe to run twice at once: rows are claimed, sends are claimed."""
    now = now or timezone.now()
    report = RelayReport()
    report.recovered = _recover_stale(now)
    report.released, report.digests = _release_held(now, batch)
    reset_broker_pause()  # this task arrived through the broker: it is up again
    for pk, kind in _claim_for_relay(now, batch):
        queued = enqueue(pk, priority=priority_of(kind))
        (report.queued if queued else report.not_queued).append(pk)
    if report.not_queued:
        # The broker went away again: the next relay retries these at once, not after the lease.
        Delivery.objects.filter(pk__in=report.not_queued, status=S.PENDING).update(relayed_at=None)
    if any(report.summary().values()):
        logger.info("Outbox relay: %s", report.summary())
    return report
