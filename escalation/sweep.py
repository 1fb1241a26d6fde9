"""The periodic sweep: every active ticket whose `next_check_at` has come is evaluated, in
batches locked with SKIP LOCKED (the set-based lane in `escalation.bulk`, the rest one at a time
through `escalation.evaluation`); the dry run; bringing tickets forward after a rule
change; the back-off of tickets whose evaluation keeps failing (`SweepFailure`)."""

from __future__ import annotations

import datetime as dt
import logging
import traceback

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from escalation import bulk as bulk_lane
from escalation.evaluation import evaluate_ticket
from escalation.facts import RuleSet
from escalation.models import SweepFailure
from escalation.reports import SweepReport
from helpdesk import configcache
from notifications.models import Notification
from notifications.services import notify
from tickets.models import Ticket

logger = logging.getLogger(__name__)

_NEXT_CHECK = Ticket._meta.get_field("next_check_at")


def helpers_wanted(*, now: dt.datetime, parallel: int, batch: int) -> int:
    """How many more sweeps should share the work due at `now`: one per further batch, at
    most `parallel` - 1 (one indexed count, capped)."""
    if parallel <= 1:
        return 0
    due = Ticket.objects.active().filter(next_check_at__lte=now)[: parallel * batch].count()
    return min(parallel - 1, max(0, -(-due // batch) - 1))


def sweep(
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    bulk: bool = True,
) -> SweepReport:
    """Evaluate every active ticket whose `next_check_at` has come. Rows another worker holds
    are skipped (SKIP LOCKED).

    With `bulk` (not for a dry run), each batch is locked and decided together and its rows
    written with a statement per table (`escalation/bulk.py`); tickets of a shape that lane
    does not take, or every ticket of a batch that failed there, are then evaluated one at a
    time. One at a time, each ticket has its own transaction: one that fails is logged, its
    failing streak recorded (`record_failure`: retried after 1, 2, 4 … minutes, at most an
    hour; the admins told once per streak) and the others go on. A ticket evaluated without
    failure ends its streak.
    """
    now = now or timezone.now()
    batch = batch or settings.ESCALATION_SWEEP_BATCH
    rules: RuleSet | None = None  # read once, and only when something is due
    report = SweepReport()
    # Keyset over (next_check_at, pk): each due ticket is looked at once per sweep, and the
    # probe stays one index range however many tickets are due (a ticket skipped because
    # another worker holds it, or that failed, waits for the next sweep).
    after: Q | RawSQL = Q()
    in_bulk = bulk and not dry_run and bulk_lane.available()
    while limit is None or report.examined < limit:
        size = batch if limit is None else min(batch, limit - report.examined)
        rows = list(
            Ticket.objects.active()
            .filter(after, next_check_at__lte=now)
            .order_by("next_check_at", "pk")
            .values_list("pk", "next_check_at")[:size]
        )
        if not rows:
            break
        last_pk, last_at = rows[-1]
        # A row comparison, so the (next_check_at, id) index starts right after the last row.
        after = RawSQL(
            '("tickets_ticket"."next_check_at", "tickets_ticket"."id") > (%s, %s)',
            (_NEXT_CHECK.get_db_prep_value(last_at, connection), last_pk),
            output_field=BooleanField(),
        )
        ids = [pk for pk, _at in rows]
        rules = rules or RuleSet.load()
        if in_bulk:
            with transaction.atomic():
                # By primary key only (the planner must not walk the due index for this);
                # a ticket that stopped being due since the probe is left out here.
                locked = {
                    t.pk: t
                    for t in Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("customer", "assignee", "sla_policy__calendar")
                    .filter(pk__in=ids)
                    .order_by()
                }
                tickets = [
                    t
                    for t in (locked.get(pk) for pk in ids)
                    if t is not None
                    and t.is_active
                    and t.next_check_at is not None
                    and t.next_check_at <= now
                ]
                report.examined += len(ids)
                handed_back = bulk_lane.run_batch(rules, tickets, now, report) if tickets else []
            back = set(handed_back)
            succeeded = [t.pk for t in tickets if t.pk not in back]
            for pk in handed_back:
                if _sweep_one(pk, now=now, rules=rules, report=report, dry_run=False):
                    succeeded.append(pk)
            clear_failures(succeeded)
            if len(rows) < size:
                break
            continue
        succeeded = []
        for pk in ids:
            report.examined += 1
            if _sweep_one(pk, now=now, rules=rules, report=report, dry_run=dry_run):
                succeeded.append(pk)
        if not dry_run:
            clear_failures(succeeded)
        if len(rows) < size:
            break
    return report


def _sweep_one(
    pk: int, *, now: dt.datetime, rules: RuleSet, report: SweepReport, dry_run: bool
) -> bool:
    """Evaluate one due ticket in its own transaction (skipped when another worker holds it
    or it is no longer due). True when it was evaluated; a failure is logged and, outside a
    dry run, backed off (`record_failure`)."""
    try:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("team", "level", "customer", "sla_policy__calendar")
                .filter(pk=pk, next_check_at__lte=now)
                .first()
            )
            if ticket is None:
                return False  # another worker has it, or it is no longer due
            report.single += 1
            outcome = evaluate_ticket(ticket, now=now, rules=rules, dry_run=dry_run)
            if outcome.fired or outcome.sla_events or dry_run:
                report.outcomes.append(outcome)
            if dry_run:
                transaction.set_rollback(True)
    except Exception as error:
        logger.exception("Escalation sweep failed for ticket %s; retried after a delay", pk)
        report.failed.append(pk)
        if not dry_run:
            record_failure(pk, now=now, error=error)
        return False
    return True


# The longest wait between two tries of a ticket that keeps failing.
RETRY_AT_MOST = dt.timedelta(hours=1)


def retry_delay(failures: int) -> dt.timedelta:
    """How long a ticket waits after its `failures`-th failure in a row: 1, 2, 4 … minutes,
    at most `RETRY_AT_MOST`."""
    return min(dt.timedelta(minutes=2 ** min(max(failures - 1, 0), 10)), RETRY_AT_MOST)


def record_failure(pk: int, *, now: dt.datetime, error: BaseException) -> SweepFailure | None:
    """Count one more failure of the ticket's evaluation: its `next_check_at` goes to the
    retry instant (so neither this sweep nor the next batches keep stumbling on it), and on
    the first failure of a streak the admins (superusers) get an in-app notification. Never
    raises: the rest of the sweep goes on whatever happens here."""
    text = "".join(traceback.format_exception(error))[-4000:]
    try:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update(of=("self",)).filter(pk=pk).first()
            if ticket is None:
                return None
            failure = SweepFailure.objects.filter(ticket=ticket).first() or SweepFailure(
                ticket=ticket, first_failed_at=now
            )
            failure.failures += 1
            failure.last_failed_at = now
            failure.last_error = text
            failure.retry_at = now + retry_delay(failure.failures)
            failure.save()
            Ticket.objects.filter(pk=pk).update(next_check_at=failure.retry_at)
            if failure.failures == 1:
                admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
                notify(
                    admins,
                    kind=Notification.Kind.SWEEP_FAILED,
                    ticket=ticket,
                    cause=f"sweep_failed:{pk}:{int(failure.first_failed_at.timestamp())}",
                    payload={},
                    now=now,
                    urgent=False,
                )
            return failure
    except Exception:
        logger.exception("Could not record the sweep failure of ticket %s", pk)
        return None


def clear_failures(ticket_ids: list[int]) -> None:
    """Tickets evaluated without failure end their failing streaks (one statement)."""
    if ticket_ids:
        SweepFailure.objects.filter(ticket_id__in=ticket_ids).delete()


def rules_changed(*, now: dt.datetime | None = None) -> int:
    """After rules were added, changed or removed: every active ticket is looked at again by
    the next sweep (their `next_check_at` was computed from the old rules). Returns how many
    tickets were brought forward. The rules cached per process are read again as well (a
    change written with `QuerySet.update` bypasses the signals `helpdesk.configcache` watches)."""
    now = now or timezone.now()
    configcache.changed()
    return (
        Ticket.objects.active()
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__gt=now))
        .update(next_check_at=now)
    )
