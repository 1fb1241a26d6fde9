"""Guarantees that need real PostgreSQL: the same mail arriving twice at once (a poll and a
post, two workers) is processed once; the cost of a mail does not grow with its thread."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mail.models import InboundMail, Mailbox, OutboundMail
from mail.services import mail_receive
from tests.factories import TeamFactory
from tests.mail.conftest import build_mail
from tickets.models import Message, Ticket
from tickets.services import ticket_reply


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_mail_received_twice_at_once_is_processed_once():
    team = TeamFactory(name="Desk")
    mailbox = Mailbox.objects.create(slug="desk", address="desk@desk.example", team=team)
    first = build_mail(message_id="<root@kunde.example>")
    mail_receive(mailbox=mailbox, raw=first)
    reply = build_mail(in_reply_to="<root@kunde.example>", message_id="<race@kunde.example>")
    barrier = threading.Barrier(4)
    created: list[bool] = []
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            barrier.wait(timeout=10)
            created.append(mail_receive(mailbox=mailbox, raw=reply)[1])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(created) == [False, False, False, True]
    assert InboundMail.objects.filter(message_id="<race@kunde.example>").count() == 1
    assert Message.objects.filter(kind=Message.Kind.CUSTOMER).count() == 1
    assert Ticket.objects.count() == 1


def _thread_of(mailbox: Mailbox, length: int, agent, tag: str) -> tuple[Ticket, str]:
    """A ticket whose mail thread has `length` customer mails and replies; returns it and
    the Message-ID of our latest reply."""
    sender = f"{tag}@kunde.example"
    root, _ = mail_receive(
        mailbox=mailbox, raw=build_mail(sender=sender, message_id=f"<{tag}0@kunde.example>")
    )
    ticket = root.ticket
    parent = root.message_id
    for i in range(1, length):
        ticket_reply(ticket=ticket, actor=agent, body=f"Antwort {i}")
        parent = OutboundMail.objects.filter(ticket=ticket).order_by("-pk").first().message_id
        mail_receive(
            mailbox=mailbox,
            raw=build_mail(
                sender=sender, message_id=f"<{tag}{i}@kunde.example>", in_reply_to=parent
            ),
        )
    ticket_reply(ticket=ticket, actor=agent, body="Antwort")
    parent = OutboundMail.objects.filter(ticket=ticket).order_by("-pk").first().message_id
    return ticket, parent


@pytest.mark.django_db
def test_a_mail_costs_the_same_however_long_its_thread(mailbox, agent):
    mailbox.sender_limit = 100
    mailbox.save()
    counts = {}
    for tag, length in (("short", 1), ("long", 12)):
        ticket, parent = _thread_of(mailbox, length, agent, tag)
        raw = build_mail(
            sender=f"{tag}@kunde.example",
            message_id=f"<{tag}-new@kunde.example>",
            in_reply_to=parent,
            body="Neu",
        )
        with CaptureQueriesContext(connection) as inbound_queries:
            inbound, _ = mail_receive(mailbox=mailbox, raw=raw)
        assert inbound.outcome == InboundMail.Outcome.THREADED and inbound.ticket == ticket
        with CaptureQueriesContext(connection) as reply_queries:
            ticket_reply(ticket=ticket, actor=agent, body="Letzte Antwort")
        latest = OutboundMail.objects.filter(ticket=ticket).order_by("-pk").first()
        assert latest.in_reply_to == inbound.message_id
        counts[tag] = (len(inbound_queries), len(reply_queries))
    assert counts["long"] == counts["short"]
