"""The outbox: written with its cause, queued after commit, sent once, retried with backoff,
relayed when the broker lost it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from notifications import outbox
from notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.tasks import send_delivery
from tests.notifications.conftest import verify_standard_webhook
from tickets import services
from tickets.models import TicketEvent

S = Delivery.Status
pytestmark = pytest.mark.django_db


def new_ticket(agent, team, **kw):
    return services.ticket_create(
        actor=agent,
        data=services.NewTicket(
            subject=kw.pop("subject", "Printer on fire"), description="", team=team, **kw
        ),
    )


def webhook_delivery(endpoint: WebhookEndpoint, **kw) -> Delivery:
    defaults = {
        "channel": Delivery.Channel.WEBHOOK,
        "kind": "ticket.created",
        "endpoint": endpoint,
        "event_id": f"evt_test{Delivery.objects.count()}",
        "payload": {"id": "evt_test", "type": "ticket.created", "data": {}},
    }
    return Delivery.objects.create(**(defaults | kw))


@pytest.fixture
def endpoint(receiver, allow_private) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(url=receiver.url, description="CRM")


class TestWrittenWithTheCause:
    def test_the_event_and_its_delivery_commit_together_and_the_task_is_queued_after(
        self, agent, team_a, queued, django_capture_on_commit_callbacks
    ):
        WebhookEndpoint.objects.create(url="https://crm.example.com/hook")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            ticket = new_ticket(agent, team_a)
            delivery = Delivery.objects.get(kind="ticket.created")
            # Inside the transaction: the row exists, nothing went to the broker yet.
            assert queued == []
        assert delivery.ticket_event == ticket.events.get(kind=TicketEvent.Kind.CREATED)
        assert delivery.status == S.PENDING
        assert delivery.event_id.startswith("evt_")
        assert len(callbacks) == 1
        callbacks[0]()
        assert queued == [(delivery.pk, None)]

    def test_a_rolled_back_transaction_sends_nothing(
        self, agent, team_a, queued, django_capture_on_commit_callbacks
    ):
        WebhookEndpoint.objects.create(url="https://crm.example.com/hook")
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            new_ticket(agent, team_a)
            assert Delivery.objects.count() == 1  # written with the event ...
            raise RuntimeError("the request failed later")
        assert Delivery.objects.count() == 0  # ... and gone with it
        assert callbacks == []
        assert queued == []

    def test_while_queueing_is_held_the_rows_are_written_but_no_task_is_queued(
        self, agent, team_a, queued, django_capture_on_commit_callbacks
    ):
        """History (the demo's past) is written with queueing held: its deliveries are
        settled before commit, so no send task is left for the worker to drain."""
        WebhookEndpoint.objects.create(url="https://crm.example.com/hook")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with outbox.queueing_held():
                new_ticket(agent, team_a)
            new_ticket(agent, team_a)  # held no longer: this one is queued
        assert Delivery.objects.filter(kind="ticket.created").count() == 2
        assert len(callbacks) == 1
        assert [pk for pk, _eta in queued] == [
            Delivery.objects.filter(kind="ticket.created").latest("pk").pk
        ]

    def test_every_endpoint_subscribed_gets_one_delivery_with_one_shared_event_id(
        self, agent, team_a, queued
    ):
        WebhookEndpoint.objects.create(url="https://a.example.com/", event_types=["ticket.created"])
        WebhookEndpoint.objects.create(url="https://b.example.com/")  # every event
        WebhookEndpoint.objects.create(url="https://c.example.com/", event_types=["sla.warning"])
        WebhookEndpoint.objects.create(url="https://d.example.com/", is_active=False)
        new_ticket(agent, team_a)
        rows = Delivery.objects.filter(kind="ticket.created")
        assert sorted(r.endpoint.url for r in rows) == [
            "https://a.example.com/",
            "https://b.example.com/",
        ]
        assert len({r.event_id for r in rows}) == 1


class TestBrokerDown:
    def test_a_broker_outage_never_fails_the_service_and_leaves_the_row_pending(
        self, agent, team_a, monkeypatch, django_capture_on_commit_callbacks
    ):
        WebhookEndpoint.objects.create(url="https://crm.example.com/hook")
        calls = []

        def down(*args, **kwargs):
            calls.append(kwargs)
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        monkeypatch.setattr(send_delivery, "apply_async", down)
        with django_capture_on_commit_callbacks(execute=True):
            new_ticket(agent, team_a, subject="one")
            new_ticket(agent, team_a, subject="two")
        assert set(Delivery.objects.values_list("status", flat=True)) == {S.PENDING}
        assert Delivery.objects.count() == 2
        # One try, failing fast (no retry loop), then a pause: the second commit did not wait.
        assert len(calls) == 1
        assert calls[0]["retry_policy"]["max_retries"] <= 1

    def test_enqueue_publishes_with_a_short_retry_policy(self, monkeypatch):
        seen = {}
        monkeypatch.setattr(send_delivery, "apply_async", lambda *a, **kw: seen.update(kw))
        assert outbox.enqueue(41) is True
        assert seen["retry"] is True and seen["retry_policy"] == outbox.FAST_PUBLISH


class TestSending:
    def test_a_delivery_is_claimed_by_one_sender_only(self, endpoint, receiver):
        delivery = webhook_delivery(endpoint)
        now = timezone.now()
        assert outbox.claim(delivery.pk, now) is True
        assert outbox.claim(delivery.pk, now) is False  # a duplicate task: nothing to do
        assert outbox.deliver(delivery.pk, now=now).status == "skipped"
        assert receiver.received == []

    def test_failures_retry_with_exponential_backoff_and_jitter_then_fail(
        self, endpoint, receiver, settings
    ):
        settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
        settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 10
        receiver.default = 503
        delivery = webhook_delivery(endpoint)
        now = timezone.now()

        first = outbox.deliver(delivery.pk, now=now)
        delivery.refresh_from_db()
        assert first.status == S.PENDING
        assert now + dt.timedelta(seconds=5) <= first.retry_at <= now + dt.timedelta(seconds=10)
        assert delivery.next_attempt_at == first.retry_at
        assert delivery.attempts == 1
        assert "HTTP 503" in delivery.last_error
        # Not due yet: another task arriving early sends nothing.
        assert outbox.deliver(delivery.pk, now=now + dt.timedelta(seconds=1)).status == "skipped"

        second = outbox.deliver(delivery.pk, now=first.retry_at)
        gap = second.retry_at - first.retry_at
        assert dt.timedelta(seconds=10) <= gap <= dt.timedelta(seconds=20)  # doubled

        third = outbox.deliver(delivery.pk, now=second.retry_at)
        delivery.refresh_from_db()
        assert third == outbox.SendOutcome(status=S.FAILED)
        assert delivery.status == S.FAILED
        assert "HTTP 503" in delivery.last_error
        attempts = list(delivery.attempt_log.all())
        assert [(a.number, a.ok, a.status_code) for a in attempts] == [
            (1, False, 503),
            (2, False, 503),
            (3, False, 503),
        ]
        # The same event id on every try, each signature valid for its own timestamp.
        assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.event_id}
        assert all(
            verify_standard_webhook(endpoint.secret, r.headers, r.body) for r in receiver.received
        )

    def test_success_after_a_failure_is_recorded_once(self, endpoint, receiver):
        receiver.responses = [500]
        delivery = webhook_delivery(endpoint)
        retry = outbox.deliver(delivery.pk).retry_at
        assert outbox.deliver(delivery.pk, now=retry).status == S.SENT
        delivery.refresh_from_db()
        assert delivery.sent_at is not None and delivery.last_error == ""
        assert outbox.deliver(delivery.pk, now=retry + dt.timedelta(hours=1)).status == "skipped"
        assert len(receiver.received) == 2

    @pytest.mark.parametrize(
        ("attempt", "rand", "expected"),
        [(1, 0.0, 15), (1, 1.0, 30), (2, 0.0, 30), (3, 1.0, 120), (12, 1.0, 3600), (12, 0.0, 1800)],
    )
    def test_backoff_doubles_within_half_to_full_and_is_capped(self, attempt, rand, expected):
        wait = outbox.backoff(attempt, base=30, cap=3600, rand=lambda: rand)
        assert wait == dt.timedelta(seconds=expected)

    def test_a_long_wait_is_left_to_the_relay(self, endpoint, receiver, settings):
        settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 3600
        receiver.default = 500
        outcome = outbox.deliver(webhook_delivery(endpoint).pk)
        assert outcome.status == S.PENDING and outcome.retry_at is None

    def test_the_task_queues_a_short_retry_as_a_delayed_task(self, endpoint, receiver, queued):
        receiver.default = 500
        delivery = webhook_delivery(endpoint)
        send_delivery(delivery.pk)
        delivery.refresh_from_db()
        assert queued == [(delivery.pk, delivery.next_attempt_at)]


class TestRelay:
    def test_relay_queues_what_is_due_once_per_lease(self, endpoint, queued):
        now = timezone.now()
        due = webhook_delivery(endpoint, next_attempt_at=now - dt.timedelta(minutes=3))
        later = webhook_delivery(endpoint, next_attempt_at=now + dt.timedelta(minutes=3))
        sent = webhook_delivery(endpoint, status=S.SENT, next_attempt_at=now)

        assert outbox.relay(now=now).queued == [due.pk]
        # A second relay at once (or a duplicate beat) finds it taken.
        assert outbox.relay(now=now).queued == []
        assert outbox.relay(now=now + outbox.relay_lease() - dt.timedelta(seconds=1)).queued == [
            later.pk
        ]
        # Still pending after the lease: its task was lost; queue it again.
        assert (
            due.pk in outbox.relay(now=now + outbox.relay_lease() + dt.timedelta(seconds=1)).queued
        )
        assert sent.pk not in [pk for pk, _eta in queued]

    def test_relay_puts_back_what_a_lost_worker_left_in_sending(self, endpoint, settings):
        settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
        now = timezone.now()
        old = now - outbox.sending_timeout() - dt.timedelta(seconds=1)
        lost = webhook_delivery(endpoint, status=S.SENDING, claimed_at=old, attempts=1)
        spent = webhook_delivery(endpoint, status=S.SENDING, claimed_at=old, attempts=3)
        busy = webhook_delivery(endpoint, status=S.SENDING, claimed_at=now, attempts=1)
        report = outbox.relay(now=now)
        assert report.recovered == 2
        statuses = dict(Delivery.objects.values_list("pk", "status"))
        assert statuses == {lost.pk: S.PENDING, spent.pk: S.FAILED, busy.pk: S.SENDING}
        assert lost.pk in report.queued

    def test_when_the_broker_is_still_down_the_next_relay_tries_again_at_once(
        self, endpoint, monkeypatch
    ):
        monkeypatch.setattr(outbox, "enqueue", lambda pk, **options: False)
        delivery = webhook_delivery(endpoint)
        report = outbox.relay()
        assert report.not_queued == [delivery.pk]
        delivery.refresh_from_db()
        assert delivery.relayed_at is None


class TestResend:
    def test_resend_is_a_fresh_round_of_attempts_with_the_same_event_id(
        self, endpoint, receiver, settings, queued, django_capture_on_commit_callbacks
    ):
        settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
        receiver.responses = [500]
        delivery = webhook_delivery(endpoint)
        assert outbox.deliver(delivery.pk).status == S.FAILED
        with django_capture_on_commit_callbacks(execute=True):
            assert outbox.resend(Delivery.objects.filter(pk=delivery.pk)) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (S.PENDING, 0)
        assert queued == [(delivery.pk, None)]
        assert outbox.deliver(delivery.pk).status == S.SENT
        assert [r.headers["webhook-id"] for r in receiver.received] == [delivery.event_id] * 2
        assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2

    def test_resend_leaves_pending_and_sending_rows_alone(self, endpoint, queued):
        pending = webhook_delivery(endpoint)
        sending = webhook_delivery(endpoint, status=S.SENDING)
        assert outbox.resend([pending, sending]) == 0
