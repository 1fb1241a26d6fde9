"""A contact's several email addresses: one primary that mail is sent to, and every one of
them matched by inbound mail (sender lookup and threading), CCs, the API's contact resource
and the admin (the portal's sign-in: tests/portal/test_code_delivery.py). Unique
case-insensitively across contacts."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mail.ccs import cc_addresses, reply_recipients, ticket_ccs, ticket_change_ccs
from mail.models import InboundMail, Participant
from mail.services import mail_receive
from tests.api.conftest import client_for
from tests.mail.conftest import build_mail
from tests.portal.conftest import ContactFactory
from tickets.models import Contact, ContactAddress
from tickets.services import TicketError

pytestmark = pytest.mark.django_db
Outcome = InboundMail.Outcome


def receive(mailbox, raw):
    mail, _created = mail_receive(mailbox=mailbox, raw=raw)
    return mail


def with_addresses(email: str, *others: str, **kwargs) -> Contact:
    contact = ContactFactory(email=email, **kwargs)
    for other in others:
        ContactAddress.objects.create(contact=contact, email=other)
    return contact


# --- The model ---------------------------------------------------------------------------------


def test_the_primary_address_is_one_of_the_addresses_and_a_new_primary_keeps_the_old():
    contact = ContactFactory(email="Max@Kunde.example")
    assert contact.email == "max@kunde.example"
    assert list(contact.addresses.values_list("email", flat=True)) == ["max@kunde.example"]
    contact.email = "m.kunde@kunde.example"
    contact.save()
    assert contact.all_addresses() == ["m.kunde@kunde.example", "max@kunde.example"]
    assert Contact.objects.for_address("MAX@kunde.example ") == contact
    assert Contact.objects.for_address("m.kunde@kunde.example") == contact
    assert Contact.objects.for_address("nobody@kunde.example") is None
    assert Contact.objects.for_address("") is None


def test_an_address_belongs_to_one_contact_whatever_its_case():
    max_ = ContactFactory(email="max@kunde.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactAddress.objects.create(contact=ContactFactory(), email="MAX@kunde.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(email="Max@Kunde.Example")
    # Unique whatever the case in the database too, for writes that bypass `save`.
    other = ContactFactory(email="eva@kunde.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactAddress.objects.filter(contact=other).update(email="MAX@kunde.example")
    assert max_.all_addresses() == ["max@kunde.example"]


def test_the_migration_gives_every_contact_its_address_the_oldest_keeps_a_clash():
    migration = importlib.import_module("tickets.migrations.0016_contact_addresses")
    first = ContactFactory(email="anna@acme.example")
    second = ContactFactory(email="bert@acme.example")
    # As rows could be before: one address in two cases (saved around `Contact.save`).
    Contact.objects.filter(pk=second.pk).update(email="ANNA@acme.example")
    third = ContactFactory(email="cora@acme.example")
    ContactAddress.objects.all().delete()
    migration.copy_addresses(apps, connection.schema_editor())
    rows = sorted(ContactAddress.objects.values_list("contact_id", "email"))
    assert rows == [(first.pk, "anna@acme.example"), (third.pk, "cora@acme.example")]


# --- Inbound mail ------------------------------------------------------------------------------


def test_mail_from_a_further_address_is_the_known_contact(mailbox):
    contact = with_addresses("max@kunde.example", "max.privat@mail.example")
    mail = receive(mailbox, build_mail(sender="Max <Max.Privat@mail.example>"))
    assert mail.outcome == Outcome.CREATED
    assert mail.contact == contact and mail.ticket.requester == contact
    assert Contact.objects.count() == 1


def test_the_requester_replies_from_a_further_address(mailbox):
    # A mailbox that holds replies from people who are not on the ticket.
    assert mailbox.accept_other_senders is False
    contact = with_addresses("max@kunde.example", "max.privat@mail.example")
    ticket = receive(mailbox, build_mail(message_id="<first@kunde.example>")).ticket
    reply = receive(
        mailbox,
        build_mail(sender="max.privat@mail.example", in_reply_to="<first@kunde.example>"),
    )
    assert reply.outcome == Outcome.THREADED and reply.ticket == ticket
    assert reply.ticket_message.contact == contact
    # Not made a CC of their own ticket.
    assert not Participant.objects.filter(ticket=ticket).exists()


def test_a_cc_replies_from_another_of_their_addresses(mailbox):
    eva = with_addresses("eva@kunde.example", "eva@home.example")
    ticket = receive(
        mailbox, build_mail(message_id="<first@kunde.example>", cc="eva@kunde.example")
    ).ticket
    reply = receive(
        mailbox, build_mail(sender="eva@home.example", in_reply_to="<first@kunde.example>")
    )
    assert reply.outcome == Outcome.THREADED
    assert reply.ticket_message.contact == eva
    stranger = receive(
        mailbox, build_mail(sender="eve@elsewhere.example", in_reply_to="<first@kunde.example>")
    )
    assert stranger.outcome == Outcome.NOT_PARTICIPANT
    assert list(Participant.objects.filter(ticket=ticket).values_list("email", flat=True)) == [
        "eva@kunde.example"
    ]


def test_the_requesters_other_address_in_cc_does_not_become_a_cc(mailbox):
    with_addresses("max@kunde.example", "max.privat@mail.example")
    ticket = receive(
        mailbox, build_mail(cc="Max privat <max.privat@mail.example>, eva@kunde.example")
    ).ticket
    assert list(Participant.objects.filter(ticket=ticket).values_list("email", flat=True)) == [
        "eva@kunde.example"
    ]


def queries_of_a_reply(mailbox, sender: str, first: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        mail = receive(mailbox, build_mail(sender=sender, in_reply_to=first))
    assert mail.outcome == Outcome.THREADED
    return len(captured)


def test_the_reply_path_does_not_grow_with_the_number_of_addresses(mailbox):
    with_addresses("one@kunde.example")
    with_addresses("many@kunde.example", *[f"many{i}@kunde.example" for i in range(8)])
    for sender, first in (("one", "<one@k>"), ("many", "<many@k>"), ("many", "<many-2@k>")):
        receive(mailbox, build_mail(sender=f"{sender}@kunde.example", message_id=first))
    # Each the first reply on its ticket. From the primary address: the same statements for
    # a contact with one address or nine.
    one = queries_of_a_reply(mailbox, "one@kunde.example", "<one@k>")
    assert queries_of_a_reply(mailbox, "many@kunde.example", "<many@k>") == one
    # From a further address: two statements more (is the sender on the ticket? whose
    # address is it?), however many addresses the contact has.
    assert queries_of_a_reply(mailbox, "many7@kunde.example", "<many-2@k>") == one + 2


def test_a_new_mail_from_a_known_contact_takes_a_fixed_number_of_statements(
    mailbox, django_assert_num_queries
):
    with_addresses("max@kunde.example", *[f"max{i}@kunde.example" for i in range(5)])
    receive(mailbox, build_mail(sender="max@kunde.example", subject="warm up"))
    with django_assert_num_queries(QUERIES_NEW_TICKET_KNOWN_SENDER):
        mail = receive(mailbox, build_mail(sender="max3@kunde.example"))
    assert mail.outcome == Outcome.CREATED


# Measured: see the test above; a change here is a change of the hot path's cost.
QUERIES_NEW_TICKET_KNOWN_SENDER = 25


# --- CCs ---------------------------------------------------------------------------------------


def test_ccs_are_named_by_any_address_and_mailed_at_the_primary(mailbox, agent, team_a):
    requester = with_addresses("max@kunde.example", "max.privat@mail.example")
    eva = with_addresses("eva@kunde.example", "eva@home.example", name="Eva Kunde")
    ticket = receive(mailbox, build_mail(cc="eva@home.example, fred@unknown.example")).ticket
    assert ticket.requester == requester
    # The requester's other address, added as a CC, is theirs: refused.
    with pytest.raises(TicketError) as refused:
        ticket_change_ccs(ticket=ticket, actor=agent, add="Max.Privat@mail.example")
    assert "requester" in str(refused.value.message_dict["email"])
    ccs = ticket_ccs(ticket)
    assert [(cc.email, cc.name, cc.contact_id) for cc in ccs] == [
        ("eva@home.example", "Eva Kunde", eva.pk),
        ("fred@unknown.example", "", None),  # a CC of the first mail: no contact made
    ]
    # Sent to Eva's primary address; a CC row of the requester's is left out.
    Participant.objects.create(ticket=ticket, email="max.privat@mail.example")
    assert cc_addresses(ticket, requester=requester) == [
        "eva@kunde.example",
        "fred@unknown.example",
    ]
    to, reply_ccs = reply_recipients(ticket, ticket_ccs(ticket))
    assert to == requester
    assert [cc.email for cc in reply_ccs] == ["eva@home.example", "fred@unknown.example"]


# --- API and admin -----------------------------------------------------------------------------


def test_the_api_lists_every_address_in_a_fixed_number_of_queries(
    agent, team_a, django_assert_num_queries
):
    api = client_for(agent)
    with_addresses("anna@acme.example", "anna.privat@mail.example")
    response = api.get("/api/v1/contacts/")
    (anna,) = response.json()["results"]
    assert anna["email"] == "anna@acme.example"
    assert [a["email"] for a in anna["addresses"]] == [
        "anna.privat@mail.example",
        "anna@acme.example",
    ]
    for i in range(5):
        with_addresses(f"c{i}@acme.example", f"c{i}@home.example")
    with CaptureQueriesContext(connection) as few:
        api.get("/api/v1/contacts/")
    for i in range(5, 15):
        with_addresses(f"c{i}@acme.example", f"c{i}@home.example")
    with django_assert_num_queries(len(few)):
        assert len(api.get("/api/v1/contacts/").json()["results"]) == 16


def test_admins_add_addresses_through_the_api_with_the_admins_checks(admin_user):
    admin_api = client_for(admin_user)
    anna = ContactFactory(email="anna@acme.example")
    ContactFactory(email="bert@acme.example")
    url = f"/api/v1/contacts/{anna.pk}/"
    (primary,) = admin_api.get(url).json()["addresses"]
    response = admin_api.patch(
        url,
        {"addresses": [primary, {"email": "Anna.Privat@Mail.example"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert anna.all_addresses() == ["anna@acme.example", "anna.privat@mail.example"]
    # Another contact's address, in another case: a field error, nothing stored.
    response = admin_api.patch(
        url, {"addresses": [primary, {"email": "BERT@acme.example"}]}, format="json"
    )
    assert response.status_code == 400
    assert "addresses[1].email" in response.json()["errors"]
    # The primary address cannot be dropped.
    response = admin_api.patch(url, {"addresses": [{"email": "x@acme.example"}]}, format="json")
    assert response.status_code == 400
    assert "addresses" in response.json()["errors"]
    assert anna.all_addresses() == ["anna@acme.example", "anna.privat@mail.example"]
    # A primary that is another contact's further address: refused on the field.
    ContactAddress.objects.create(
        contact=Contact.objects.get(email="bert@acme.example"), email="b@x.example"
    )
    response = admin_api.patch(url, {"email": "B@x.example"}, format="json")
    assert response.status_code == 400 and "email" in response.json()["errors"]


def test_the_admin_page_shows_and_adds_addresses(admin_client):
    anna = with_addresses("anna@acme.example", "anna.privat@mail.example")
    url = reverse("admin:tickets_contact_change", args=[anna.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "anna.privat@mail.example" in page.content.decode()
