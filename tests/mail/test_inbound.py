"""Inbound processing through the services: tickets opened, replies threaded, follow-ups,
machines' mail ignored, loops held, senders checked, every message stored once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mail.models import CustomerDomain, InboundMail, Mailbox, Participant
from mail.services import mail_receive, mail_release
from tests.factories import CustomerFactory
from tests.mail.conftest import build_mail
from tickets.models import Contact, Customer, Message, Ticket, TicketEvent
from tickets.services import ticket_reply, ticket_transition

pytestmark = pytest.mark.django_db
Outcome = InboundMail.Outcome


def receive(mailbox, raw, **kwargs):
    mail, _created = mail_receive(mailbox=mailbox, raw=raw, **kwargs)
    return mail


def test_new_mail_opens_a_ticket_for_a_new_personal_contact(mailbox):
    raw = build_mail(message_id="<first@kunde.example>", headers={"Content-Language": "de"})
    mail = receive(mailbox, raw)
    assert mail.outcome == Outcome.CREATED
    ticket = mail.ticket
    assert ticket.subject == "Drucker druckt nicht"
    assert ticket.description == "Der Drucker im 2. Stock druckt nicht mehr."
    assert ticket.channel == Ticket.Channel.EMAIL
    assert ticket.team == mailbox.team
    assert (ticket.impact, ticket.urgency) == (mailbox.impact, mailbox.urgency)
    contact = ticket.requester
    assert (contact.email, contact.name, contact.language) == (
        "max@kunde.example",
        "Max Kunde",
        "de",
    )
    assert contact.customer.kind == Customer.Kind.PERSON
    assert ticket.customer == contact.customer
    assert mail.contact == contact
    assert bytes(mail.raw) == raw and mail.size == len(raw)
    created = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
    assert created.payload["channel"] == "email"
    assert created.payload["requester"] == "max@kunde.example"


def test_sender_of_a_known_domain_becomes_the_organisations_contact(mailbox):
    acme = CustomerFactory(name="Kunde AG")
    CustomerDomain.objects.create(customer=acme, domain="Kunde.Example")
    mail = receive(mailbox, build_mail())
    assert mail.ticket.customer == acme
    assert mail.contact.customer == acme
    assert Customer.objects.filter(kind=Customer.Kind.PERSON).count() == 0


@pytest.mark.parametrize(
    ("policy", "with_domain", "outcome"),
    [
        (Mailbox.UnknownSenders.DOMAIN, True, Outcome.CREATED),
        (Mailbox.UnknownSenders.DOMAIN, False, Outcome.UNKNOWN_SENDER),
        (Mailbox.UnknownSenders.KNOWN, True, Outcome.UNKNOWN_SENDER),
    ],
)
def test_unknown_sender_policy(mailbox, policy, with_domain, outcome):
    mailbox.unknown_senders = policy
    mailbox.save()
    if with_domain:
        CustomerDomain.objects.create(customer=CustomerFactory(), domain="kunde.example")
    mail = receive(mailbox, build_mail())
    assert mail.outcome == outcome
    assert Ticket.objects.count() == (1 if outcome == Outcome.CREATED else 0)


def test_known_policy_accepts_an_existing_contact(mailbox):
    mailbox.unknown_senders = Mailbox.UnknownSenders.KNOWN
    mailbox.save()
    contact = Contact.objects.create(customer=CustomerFactory(), email="max@kunde.example")
    assert receive(mailbox, build_mail()).ticket.requester == contact


def test_reply_threads_by_in_reply_to_with_the_german_quote_stripped(mailbox, agent):
    first = receive(mailbox, build_mail(message_id="<first@kunde.example>"))
    ticket = first.ticket
    reply = build_mail(
        subject="AW: Drucker druckt nicht",
        message_id="<second@kunde.example>",
        in_reply_to="<first@kunde.example>",
        references="<first@kunde.example>",
        body=(
            "Jetzt geht es wieder, danke!\n\nViele Grüße\nMax\n\n"
            "Am 07.12.2026 um 09:12 schrieb Max Kunde <max@kunde.example>:\n"
            "> Der Drucker im 2. Stock druckt nicht mehr.\n"
        ),
    )
    mail = receive(mailbox, reply)
    assert mail.outcome == Outcome.THREADED
    assert mail.ticket == ticket
    message = mail.ticket_message
    assert message.kind == Message.Kind.CUSTOMER
    assert message.body == "Jetzt geht es wieder, danke!"
    assert message.contact == first.contact
    assert message.intent.startswith("mail:")
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE, message=message
    ).exists()
    assert Ticket.objects.count() == 1


def test_reply_to_our_outbound_mail_threads_and_resumes_a_pending_ticket(mailbox, agent):
    ticket = receive(mailbox, build_mail()).ticket
    ticket_transition(ticket=ticket, actor=agent, name="open")
    ticket_reply(ticket=ticket, actor=agent, body="Bitte neu starten.")
    ticket_transition(ticket=ticket, actor=agent, name="pend")
    from mail.models import OutboundMail

    ours = OutboundMail.objects.get(ticket=ticket)
    mail = receive(
        mailbox,
        build_mail(
            subject="Re: something else entirely", in_reply_to=ours.message_id, body="Geht nicht."
        ),
    )
    assert mail.outcome == Outcome.THREADED and mail.ticket == ticket
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN  # the customer answered: the clock runs again
    assert TicketEvent.objects.filter(
        ticket=ticket, kind=TicketEvent.Kind.TRANSITIONED, payload__automatic=True
    ).exists()


def test_ids_of_two_tickets_thread_by_in_reply_to_then_the_newest_reference(mailbox):
    a = receive(mailbox, build_mail(message_id="<a@kunde.example>")).ticket
    b = receive(mailbox, build_mail(message_id="<b@kunde.example>", subject="Zwei")).ticket
    by_reply_to = receive(
        mailbox,
        build_mail(in_reply_to="<a@kunde.example>", references="<b@kunde.example>"),
    )
    assert by_reply_to.ticket == a
    by_newest = receive(
        mailbox, build_mail(references="<a@kunde.example> <b@kunde.example> <x@elsewhere>")
    )
    assert by_newest.outcome == Outcome.THREADED and by_newest.ticket == b


def test_reply_threads_by_the_reference_in_the_subject(mailbox):
    ticket = receive(mailbox, build_mail()).ticket
    mail = receive(
        mailbox, build_mail(subject=f"Re: [{ticket.reference}] Drucker", body="Noch da?")
    )
    assert mail.outcome == Outcome.THREADED and mail.ticket == ticket


def test_the_same_subject_alone_does_not_thread(mailbox):
    first = receive(mailbox, build_mail())
    second = receive(mailbox, build_mail(body="Ein anderes Problem, gleicher Betreff."))
    assert second.outcome == Outcome.CREATED
    assert second.ticket != first.ticket


def test_a_stranger_replying_is_held_unless_the_mailbox_accepts_others(mailbox):
    ticket = receive(mailbox, build_mail(message_id="<first@kunde.example>")).ticket
    stranger = build_mail(
        sender="eve@elsewhere.example",
        in_reply_to="<first@kunde.example>",
        body="Ich hänge mich mal dran.",
    )
    held = receive(mailbox, stranger)
    assert held.outcome == Outcome.NOT_PARTICIPANT
    assert held.ticket == ticket and held.ticket_message is None
    assert ticket.messages.count() == 0

    mailbox.accept_other_senders = True
    mailbox.save()
    mail = receive(
        mailbox, build_mail(sender="eve@elsewhere.example", in_reply_to="<first@kunde.example>")
    )
    assert mail.outcome == Outcome.THREADED
    assert Participant.objects.filter(ticket=ticket, email="eve@elsewhere.example").exists()


def test_a_cc_of_the_first_mail_may_reply(mailbox):
    ticket = receive(
        mailbox,
        build_mail(
            message_id="<first@kunde.example>", cc="Eva <eva@kunde.example>, support@desk.example"
        ),
    ).ticket
    assert list(Participant.objects.filter(ticket=ticket).values_list("email", flat=True)) == [
        "eva@kunde.example"
    ]
    mail = receive(
        mailbox, build_mail(sender="eva@kunde.example", in_reply_to="<first@kunde.example>")
    )
    assert mail.outcome == Outcome.THREADED


def test_held_mail_can_be_released(mailbox):
    receive(mailbox, build_mail(message_id="<first@kunde.example>"))
    held = receive(
        mailbox, build_mail(sender="eve@elsewhere.example", in_reply_to="<first@kunde.example>")
    )
    released = mail_release(inbound_id=held.pk)
    assert released.outcome == Outcome.THREADED
    assert released.ticket_message is not None


def test_reply_to_a_closed_ticket_opens_a_linked_follow_up(mailbox, agent):
    old = receive(mailbox, build_mail(message_id="<first@kunde.example>")).ticket
    for name in ("open", "resolve", "close"):
        old = ticket_transition(ticket=old, actor=agent, name=name)
    mail = receive(
        mailbox,
        build_mail(
            in_reply_to="<first@kunde.example>", body="Es ist wieder kaputt.\n\nOn Mon wrote:\n> x"
        ),
    )
    assert mail.outcome == Outcome.FOLLOW_UP
    new = mail.ticket
    assert new != old and new.status == Ticket.Status.NEW
    assert new.requester == old.requester and new.subject == old.subject
    assert new.description == "Es ist wieder kaputt."
    assert TicketEvent.objects.get(ticket=old, kind=TicketEvent.Kind.FOLLOW_UP).payload == {
        "follow_up": new.reference
    }
    assert TicketEvent.objects.get(ticket=new, kind=TicketEvent.Kind.FOLLOW_UP).payload == {
        "follow_up_of": old.reference
    }
    old.refresh_from_db()
    assert old.status == Ticket.Status.CLOSED


def test_reply_to_a_resolved_ticket_reopens_within_the_window_only(mailbox, agent):
    ticket = receive(mailbox, build_mail(message_id="<first@kunde.example>")).ticket
    ticket_transition(ticket=ticket, actor=agent, name="open")
    ticket_transition(ticket=ticket, actor=agent, name="resolve")
    mail = receive(mailbox, build_mail(in_reply_to="<first@kunde.example>", body="Doch nicht."))
    assert mail.outcome == Outcome.THREADED
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.reopen_count == 1

    ticket_transition(ticket=ticket, actor=agent, name="resolve")
    later = timezone.now() + timedelta(days=mailbox.reopen_days + 1)
    mail = receive(
        mailbox, build_mail(in_reply_to="<first@kunde.example>", body="Wieder."), now=later
    )
    assert mail.outcome == Outcome.FOLLOW_UP and mail.ticket != ticket


@pytest.mark.parametrize(
    ("headers", "sender", "outcome"),
    [
        (
            {"Auto-Submitted": "auto-replied", "Subject": "x"},
            "max@kunde.example",
            Outcome.AUTO_REPLY,
        ),
        ({"X-Autoreply": "yes"}, "max@kunde.example", Outcome.AUTO_REPLY),
        ({"Precedence": "bulk"}, "news@kunde.example", Outcome.LIST),
        ({"List-Id": "<l.kunde.example>"}, "news@kunde.example", Outcome.LIST),
        ({}, "MAILER-DAEMON@kunde.example", Outcome.BOUNCE),
        ({}, "support@desk.example", Outcome.OWN),
    ],
)
def test_machines_mail_is_stored_but_opens_nothing(mailbox, headers, sender, outcome):
    headers = {k: v for k, v in headers.items() if k != "Subject"}
    first = receive(mailbox, build_mail(message_id="<first@kunde.example>"))
    mail = receive(
        mailbox, build_mail(sender=sender, headers=headers, in_reply_to="<first@kunde.example>")
    )
    assert mail.outcome == outcome
    assert mail.ticket is None and mail.ticket_message is None
    assert Ticket.objects.count() == 1
    assert first.ticket.messages.count() == 0
    assert InboundMail.objects.count() == 2


def test_the_same_message_is_processed_once(mailbox):
    raw = build_mail(message_id="<once@kunde.example>")
    first, created = mail_receive(mailbox=mailbox, raw=raw)
    again, created_again = mail_receive(mailbox=mailbox, raw=raw)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.outcome == Outcome.CREATED
    assert Ticket.objects.count() == 1 and InboundMail.objects.count() == 1


def test_a_message_whose_processing_fails_is_kept_pending_and_nothing_else_stays(
    mailbox, monkeypatch
):
    import mail.services

    def broken(parsed):
        raise RuntimeError("threading broke")

    receive(mailbox, build_mail(message_id="<first@kunde.example>"))
    monkeypatch.setattr(mail.services, "thread_ticket", broken)
    raw = build_mail(message_id="<broken@kunde.example>", in_reply_to="<first@kunde.example>")
    with pytest.raises(RuntimeError):
        mail_receive(mailbox=mailbox, raw=raw)
    # The raw message is kept, pending, for the admin and a re-run; no half-processed effects.
    kept = InboundMail.objects.get(message_id="<broken@kunde.example>")
    assert kept.outcome == Outcome.PENDING and bytes(kept.raw) == raw
    assert Message.objects.count() == 0
    # Fetched again (the poll had not flagged it as seen): a duplicate, not processed twice.
    monkeypatch.undo()
    assert mail_receive(mailbox=mailbox, raw=raw)[1] is False


def test_a_message_without_message_id_is_deduplicated_by_its_bytes(mailbox):
    raw = (
        b"From: max@kunde.example\r\nTo: support@desk.example\r\nSubject: Ohne ID\r\n\r\nHallo\r\n"
    )
    assert mail_receive(mailbox=mailbox, raw=raw)[1] is True
    assert mail_receive(mailbox=mailbox, raw=raw)[1] is False
    assert Ticket.objects.count() == 1


def test_too_many_mails_from_one_sender_are_held(mailbox):
    mailbox.sender_limit = 3
    mailbox.save()
    outcomes = [receive(mailbox, build_mail(body=f"Nachricht {i}")).outcome for i in range(5)]
    assert outcomes == [Outcome.CREATED] * 3 + [Outcome.RATE_LIMITED] * 2
    held = InboundMail.objects.filter(outcome=Outcome.RATE_LIMITED).order_by("pk").first()
    assert held.detail == {"limit": "sender", "count": 3, "minutes": mailbox.limit_minutes}
    # Another sender is not affected; after the window the sender is let through again.
    assert receive(mailbox, build_mail(sender="eva@kunde.example")).outcome == Outcome.CREATED
    later = timezone.now() + timedelta(minutes=mailbox.limit_minutes + 1)
    assert receive(mailbox, build_mail(body="später"), now=later).outcome == Outcome.CREATED


def test_too_many_mails_to_one_mailbox_are_held(mailbox):
    mailbox.mailbox_limit = 2
    mailbox.save()
    outcomes = [
        receive(mailbox, build_mail(sender=f"s{i}@kunde.example")).outcome for i in range(3)
    ]
    assert outcomes == [Outcome.CREATED, Outcome.CREATED, Outcome.RATE_LIMITED]


def test_attachments_are_stored_through_the_ticket_limits(mailbox, settings):
    raw = build_mail(attachments=[("log.txt", "text/plain", b"error 42")])
    ticket = receive(mailbox, raw).ticket
    (attachment,) = ticket.attachments.all()
    assert attachment.original_name == "log.txt" and attachment.size == 8
    assert attachment.file.read() == b"error 42"

    settings.ATTACHMENT_MAX_BYTES = 4
    mail = receive(
        mailbox, build_mail(attachments=[("big.bin", "application/octet-stream", b"12345")])
    )
    assert mail.outcome == Outcome.CREATED
    assert mail.detail == {"attachments_dropped": ["big.bin"]}
    assert mail.ticket.attachments.count() == 0


def test_html_mail_keeps_text_only(mailbox):
    raw = (
        b"From: max@kunde.example\r\nTo: support@desk.example\r\nSubject: HTML\r\n"
        b"Message-ID: <html@kunde.example>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hallo<br>Welt <img src='https://tracker.example/x.gif'></p><script>x()</script>"
    )
    ticket = receive(mailbox, raw).ticket
    assert ticket.description == "Hallo\nWelt"
