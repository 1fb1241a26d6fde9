"""An SLA warning or breach is recorded once, however many callers see it due at the same time:
`record_due_sla_events` claims it with a conditional UPDATE, and only the caller whose update
took the row writes the timeline entry (and so the notice the entry causes). Here two stale
copies of one ticket, then two connections on PostgreSQL at once."""

from __future__ import annotations

import importlib
import threading

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction

from notifications import outbox
from notifications.models import Notification
from sla.services import record_due_sla_events
from tests.escalation.test_services import Chain
from tests.notifications.test_services import escalated_with_owner
from tickets.models import Ticket, TicketEvent

K = Notification.Kind


def migration_defaults() -> None:
    """Put back the rows of the data migrations (policies, calendars, levels, tier targets,
    rules) where they are missing: after the browser suite's transactional tests this test
    has found them gone despite `serialized_rollback`. The migrations only add what is
    missing, so this is a no-op when the rows are there."""
    for module in ("sla.migrations.0002_defaults", "escalation.migrations.0002_default_rules"):
        importlib.import_module(module).forwards(django_apps, None)


def warnings_and_reminders(ticket: Ticket) -> tuple[int, list[str]]:
    events = TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.SLA_WARNING, payload__target="next_update"
    ).count()
    told = Notification.objects.filter(ticket=ticket, kind=K.STATUS_UPDATE_DUE)
    return events, sorted(told.values_list("user__username", flat=True))


@pytest.mark.django_db
def test_two_stale_copies_record_the_warning_once():
    ticket = escalated_with_owner(Chain())
    now = ticket.next_update_warning_at
    first, second = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)

    assert record_due_sla_events(first, now) == ["next_update:warning"]
    # The second copy still believes the warning unrecorded; the database knows better.
    assert second.next_update_warned_at is None
    assert record_due_sla_events(second, now) == []

    assert warnings_and_reminders(ticket) == (1, ["agent2"])
    ticket.refresh_from_db()
    assert ticket.next_update_warned_at == now


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_connections_at_once_record_the_breach_once(monkeypatch):
    monkeypatch.setattr(outbox, "enqueue", lambda delivery_id, **options: True)
    migration_defaults()
    ticket = escalated_with_owner(Chain())
    now = ticket.next_update_due_at  # warning and breach are both due
    copies = [Ticket.objects.get(pk=ticket.pk) for _ in range(2)]
    before = (ticket.next_update_warning_at, now, copies[0].next_update_warned_at)
    assert before[0] is not None and before[2] is None, before
    barrier = threading.Barrier(len(copies))
    results: list[object] = [None] * len(copies)

    def run(i: int) -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                results[i] = record_due_sla_events(copies[i], now)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(copies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert all(isinstance(r, list) for r in results), results
    recorded = sorted(kind for r in results for kind in r)  # type: ignore[union-attr]
    events = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", "actor", "payload"))
    assert recorded == ["next_update:breach", "next_update:warning"], (before, events)
    breaches = TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.SLA_BREACH, payload__target="next_update"
    )
    assert breaches.count() == 1
    assert warnings_and_reminders(ticket) == (1, ["agent2"])
    missed = Notification.objects.filter(ticket=ticket, kind=K.STATUS_UPDATE_MISSED)
    assert list(missed.values_list("user__username", flat=True)) == ["lead2"]
