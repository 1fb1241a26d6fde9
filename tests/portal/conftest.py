"""Shared fixtures of the portal tests: two organisations, their contacts, a desk."""

from __future__ import annotations

import uuid

import factory
import pytest

from portal.session import CHECK_KEY, CONTACT_KEY, contact_check
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Contact, Ticket
from tickets.services import NewTicket


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@example.org")
    language = "en"
    time_zone = "Europe/Berlin"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """The sign-in throttles count in the cache: a fresh one per test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"portal-{uuid.uuid4().hex}",
        }
    }


def send_deliveries_at_once(monkeypatch) -> None:
    """The outbox's send tasks run at once in this process, as a delivery worker runs them
    (the task's own function), instead of waiting on the broker for a worker."""
    from notifications import outbox
    from notifications.tasks import send_delivery

    def run(pk: int, **_options) -> bool:
        send_delivery(pk)
        return True

    monkeypatch.setattr(outbox, "enqueue", run)


@pytest.fixture
def deliveries_sent(monkeypatch) -> None:
    send_deliveries_at_once(monkeypatch)


@pytest.fixture
def desk(db):
    lead = UserFactory(username="lead", first_name="Lena", last_name="Lead")
    agent = UserFactory(username="agent", first_name="Alice", last_name="Agentova")
    team = TeamFactory(name="Service Desk", members=[agent], lead=lead)
    return {"team": team, "agent": agent, "lead": lead}


@pytest.fixture
def orgs(db, desk):
    """Organisation A with three contacts (a1 and a3 see their own tickets, a2 all of A's)
    and organisation B with one; a ticket of a1, one of a3, one of b1."""
    org_a = CustomerFactory(name="Acme")
    org_b = CustomerFactory(name="Bolt")
    a1 = ContactFactory(customer=org_a, name="Anna One", email="anna@acme.example")
    a2 = ContactFactory(
        customer=org_a, name="Arne Two", email="arne@acme.example", sees_organisation_tickets=True
    )
    a3 = ContactFactory(customer=org_a, name="Ada Three", email="ada@acme.example")
    b1 = ContactFactory(customer=org_b, name="Ben Bolt", email="ben@bolt.example")
    tickets = {
        name: open_ticket(desk, contact, f"Problem of {name}")
        for name, contact in (("a1", a1), ("a3", a3), ("b1", b1))
    }
    return {
        "org_a": org_a,
        "org_b": org_b,
        "a1": a1,
        "a2": a2,
        "a3": a3,
        "b1": b1,
        "tickets": tickets,
    }


def open_ticket(desk, contact: Contact, subject: str) -> Ticket:
    return ticket_services.ticket_create(
        actor=None,
        data=NewTicket(
            subject=subject,
            description="It does not work.",
            team=desk["team"],
            requester=contact,
            channel=Ticket.Channel.PORTAL,
        ),
    )


def sign_in_as(client, contact: Contact) -> None:
    """Put `contact` into the client's session as the portal's sign-in does."""
    session = client.session
    session[CONTACT_KEY] = contact.pk
    session[CHECK_KEY] = contact_check(contact)
    session.save()
