"""The outbox's claims, each condition on its own: the send claim (`outbox.claim`), the relay's
claim of due rows and its recovery of rows a lost worker left in `sending`.

Written against the survivors of `make mutation-db` (docs/mutation.md): each test changes one
condition of a claim at a time, so a mutant that drops or weakens it changes the answer.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from notifications import outbox
from notifications.models import Delivery, WebhookEndpoint
from portal.signin import CODE_KIND
from tests.notifications.test_outbox import webhook_delivery as delivery

S = Delivery.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint() -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(url="https://crm.example.com/hook", description="CRM")


def row(pk: int) -> dict:
    return Delivery.objects.values(
        "status", "attempts", "claimed_at", "relayed_at", "next_attempt_at", "last_error"
    ).get(pk=pk)


class TestSendClaim:
    def test_a_claim_marks_only_its_own_row_sending_counts_the_attempt_and_stamps_the_time(
        self, endpoint
    ):
        now = timezone.now()
        mine = delivery(endpoint, attempts=2, next_attempt_at=now)
        other = delivery(endpoint, attempts=2, next_attempt_at=now - dt.timedelta(minutes=1))
        assert outbox.claim(mine.pk, now) is True
        claimed = row(mine.pk)
        assert (claimed["status"], claimed["attempts"], claimed["claimed_at"]) == (
            S.SENDING,
            3,
            now,
        )
        # The other due row was not touched by this claim.
        assert (row(other.pk)["status"], row(other.pk)["attempts"]) == (S.PENDING, 2)
        assert row(other.pk)["claimed_at"] is None

    def test_a_row_due_later_is_not_claimed(self, endpoint):
        now = timezone.now()
        later = delivery(endpoint, next_attempt_at=now + dt.timedelta(seconds=1))
        assert outbox.claim(later.pk, now) is False
        assert (row(later.pk)["status"], row(later.pk)["attempts"]) == (S.PENDING, 0)

    @pytest.mark.parametrize("status", [S.SENT, S.FAILED, S.HELD, S.CANCELLED, S.SENDING])
    def test_a_row_that_is_not_pending_is_not_claimed(self, endpoint, status):
        now = timezone.now()
        done = delivery(endpoint, status=status, next_attempt_at=now)
        assert outbox.claim(done.pk, now) is False
        assert (row(done.pk)["status"], row(done.pk)["attempts"]) == (status, 0)


class TestRelayClaim:
    def test_the_relay_marks_what_it_queued_and_leaves_the_rest_unmarked(self, endpoint, queued):
        now = timezone.now()
        due = delivery(endpoint, next_attempt_at=now)
        later = delivery(endpoint, next_attempt_at=now + dt.timedelta(seconds=1))
        held = delivery(endpoint, status=S.SENT, next_attempt_at=now)
        assert outbox.relay(now=now).queued == [due.pk]
        assert row(due.pk)["relayed_at"] == now
        assert row(later.pk)["relayed_at"] is None
        assert row(held.pk)["relayed_at"] is None

    def test_within_the_lease_a_row_is_not_queued_again_and_after_it_it_is(self, endpoint, queued):
        now = timezone.now()
        lease = outbox.relay_lease()
        fresh = delivery(endpoint, next_attempt_at=now, relayed_at=now - lease)
        stale = delivery(
            endpoint, next_attempt_at=now, relayed_at=now - lease - dt.timedelta(seconds=1)
        )
        assert outbox.relay(now=now).queued == [stale.pk]
        assert row(fresh.pk)["relayed_at"] == now - lease

    def test_urgent_kinds_go_first_then_the_earliest_due_then_the_oldest_row(
        self, endpoint, queued
    ):
        assert outbox.priority_of(CODE_KIND) == outbox.URGENT_PRIORITY  # the portal's code
        now = timezone.now()
        minute = dt.timedelta(minutes=1)
        second_due = delivery(endpoint, next_attempt_at=now - minute)
        first_due = delivery(endpoint, next_attempt_at=now - 2 * minute)
        same_time_later_row = delivery(endpoint, next_attempt_at=now - minute)
        urgent = delivery(endpoint, kind=CODE_KIND, next_attempt_at=now)
        order = [urgent.pk, first_due.pk, second_due.pk, same_time_later_row.pk]
        assert [outbox.relay(now=now, batch=1).queued for _ in order] == [[pk] for pk in order]

    def test_rows_due_together_come_by_id_whatever_order_the_table_holds_them_in(
        self, endpoint, queued
    ):
        now = timezone.now()
        due = now - dt.timedelta(minutes=1)
        older, newer = (delivery(endpoint, next_attempt_at=due) for _ in range(2))
        # Rewrite the older row through an indexed column (and back): PostgreSQL stores its new
        # version after the newer row, in the table and in the index, so a scan meets the
        # newer row first. Only the id as the last sort key puts the older one first.
        for at in (now + dt.timedelta(days=1), due):
            Delivery.objects.filter(pk=older.pk).update(next_attempt_at=at)
        assert [outbox.relay(now=now, batch=1).queued for _ in range(2)] == [
            [older.pk],
            [newer.pk],
        ]

    def test_a_batch_takes_that_many_rows(self, endpoint, queued):
        now = timezone.now()
        rows = [delivery(endpoint, next_attempt_at=now) for _ in range(3)]
        assert outbox.relay(now=now, batch=2).queued == [rows[0].pk, rows[1].pk]
        assert outbox.relay(now=now, batch=2).queued == [rows[2].pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_row_another_relay_holds_is_skipped_not_waited_for(endpoint, queued):
    now = timezone.now()
    held = delivery(endpoint, next_attempt_at=now - dt.timedelta(minutes=1))
    free = delivery(endpoint, next_attempt_at=now)
    locked, release = threading.Event(), threading.Event()

    def other_relay() -> None:
        try:
            with transaction.atomic():
                list(Delivery.objects.select_for_update().filter(pk=held.pk))
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_relay)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # waiting for the lock fails the test
        try:
            assert outbox.relay(now=now).queued == [free.pk]
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        release.set()
        thread.join(timeout=30)
    assert row(held.pk)["relayed_at"] is None


class TestRecovery:
    def test_only_sending_rows_past_the_timeout_come_back_and_spent_ones_fail(
        self, endpoint, settings, queued
    ):
        settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
        now = timezone.now()
        limit = now - outbox.sending_timeout()
        just_in_time = delivery(endpoint, status=S.SENDING, claimed_at=limit, attempts=1)
        lost = delivery(
            endpoint, status=S.SENDING, claimed_at=limit - dt.timedelta(seconds=1), attempts=2
        )
        spent = delivery(
            endpoint, status=S.SENDING, claimed_at=limit - dt.timedelta(seconds=1), attempts=3
        )
        failed_long_ago = delivery(
            endpoint, status=S.FAILED, claimed_at=limit - dt.timedelta(hours=1), attempts=3
        )
        report = outbox.relay(now=now)
        assert report.recovered == 2
        error = "the worker was lost while sending"
        assert row(lost.pk) | {"claimed_at": None} == {
            "status": S.PENDING,
            "attempts": 2,
            "claimed_at": None,
            "relayed_at": now,  # queued again by the same relay
            "next_attempt_at": now,
            "last_error": error,
        }
        assert (row(spent.pk)["status"], row(spent.pk)["last_error"]) == (S.FAILED, error)
        assert row(just_in_time.pk)["status"] == S.SENDING
        assert row(failed_long_ago.pk)["status"] == S.FAILED
        assert row(failed_long_ago.pk)["last_error"] == ""
        assert report.queued == [lost.pk]

    def test_a_row_recovered_soon_after_it_was_relayed_is_queued_again_at_once(
        self, endpoint, queued
    ):
        # Its lease would otherwise hold it back although nobody is sending it any more.
        now = timezone.now()
        lost = delivery(
            endpoint,
            status=S.SENDING,
            claimed_at=now - outbox.sending_timeout() - dt.timedelta(seconds=1),
            relayed_at=now - dt.timedelta(minutes=1),
            attempts=1,
        )
        assert outbox.relay(now=now).queued == [lost.pk]
        assert row(lost.pk)["relayed_at"] == now
