"""One email per customer and update: a contact with three linked tickets gets one email per
update naming all three (each ticket's timeline still shows the reply), in their language,
through the outbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail as django_mail

from incidents import services
from incidents.updates import EMAIL_KIND
from notifications import outbox
from notifications.models import Delivery
from tests.factories import CustomerFactory
from tests.incidents.conftest import make_ticket
from tickets.models import Contact, Message, TicketEvent

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def send_pending() -> None:
    for delivery in Delivery.objects.filter(kind=EMAIL_KIND, status=Delivery.Status.PENDING):
        assert outbox.deliver(delivery.pk).status == Delivery.Status.SENT, delivery.last_error


@pytest.fixture
def story(org):
    """Anna (German) requested three of the linked tickets, Ben (English) one, and one ticket
    has no requester's address that works (an inactive contact)."""
    customer = CustomerFactory()
    anna = Contact.objects.create(customer=customer, email="anna@kunde.example", language="de")
    ben = Contact.objects.create(customer=customer, email="ben@kunde.example", language="en")
    gone = Contact.objects.create(customer=customer, email="gone@kunde.example", is_active=False)
    annas = [make_ticket(org, requester=anna, at=T0, n=i) for i in range(3)]
    bens = make_ticket(org, requester=ben, at=T0)
    silent = make_ticket(org, requester=gone, at=T0)
    incident = services.incident_declare(
        actor=org.im_lead,
        title="Checkout down",
        severity=2,
        manager=org.im_lead,
        services=[org.checkout],
        tickets=[*annas, bens, silent],
        now=T0,
    )
    return incident, anna, ben, annas, bens, silent


def test_one_email_per_customer_and_update_naming_their_tickets(org, story):
    incident, anna, ben, annas, bens, silent = story
    django_mail.outbox.clear()
    update = services.incident_post_update(
        incident=incident, actor=org.im_lead, text="Der Zahlungsdienst ist gestört.", now=T0 + H
    )
    assert update.recipients == 5
    # Every linked ticket's timeline shows the reply.
    for ticket in [*annas, bens, silent]:
        assert Message.objects.filter(ticket=ticket, kind=Message.Kind.REPLY).count() == 1
        assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.REPLIED).exists()
    # The outbox holds one email per customer, none per reply.
    emails = Delivery.objects.filter(channel=Delivery.Channel.EMAIL, contact__isnull=False)
    assert sorted(emails.values_list("kind", "contact__email")) == [
        (EMAIL_KIND, "anna@kunde.example"),
        (EMAIL_KIND, "ben@kunde.example"),
    ]
    assert emails.get(contact=anna).payload["tickets"] == [t.pk for t in annas]
    assert emails.get(contact=ben).payload["tickets"] == [bens.pk]

    send_pending()
    assert len(django_mail.outbox) == 2
    by_to = {m.to[0].split("<")[-1].rstrip(">"): m for m in django_mail.outbox}
    to_anna, to_ben = by_to["anna@kunde.example"], by_to["ben@kunde.example"]
    first = annas[0].reference
    assert to_anna.subject == f"[{first}] Erstmeldung: Checkout down ({incident.reference})"
    assert to_anna.body.startswith("Uns ist eine Störung bekannt, die Sie betrifft: Checkout down")
    assert "Der Zahlungsdienst ist gestört." in to_anna.body
    references = ", ".join(t.reference for t in annas)
    assert f"Ihre betroffenen Tickets: {references}." in to_anna.body
    assert f"Antworten Sie auf diese E-Mail, um Ticket {first} zu ergänzen." in to_anna.body
    assert references in to_anna.alternatives[0][0]
    assert (
        to_ben.subject == f"[{bens.reference}] Initial notice: Checkout down ({incident.reference})"
    )
    assert f"Your ticket affected by it: {bens.reference}." in to_ben.body
    assert to_anna.extra_headers["Message-ID"] != to_ben.extra_headers["Message-ID"]

    # The next update: again one email each, not one per ticket.
    services.incident_post_update(
        incident=incident, actor=org.im_lead, text="Behoben in Kürze.", now=T0 + 2 * H
    )
    send_pending()
    assert len(django_mail.outbox) == 4
    assert Delivery.objects.filter(kind=EMAIL_KIND, contact=anna).count() == 2
    assert not Delivery.objects.filter(kind="mail.reply").exists()


def test_a_customer_ticket_unlinked_is_left_out_of_their_email(org, story):
    incident, anna, _ben, annas, _bens, _silent = story
    services.incident_unlink(incident=incident, ticket=annas[1], actor=org.im_lead, now=T0)
    services.incident_post_update(incident=incident, actor=org.im_lead, text="News", now=T0 + H)
    email = Delivery.objects.get(kind=EMAIL_KIND, contact=anna)
    assert email.payload["tickets"] == [annas[0].pk, annas[2].pk]
    assert email.ticket_id == annas[0].pk
    assert email.ticket_event.kind == TicketEvent.Kind.REPLIED


def test_the_email_is_cancelled_when_the_contact_left_meanwhile(org, story):
    incident, anna, *_rest = story
    services.incident_post_update(incident=incident, actor=org.im_lead, text="News", now=T0 + H)
    Contact.objects.filter(pk=anna.pk).update(is_active=False)
    email = Delivery.objects.get(kind=EMAIL_KIND, contact=anna)
    assert outbox.deliver(email.pk).status == Delivery.Status.CANCELLED
