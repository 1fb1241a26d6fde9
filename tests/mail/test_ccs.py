"""A ticket's CCs on the ticket page: agents see them, add them by address (the address
becomes a contact as a mailbox makes one) and remove them, with the right to move the ticket,
safe against a double submit; the change is on the timeline, the reply box says who a public
reply is emailed to, the reply goes to them, and the API's ticket detail lists them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mail.ccs import ticket_change_ccs
from mail.models import CustomerDomain, OutboundMail, Participant
from tests.api.conftest import client_for
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Contact, Customer, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def cc_url(ticket) -> str:
    return reverse("mail:ticket_ccs", args=[ticket.reference])


def page(client, ticket) -> str:
    response = client.get(ticket.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_the_ccs_and_who_a_reply_is_emailed_to(agent_client, mail_ticket):
    Contact.objects.create(
        customer=mail_ticket.customer, name="Eva Kollegin", email="eva@kunde.example"
    )
    html = page(agent_client, mail_ticket)
    ccs = html[html.index('id="ccs-heading"') : html.index("cc-add")]
    assert "Eva Kollegin" in ccs and "eva@kunde.example" in ccs
    recipients = html[html.index("reply-recipients") :][:600]
    assert "Emailed to" in recipients and "max@kunde.example" in recipients
    assert "in CC" in recipients and "eva@kunde.example" in recipients


def test_a_reply_without_an_emailable_requester_says_it_is_not_emailed(agent_client, agent, team_a):
    ticket = services.ticket_create(
        actor=agent, data=services.NewTicket(subject="Phone call", description="", team=team_a)
    )
    html = page(agent_client, ticket)
    assert "Nobody is in CC." in html
    assert "Not emailed: the ticket has no requester with a usable email address." in html


def test_adding_an_address_of_a_known_domain_makes_a_contact_of_that_organisation(
    agent_client, mail_ticket
):
    acme = CustomerFactory(name="Acme")
    CustomerDomain.objects.create(customer=acme, domain="acme.example")
    version = mail_ticket.version
    response = agent_client.post(
        cc_url(mail_ticket), {"email": " Lea@ACME.example ", "version": version}
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="lea@acme.example")
    assert contact.customer == acme
    assert set(Participant.objects.filter(ticket=mail_ticket).values_list("email", flat=True)) == {
        "eva@kunde.example",
        "lea@acme.example",
    }
    mail_ticket.refresh_from_db()
    assert mail_ticket.version == version + 1
    event = TicketEvent.objects.get(ticket=mail_ticket, kind=TicketEvent.Kind.DETAILS_CHANGED)
    assert event.payload == {
        "ccs": {"from": ["eva@kunde.example"], "to": ["eva@kunde.example", "lea@acme.example"]}
    }
    html = page(agent_client, mail_ticket)
    assert "lea@acme.example will receive the public replies in CC." in html
    assert "added lea@acme.example in CC." in html


def test_an_unknown_domain_becomes_a_personal_customer_and_the_reply_goes_to_it(agent, mail_ticket):
    ticket_change_ccs(ticket=mail_ticket, actor=agent, add="ben@privat.example")
    contact = Contact.objects.get(email="ben@privat.example")
    assert contact.customer.kind == Customer.Kind.PERSON
    services.ticket_reply(ticket=mail_ticket, actor=agent, body="Wir kümmern uns.")
    outbound = OutboundMail.objects.get(ticket=mail_ticket, kind=OutboundMail.Kind.REPLY)
    assert outbound.recipients == ["max@kunde.example", "ben@privat.example", "eva@kunde.example"]


def test_a_double_submit_adds_once_and_says_what_happened(agent_client, mail_ticket):
    data = {"email": "lea@acme.example", "version": mail_ticket.version}
    assert agent_client.post(cc_url(mail_ticket), data).status_code == 302
    second = agent_client.post(cc_url(mail_ticket), data, HTTP_HX_REQUEST="true")
    assert second.status_code == 409
    assert Participant.objects.filter(ticket=mail_ticket, email="lea@acme.example").count() == 1
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.DETAILS_CHANGED).count() == 1


def test_removing_a_cc(agent_client, mail_ticket):
    response = agent_client.post(
        cc_url(mail_ticket),
        {"remove": "eva@kunde.example", "version": mail_ticket.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "eva@kunde.example was removed from the CCs." in html
    assert "removed eva@kunde.example from the CCs." in html
    assert "Nobody is in CC." in html
    assert not Participant.objects.filter(ticket=mail_ticket).exists()


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("not an address", "Enter a valid email address."),
        ("max@kunde.example", "This is the ticket&#x27;s requester."),
        ("support@desk.example", "This is one of our own mailboxes."),
        ("", "Enter an address to add, or choose one to remove."),
    ],
)
def test_bad_addresses_are_form_errors(agent_client, mail_ticket, address, error):
    response = agent_client.post(
        cc_url(mail_ticket), {"email": address, "version": mail_ticket.version}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert error in html[html.index('id="ccs-heading"') :]
    assert list(Participant.objects.filter(ticket=mail_ticket).values_list("email", flat=True)) == [
        "eva@kunde.example"
    ]
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.DETAILS_CHANGED).exists()


def test_an_inactive_contact_is_not_added(agent_client, mail_ticket):
    Contact.objects.create(
        customer=mail_ticket.customer, email="gone@kunde.example", is_active=False
    )
    response = agent_client.post(
        cc_url(mail_ticket), {"email": "gone@kunde.example", "version": mail_ticket.version}
    )
    assert response.status_code == 422
    assert "This contact is not active." in response.content.decode()


def test_editing_ccs_needs_the_right_to_move_the_ticket(
    client, other_agent, team_a, team_b, mailbox
):
    # The creator, an agent of another team, reads the ticket but may not move it.
    ticket = services.ticket_create(
        actor=other_agent,
        data=services.NewTicket(
            subject="Drucker",
            description="",
            team=team_a,
            requester=Contact.objects.create(customer=CustomerFactory(), email="max@kunde.example"),
        ),
    )
    Participant.objects.create(ticket=ticket, email="eva@kunde.example")
    client.force_login(other_agent)
    html = page(client, ticket)
    assert "eva@kunde.example" in html[html.index('id="ccs-heading"') :]
    assert "cc-add" not in html and "cc-remove" not in html
    response = client.post(cc_url(ticket), {"email": "lea@acme.example", "version": ticket.version})
    assert response.status_code == 403
    assert client.post(cc_url(ticket), {"remove": "eva@kunde.example"}).status_code == 403
    assert Participant.objects.filter(ticket=ticket).count() == 1


def test_an_agent_who_cannot_read_the_ticket_gets_404(client, other_agent, team_b, mail_ticket):
    client.force_login(other_agent)
    assert client.post(cc_url(mail_ticket), {"email": "x@y.example"}).status_code == 404
    assert Participant.objects.filter(ticket=mail_ticket).count() == 1


def test_the_page_reads_the_ccs_in_a_constant_number_of_queries(
    agent_client, agent, mail_ticket, django_assert_max_num_queries
):
    def count() -> int:
        with django_assert_max_num_queries(40) as captured:
            page(agent_client, mail_ticket)
        return len(captured.captured_queries)

    few = count()
    for i in range(6):
        Participant.objects.create(ticket=mail_ticket, email=f"cc{i}@kunde.example")
        Contact.objects.create(customer=mail_ticket.customer, email=f"cc{i}@kunde.example")
    assert count() == few


def test_the_api_ticket_detail_lists_the_ccs_read_only(agent, team_a, mail_ticket):
    Contact.objects.create(customer=mail_ticket.customer, name="Eva", email="eva@kunde.example")
    api = client_for(agent)
    url = f"/api/v1/tickets/{mail_ticket.reference}/"
    body = api.get(url).json()
    assert body["ccs"] == [{"email": "eva@kunde.example", "name": "Eva"}]
    api.patch(url, {"ccs": [], "subject": "Neu"}, format="json")
    assert Participant.objects.filter(ticket=mail_ticket).count() == 1
