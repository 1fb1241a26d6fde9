"""The sign-in code goes through the outbox: written in the request's transaction, sent by the
delivery worker ahead of every other email, never by the request itself (which therefore
never waits for SMTP); a code that is no longer good is not sent at all."""

from __future__ import annotations

import re

import pytest
import redis
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from helpdesk.celery import app
from notifications import outbox
from notifications.models import Delivery
from notifications.queueing import DELIVERIES_QUEUE
from notifications.tasks import send_delivery
from portal import signin
from portal.models import SignInCode
from tests.portal.conftest import ContactFactory
from tickets.models import ContactAddress

pytestmark = pytest.mark.django_db

S = Delivery.Status


class FailingBackend(BaseEmailBackend):
    """An SMTP server that does not answer: every send fails after a while; counted."""

    calls = 0

    def send_messages(self, messages):
        type(self).calls += 1
        raise TimeoutError("the SMTP server did not answer")


@pytest.fixture
def queued(monkeypatch) -> list[tuple[int, int]]:
    """The send tasks put on the broker, as (delivery, priority)."""
    seen: list[tuple[int, int]] = []

    def record(pk: int, *, eta=None, priority: int = outbox.NORMAL_PRIORITY) -> bool:
        seen.append((pk, priority))
        return True

    monkeypatch.setattr(outbox, "enqueue", record)
    return seen


def test_the_code_is_queued_in_the_transaction_and_sent_by_the_worker(
    client, queued, django_capture_on_commit_callbacks
):
    contact = ContactFactory(email="anna@acme.example", language="de")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("portal:sign_in"), {"email": "anna@acme.example"})
    assert response.status_code == 302
    # Written in the request's transaction; nothing sent, nothing queued before the commit.
    delivery = Delivery.objects.get(kind=signin.CODE_KIND)
    assert (delivery.contact, delivery.status, delivery.user) == (contact, S.PENDING, None)
    assert mail.outbox == [] and queued == []
    for callback in callbacks:
        callback()
    assert queued == [(delivery.pk, outbox.URGENT_PRIORITY)]
    assert mail.outbox == []  # the request itself never talks to SMTP

    assert send_delivery(delivery.pk) == S.SENT  # the delivery worker's task
    (sent,) = mail.outbox
    assert sent.to == ["anna@acme.example"] and "Anmeldecode" in sent.subject
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    code = re.search(r"\b(\d{6})\b", sent.body).group(1)
    # The row keeps the code only sealed: the database alone does not sign anybody in.
    assert code not in str(delivery.payload)
    assert client.post(reverse("portal:code"), {"code": code})["Location"] == reverse(
        "portal:tickets"
    )


def test_the_request_does_not_wait_for_smtp_and_the_worker_retries(
    client, settings, queued, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    FailingBackend.calls = 0
    ContactFactory(email="bert@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:sign_in"), {"email": "bert@acme.example"})
    assert response.status_code == 302
    assert FailingBackend.calls == 0
    (pk, _priority) = queued[0]
    assert outbox.deliver(pk).status == S.PENDING  # retried with backoff, not lost
    delivery = Delivery.objects.get(pk=pk)
    assert FailingBackend.calls == 1 and "did not answer" in delivery.last_error


def test_an_unknown_address_gets_no_delivery(client, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:sign_in"), {"email": "nobody@acme.example"})
    assert SignInCode.objects.count() == 1
    assert not Delivery.objects.exists() and queued == []


def test_a_replaced_code_is_not_sent(queued):
    contact = ContactFactory(email="cora@acme.example")
    signin.code_request(address=contact.email, ip="192.0.2.1")
    signin.code_request(address=contact.email, ip="192.0.2.1")
    first, second = Delivery.objects.filter(kind=signin.CODE_KIND).order_by("pk")
    assert outbox.deliver(first.pk).status == S.CANCELLED
    assert outbox.deliver(second.pk).status == S.SENT
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"portal_access": False},
        {"is_active": False},
        {"email": "new-address@acme.example"},
    ],
)
def test_a_contact_who_may_no_longer_sign_in_gets_no_code(queued, change):
    contact = ContactFactory(email="dana@acme.example")
    signin.code_request(address=contact.email, ip="192.0.2.1")
    for name, value in change.items():
        setattr(contact, name, value)
    contact.save()
    # A new primary address keeps the old one as a further address: removed here too.
    contact.addresses.exclude(email=contact.email).delete()
    delivery = Delivery.objects.get(kind=signin.CODE_KIND)
    assert outbox.deliver(delivery.pk).status == S.CANCELLED
    assert mail.outbox == []


def test_an_expired_code_is_not_sent(queued):
    contact = ContactFactory(email="emil@acme.example")
    signin.code_request(
        address=contact.email, ip="192.0.2.1", now=timezone.now() - timezone.timedelta(minutes=11)
    )
    delivery = Delivery.objects.get(kind=signin.CODE_KIND)
    assert outbox.deliver(delivery.pk).status == S.CANCELLED


def test_the_relay_queues_codes_before_a_backlog_of_digests(queued, agent):
    now = timezone.now()
    backlog = Delivery.objects.bulk_create(
        Delivery(
            channel=Delivery.Channel.EMAIL,
            kind="digest",
            user=agent,
            dedupe_key=f"digest:{i}",
            next_attempt_at=now - timezone.timedelta(minutes=5),
        )
        for i in range(3)
    )
    contact = ContactFactory(email="finn@acme.example")
    signin.code_request(address=contact.email, ip="192.0.2.1")
    code = Delivery.objects.get(kind=signin.CODE_KIND)
    report = outbox.relay(batch=2)
    assert report.queued == [code.pk, backlog[0].pk]
    assert queued == [(code.pk, outbox.URGENT_PRIORITY), (backlog[0].pk, outbox.NORMAL_PRIORITY)]


@pytest.mark.redis
def test_on_the_broker_the_code_is_taken_before_the_queued_digests(settings):
    """The real Redis broker: a worker's next message is the code, however many other
    deliveries were queued before it."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = lambda: client.keys(f"{DELIVERIES_QUEUE}*")  # noqa: E731 - one list per priority
    if keys():
        client.delete(*keys())
    outbox.reset_broker_pause()
    try:
        for pk in (101, 102, 103):
            assert outbox.enqueue(pk, priority=outbox.priority_of("digest"))
        assert outbox.enqueue(999, priority=outbox.priority_of(signin.CODE_KIND))
        taken = []
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            while (message := channel.basic_get(DELIVERIES_QUEUE, no_ack=True)) is not None:
                taken.append(message.headers["argsrepr"])
        assert taken == ["(999,)", "(101,)", "(102,)", "(103,)"]
    finally:
        if keys():
            client.delete(*keys())


# --- A contact's further addresses ------------------------------------------------------------


def test_signing_in_with_a_further_address_sends_the_code_there(queued):
    contact = ContactFactory(email="anna@acme.example")
    ContactAddress.objects.create(contact=contact, email="anna.privat@mail.example")
    signin.code_request(address="Anna.Privat@mail.example", ip="192.0.2.1")
    delivery = Delivery.objects.get(kind=signin.CODE_KIND)
    assert delivery.contact == contact
    assert outbox.deliver(delivery.pk).status == S.SENT
    (sent,) = mail.outbox
    assert sent.to == ["anna.privat@mail.example"]
    code = re.search(r"\b(\d{6})\b", sent.body).group(1)
    assert signin.code_verify(address="anna.privat@mail.example", code=code, ip="192.0.2.1") == (
        contact
    )


def test_a_code_for_a_removed_address_is_not_sent(queued):
    contact = ContactFactory(email="anna@acme.example")
    ContactAddress.objects.create(contact=contact, email="anna.privat@mail.example")
    signin.code_request(address="anna.privat@mail.example", ip="192.0.2.1")
    contact.addresses.filter(email="anna.privat@mail.example").delete()
    delivery = Delivery.objects.get(kind=signin.CODE_KIND)
    assert outbox.deliver(delivery.pk).status == S.CANCELLED
    assert mail.outbox == []
