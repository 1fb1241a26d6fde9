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


def test_the_fan_out_goes_to_the_broker_as_one_task(
    org, story, monkeypatch, django_capture_on_commit_callbacks
):
    """A thousand tickets' replies are two thousand outbox rows: the request hands them to one
    task after commit, which queues each row's send task."""
    from incidents import tasks
    from notifications.models import WebhookEndpoint, new_webhook_secret

    incident, *_rest = story
    WebhookEndpoint.objects.create(url="https://hooks.example.com/in", secret=new_webhook_secret())
    published, queued = [], []
    monkeypatch.setattr(
        tasks.queue_deliveries,
        "apply_async",
        lambda args=None, kwargs=None, **kw: published.append(args),
    )
    monkeypatch.setattr(outbox, "enqueue", lambda pk, eta=None, **kw: queued.append(pk) or True)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_post_update(incident=incident, actor=org.im_lead, text="News")
    fan_out = Delivery.objects.filter(kind__in=[EMAIL_KIND, "ticket.message"])
    assert fan_out.filter(kind="ticket.message").count() == 5
    assert len(published) == 1
    (ids,) = published[0]
    assert sorted(ids) == sorted(fan_out.values_list("pk", flat=True))
    # Queued directly: only the incident's own webhook; the task queues the rest.
    assert queued == list(
        Delivery.objects.filter(kind="incident.updated").values_list("pk", flat=True)
    )
    queued.clear()
    assert tasks.queue_deliveries(ids) == len(ids) == 7
    assert queued == ids


def test_the_update_takes_as_many_queries_for_eight_tickets_as_for_two(org):
    """Set-based: the replies, timeline entries, webhook payloads (with each ticket's
    customer, service and requester) and emails, the copies to the CCs included, cost the
    same statements at any size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mail.models import Participant
    from notifications.models import WebhookEndpoint, new_webhook_secret

    WebhookEndpoint.objects.create(url="https://hooks.example.com/in", secret=new_webhook_secret())

    def statements(size: int) -> int:
        tickets = [
            make_ticket(org, service=org.checkout, at=T0, n=100 * size + i) for i in range(size)
        ]
        for i, ticket in enumerate(tickets):  # each copies someone, every other one a contact
            Participant.objects.create(ticket=ticket, email=f"cc{size}-{i}@example.com")
            if i % 2:
                Contact.objects.create(
                    customer=ticket.customer, email=f"cc{size}-{i}@example.com", language="de"
                )
        incident = services.incident_declare(
            actor=org.im_lead, title="Down", severity=2, manager=org.im_lead, now=T0
        )
        services.incident_link(incident=incident, tickets=tickets, actor=org.im_lead, now=T0)
        with CaptureQueriesContext(connection) as queries:
            services.incident_post_update(incident=incident, actor=org.im_lead, text="x")
        assert Delivery.objects.filter(kind="ticket.message", ticket__in=tickets).count() == size
        assert Delivery.objects.filter(kind=EMAIL_KIND, ticket__in=tickets).count() == 2 * size
        return len(queries)

    assert statements(8) == statements(2)


def rating_link(ticket) -> str:
    """The ticket's rating link up to its signature's timestamp: the same whenever it is
    made (the timestamp moves on with each second, so a full link made after the email was
    rendered may differ)."""
    from portal.links import rating_url

    return rating_url(ticket).rsplit(":", 2)[0] + ":"


def rendered() -> dict[str, object]:
    """The emails sent, by their To address."""
    return {m.to[0].split("<")[-1].rstrip(">"): m for m in django_mail.outbox}


def test_resolving_sends_one_email_per_customer_not_one_per_ticket(org, story):
    """The closing report names all of a customer's tickets and carries each one's rating
    link; the tickets' own resolution notices are not sent."""
    from tickets.models import Ticket
    from tickets.services import CUSTOMER_TOLD

    incident, _anna, _ben, annas, bens, _silent = story
    django_mail.outbox.clear()
    services.incident_resolve(
        incident=incident,
        actor=org.im_lead,
        cause="Der Zahlungsanbieter fiel aus.",
        solution="Anbieter gewechselt.",
        now=T0 + H,
    )
    assert Ticket.objects.filter(status=Ticket.Status.RESOLVED).count() == 5
    resolved = TicketEvent.objects.filter(
        kind=TicketEvent.Kind.TRANSITIONED, payload__to=Ticket.Status.RESOLVED
    )
    assert resolved.count() == 5
    assert all(e.payload[CUSTOMER_TOLD] == f"incident:{incident.pk}" for e in resolved)
    emails = Delivery.objects.filter(channel=Delivery.Channel.EMAIL, contact__isnull=False)
    assert sorted(emails.values_list("kind", flat=True)) == [EMAIL_KIND, EMAIL_KIND]

    send_pending()
    assert sorted(rendered()) == ["anna@kunde.example", "ben@kunde.example"]
    to_anna = rendered()["anna@kunde.example"]
    assert to_anna.subject.startswith(f"[{annas[0].reference}] Abschlussbericht:")
    assert "Die Störung ist behoben: Checkout down." in to_anna.body
    assert "Ursache: Der Zahlungsanbieter fiel aus." in to_anna.body
    references = ", ".join(t.reference for t in annas)
    assert f"Ihre betroffenen Tickets: {references}." in to_anna.body
    for ticket in annas:
        ticket.refresh_from_db()
        assert (
            f"Wie zufrieden sind Sie mit {ticket.reference}? Bewerten Sie unsere Antwort: "
            f"{rating_link(ticket)}" in to_anna.body
        )
        assert rating_link(ticket) in to_anna.alternatives[0][0]
    to_ben = rendered()["ben@kunde.example"]
    assert f"How did we do on {bens.reference}? Rate our answer:" in to_ben.body


@pytest.fixture
def copies(story):
    """A manager (English contact) copied on Anna's first ticket, an outside address (no
    contact) copied on two of Anna's tickets, Anna copied on Ben's ticket, someone copied on
    the ticket whose requester gets no email."""
    from mail.models import Participant

    _incident, anna, _ben, annas, bens, silent = story
    boss = Contact.objects.create(
        customer=anna.customer, email="chef@kunde.example", language="en", name="Chef"
    )
    Participant.objects.create(ticket=annas[0], email=boss.email)
    for ticket in annas[:2]:
        Participant.objects.create(ticket=ticket, email="extern@partner.example")
    Participant.objects.create(ticket=bens, email=anna.email)
    Participant.objects.create(ticket=silent, email="nobody@partner.example")
    return boss


def test_the_update_copies_each_cc_once_in_their_language(org, story, copies):
    incident, _anna, _ben, annas, bens, _silent = story
    django_mail.outbox.clear()
    services.incident_post_update(
        incident=incident, actor=org.im_lead, text="Der Zahlungsdienst ist gestört.", now=T0 + H
    )
    send_pending()
    sent = rendered()
    assert sorted(sent) == [
        "anna@kunde.example",
        "ben@kunde.example",
        "chef@kunde.example",
        "extern@partner.example",
    ]
    assert len(django_mail.outbox) == 4
    # Anna requested three and is copied on Ben's: one email naming both.
    to_anna = sent["anna@kunde.example"]
    references = ", ".join(t.reference for t in annas)
    assert f"Ihre betroffenen Tickets: {references}." in to_anna.body
    assert f"Das betroffene Ticket, bei dem Sie in Kopie sind: {bens.reference}." in to_anna.body
    # The manager reads English, whatever Anna reads.
    to_boss = sent["chef@kunde.example"]
    assert to_boss.to == ["Chef <chef@kunde.example>"]
    assert to_boss.subject == (
        f"[{annas[0].reference}] Initial notice: Checkout down ({incident.reference})"
    )
    assert f"The affected ticket you are copied on: {annas[0].reference}." in to_boss.body
    assert "Your ticket" not in to_boss.body
    assert "Der Zahlungsdienst ist gestört." in to_boss.body
    # The outside address has no contact: it reads the language of the tickets' requester.
    to_extern = sent["extern@partner.example"]
    assert to_extern.to == ["extern@partner.example"]
    copied = f"{annas[0].reference}, {annas[1].reference}"
    assert f"Die betroffenen Tickets, bei denen Sie in Kopie sind: {copied}." in to_extern.body
    assert copied in to_extern.alternatives[0][0]
    assert "Ihre betroffenen Tickets" not in to_extern.body


def test_a_copy_is_not_sent_when_the_requester_left_meanwhile(org, story, copies):
    incident, anna, *_rest = story
    services.incident_post_update(incident=incident, actor=org.im_lead, text="News", now=T0 + H)
    Contact.objects.filter(pk=anna.pk).update(is_active=False)
    copy = Delivery.objects.get(kind=EMAIL_KIND, payload__to="extern@partner.example")
    assert outbox.deliver(copy.pk).status == Delivery.Status.CANCELLED


def test_a_copy_of_the_closing_report_carries_no_rating_link(org, story, copies):
    """A rating link lets whoever holds it rate the ticket as its requester: the closing
    report's copies to CCs name the tickets but link no rating, and a requester copied on
    another customer's ticket gets rating links for their own tickets only."""
    incident, _anna, _ben, annas, bens, _silent = story
    django_mail.outbox.clear()
    services.incident_resolve(
        incident=incident,
        actor=org.im_lead,
        cause="Provider down.",
        solution="Switched.",
        now=T0 + H,
    )
    send_pending()
    sent = rendered()
    assert sorted(sent) == [
        "anna@kunde.example",
        "ben@kunde.example",
        "chef@kunde.example",
        "extern@partner.example",
    ]
    for ticket in [*annas, bens]:
        ticket.refresh_from_db()
    links = {t.reference: rating_link(t) for t in [*annas, bens]}
    assert all(links.values())
    for address in ("chef@kunde.example", "extern@partner.example"):
        copy = sent[address]
        assert annas[0].reference in copy.body  # it does name the ticket it is copied on
        html = copy.alternatives[0][0]
        for link in links.values():
            assert link not in copy.body
            assert link not in html
        assert "/rate/" not in copy.body
        assert "Bewerten" not in copy.body
        assert "Rate our answer" not in copy.body
    to_anna = sent["anna@kunde.example"]
    assert bens.reference in to_anna.body  # copied on Ben's ticket
    assert links[bens.reference] not in to_anna.body
    assert links[bens.reference] not in to_anna.alternatives[0][0]
    assert all(links[t.reference] in to_anna.body for t in annas)
    assert links[bens.reference] in sent["ben@kunde.example"].body
