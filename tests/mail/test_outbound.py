"""Outbound: a public reply and the resolution go to the requester through the outbox, with a
stable Message-ID, the thread's In-Reply-To/References, the reference in the subject and
Reply-To the mailbox, in the contact's language. One test sends through a real SMTP
conversation to an aiosmtpd sink on a free port."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.core import mail as django_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from mail.models import OutboundMail, Participant
from mail.services import mail_receive
from notifications import outbox
from notifications.models import Delivery
from portal.links import rating_target
from tests.factories import CustomerFactory, TicketFactory
from tests.mail.conftest import build_mail
from tickets.models import Contact
from tickets.services import ticket_reply, ticket_transition

pytestmark = pytest.mark.django_db


def _send_all() -> None:
    for delivery in Delivery.objects.filter(status=Delivery.Status.PENDING).order_by("pk"):
        assert outbox.deliver(delivery.pk).status == Delivery.Status.SENT, delivery.last_error


def test_a_public_reply_is_queued_with_the_threads_headers(mail_ticket, agent, mailbox):
    message = ticket_reply(ticket=mail_ticket, actor=agent, body="Bitte starten Sie neu.")
    outbound = OutboundMail.objects.get(ticket=mail_ticket)
    assert outbound.ticket_message == message and outbound.kind == OutboundMail.Kind.REPLY
    assert outbound.mailbox == mailbox
    assert outbound.in_reply_to == "<first@kunde.example>"
    assert outbound.references == ["<first@kunde.example>"]
    assert outbound.recipients == ["max@kunde.example", "eva@kunde.example"]
    assert outbound.message_id.startswith(f"<{mail_ticket.reference.lower()}.reply.")
    assert outbound.message_id.endswith("@desk.example>")
    delivery = Delivery.objects.get(kind="mail.reply")
    assert delivery.contact == mail_ticket.requester and delivery.user is None
    assert delivery.payload == {"outbound": outbound.pk, "to": outbound.recipients}


def test_the_sent_reply_carries_threading_headers_and_the_contacts_language(
    mail_ticket, agent, mailbox, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Contact.objects.filter(pk=mail_ticket.requester_id).update(language="de")
    ticket_reply(ticket=mail_ticket, actor=agent, body="Bitte starten Sie neu.")
    _send_all()
    (sent,) = django_mail.outbox
    outbound = OutboundMail.objects.get()
    assert sent.subject == f"Re: [{mail_ticket.reference}] Drucker druckt nicht"
    assert sent.to == ["Max Kunde <max@kunde.example>"]
    assert sent.cc == ["eva@kunde.example"]
    assert sent.reply_to == ["support@desk.example"]
    assert sent.from_email == "support@desk.example"
    assert sent.extra_headers["Message-ID"] == outbound.message_id
    assert sent.extra_headers["In-Reply-To"] == "<first@kunde.example>"
    assert sent.extra_headers["References"] == "<first@kunde.example>"
    assert "Auto-Submitted" not in sent.extra_headers  # a person wrote it
    assert sent.body.startswith("Bitte starten Sie neu.")
    assert "antworten Sie auf diese E-Mail" in sent.body


def test_the_customers_answer_to_our_reply_threads_back(mail_ticket, agent, mailbox):
    ticket_reply(ticket=mail_ticket, actor=agent, body="Bitte starten Sie neu.")
    ours = OutboundMail.objects.get()
    inbound, _ = mail_receive(
        mailbox=mailbox,
        raw=build_mail(
            subject="Re: Drucker",
            in_reply_to=ours.message_id,
            references=f"<first@kunde.example> {ours.message_id}",
            body="Geht wieder.",
        ),
    )
    assert inbound.ticket == mail_ticket
    # The next reply continues the thread from the customer's latest mail.
    ticket_reply(ticket=mail_ticket, actor=agent, body="Schön!")
    latest = OutboundMail.objects.order_by("-pk").first()
    assert latest.in_reply_to == inbound.message_id
    assert latest.references == ["<first@kunde.example>", ours.message_id, inbound.message_id]


def test_resolution_notice_in_german_is_marked_automatic(mail_ticket, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Contact.objects.filter(pk=mail_ticket.requester_id).update(language="de")
    ticket_transition(ticket=mail_ticket, actor=agent, name="open")
    ticket_transition(ticket=mail_ticket, actor=agent, name="resolve")
    _send_all()
    sent, _copy = django_mail.outbox
    assert sent.subject == f"[{mail_ticket.reference}] Gelöst: Drucker druckt nicht"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert sent.extra_headers["X-Auto-Response-Suppress"] == "All"
    assert "wurde gelöst" in sent.body
    assert "innerhalb von 7 Tagen" in sent.body


def test_resolution_notice_in_english(mail_ticket, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Contact.objects.filter(pk=mail_ticket.requester_id).update(language="en")
    ticket_transition(ticket=mail_ticket, actor=agent, name="open")
    ticket_transition(ticket=mail_ticket, actor=agent, name="resolve")
    _send_all()
    sent, _copy = django_mail.outbox
    assert sent.subject == f"[{mail_ticket.reference}] Resolved: Drucker druckt nicht"
    assert "was resolved" in sent.body and "within 7 days" in sent.body
    # The customer portal's rating link: signed for this ticket's resolution.
    link = re.search(r"How did we do\? Rate our answer: (\S+)", sent.body)
    assert link is not None, sent.body
    token = link[1].rsplit("/rate/", 1)[1].strip("/")
    assert rating_target(token).ticket.pk == mail_ticket.pk


def _resolve(ticket, agent) -> None:
    ticket_transition(ticket=ticket, actor=agent, name="open")
    ticket_transition(ticket=ticket, actor=agent, name="resolve")


def test_the_ccs_get_a_copy_of_the_resolution_notice_without_the_rating_link(
    mail_ticket, agent, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _resolve(mail_ticket, agent)
    own, copy = OutboundMail.objects.filter(ticket=mail_ticket).order_by("pk")
    assert own.recipients == ["max@kunde.example"] and copy.recipients == ["eva@kunde.example"]
    assert own.message_id != copy.message_id
    assert copy.in_reply_to == own.in_reply_to == "<first@kunde.example>"
    assert copy.references == own.references == ["<first@kunde.example>"]
    deliveries = Delivery.objects.filter(kind="mail.resolved").order_by("pk")
    assert [d.payload for d in deliveries] == [
        {"outbound": own.pk, "to": ["max@kunde.example"]},
        {"outbound": copy.pk, "to": ["eva@kunde.example"], "copy": True},
    ]
    _send_all()
    requester, cc = django_mail.outbox
    html = {m.to[0]: m.alternatives[0][0] for m in (requester, cc)}
    assert requester.to == ["Max Kunde <max@kunde.example>"] and requester.cc == []
    assert cc.to == ["eva@kunde.example"] and cc.cc == []
    assert requester.extra_headers["Message-ID"] == own.message_id
    assert cc.extra_headers["Message-ID"] == copy.message_id
    assert cc.extra_headers["In-Reply-To"] == "<first@kunde.example>"
    assert cc.extra_headers["References"] == "<first@kunde.example>"
    assert cc.extra_headers["Auto-Submitted"] == "auto-generated"
    assert cc.subject == requester.subject
    # The requester's link and its token: in the requester's mail, nowhere in the copy.
    link = re.search(r"Rate our answer: (\S+)", requester.body)[1]
    token = link.rsplit("/rate/", 1)[1].strip("/")
    assert link in html[requester.to[0]]
    assert rating_target(token).ticket.pk == mail_ticket.pk
    for part in (cc.body, html["eva@kunde.example"]):
        assert token not in part and "/rate/" not in part and "How did we do" not in part
        assert "Max" not in part
    assert "on which you are in CC, was resolved." in cc.body
    assert "within 7 days" in cc.body


def test_a_ccs_answer_to_its_copy_threads_to_the_ticket(mail_ticket, agent, mailbox):
    _resolve(mail_ticket, agent)
    copy = OutboundMail.objects.filter(ticket=mail_ticket).order_by("pk").last()
    assert copy.recipients == ["eva@kunde.example"]
    inbound, _ = mail_receive(
        mailbox=mailbox,
        raw=build_mail(
            sender="eva@kunde.example",
            subject="Re: Gelöst",
            in_reply_to=copy.message_id,
            references=copy.message_id,
            body="Bei mir geht es noch nicht.",
        ),
    )
    assert inbound.ticket == mail_ticket
    assert mail_ticket.messages.filter(body__contains="Bei mir geht es noch nicht.").exists()


def test_a_failed_copy_is_retried_alone_and_the_requesters_mail_is_not_resent(
    mail_ticket, agent, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _resolve(mail_ticket, agent)
    own, copy = Delivery.objects.filter(kind="mail.resolved").order_by("pk")
    assert outbox.deliver(own.pk).status == Delivery.Status.SENT
    settings.EMAIL_BACKEND = "tests.mail.test_outbound.FailingBackend"
    assert outbox.deliver(copy.pk).status == Delivery.Status.PENDING
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = timezone.now() + timedelta(days=1)
    assert outbox.deliver(own.pk, now=later).status == "skipped"  # sent once, not again
    assert outbox.deliver(copy.pk, now=later).status == Delivery.Status.SENT
    assert [m.to for m in django_mail.outbox] == [
        ["Max Kunde <max@kunde.example>"],
        ["eva@kunde.example"],
    ]


def test_without_ccs_the_resolution_notice_is_one_mail(mail_ticket, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Participant.objects.filter(ticket=mail_ticket).delete()
    _resolve(mail_ticket, agent)
    _send_all()
    (sent,) = django_mail.outbox
    assert sent.cc == [] and "Rate our answer" in sent.body
    assert OutboundMail.objects.filter(ticket=mail_ticket).count() == 1


def test_a_ticket_without_requester_sends_nothing(agent, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    ticket_reply(ticket=ticket, actor=agent, body="Hallo")
    assert not OutboundMail.objects.exists()
    assert not Delivery.objects.filter(kind__startswith="mail.").exists()


def test_an_inactive_requester_cancels_the_delivery(mail_ticket, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ticket_reply(ticket=mail_ticket, actor=agent, body="Hallo")
    Contact.objects.filter(pk=mail_ticket.requester_id).update(is_active=False)
    delivery = Delivery.objects.get(kind="mail.reply")
    assert outbox.deliver(delivery.pk).status == Delivery.Status.CANCELLED
    assert django_mail.outbox == []


def test_a_requester_set_by_an_agent_gets_mail_from_the_teams_mailbox(agent, team_a, mailbox):
    contact = Contact.objects.create(customer=CustomerFactory(), email="ann@kunde.example")
    ticket = TicketFactory(team=team_a, open=True, requester=contact)
    ticket_reply(ticket=ticket, actor=agent, body="Hallo")
    outbound = OutboundMail.objects.get()
    assert outbound.mailbox == mailbox and outbound.in_reply_to == "" and outbound.references == []
    assert not Participant.objects.exists()


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise OSError("the mail server is down")


class Sink:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 OK"


class SinkController(Controller):
    """aiosmtpd on a socket bound to port 0 (a free port the OS chose)."""

    def __init__(self, handler: Sink) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self.sock.getsockname()[1])

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock)


@pytest.fixture
def smtp_sink(settings):
    sink = Sink()
    controller = SinkController(sink)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    controller.stop()


def test_smtp_sink_receives_replies_with_threading_headers(mail_ticket, agent, smtp_sink):
    ticket_reply(ticket=mail_ticket, actor=agent, body="Erste Antwort.")
    ticket_reply(ticket=mail_ticket, actor=agent, body="Zweite Antwort.")
    _send_all()
    first, second = (o.message_id for o in OutboundMail.objects.order_by("pk"))
    assert len(smtp_sink.envelopes) == 2
    headers = [
        message_from_bytes(e.original_content, policy=policy.default) for e in smtp_sink.envelopes
    ]
    assert [h["Message-ID"] for h in headers] == [first, second]
    assert headers[0]["In-Reply-To"] == "<first@kunde.example>"
    assert headers[1]["In-Reply-To"] == first
    assert headers[1]["References"] == f"<first@kunde.example> {first}"
    assert all(f"[{mail_ticket.reference}]" in h["Subject"] for h in headers)
    assert all(h["Reply-To"] == "support@desk.example" for h in headers)
    assert smtp_sink.envelopes[0].rcpt_tos == ["max@kunde.example", "eva@kunde.example"]
    assert "Erste Antwort." in headers[0].get_body(("plain",)).get_content()
