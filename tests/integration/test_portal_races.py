"""The portal's once-only promises under real concurrency (PostgreSQL, Redis): one rating per
resolution, one ticket per form, and sign-in throttles counted in the shared cache."""

from __future__ import annotations

import uuid

import pytest

from portal import services, signin
from portal.models import Rating
from portal.services import PortalRequest
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tests.integration.conftest import race
from tickets import services as ticket_services
from tickets.models import Contact, Ticket, TicketEvent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def contact_and_team(transactional_db):
    agent = UserFactory(username="racer")
    team = TeamFactory(name="Desk", members=[agent])
    contact = Contact.objects.create(customer=CustomerFactory(), email="race@acme.example")
    return contact, team, agent


def test_simultaneous_ratings_of_one_resolution_store_one(contact_and_team):
    contact, team, agent = contact_and_team
    ticket = ticket_services.ticket_create(
        actor=agent,
        data=ticket_services.NewTicket(
            subject="Race", description="", team=team, requester=contact
        ),
    )
    ticket_services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    results = race(
        6, lambda i: services.rating_submit(ticket=ticket, resolution=0, score=1 + i % 5)
    )
    stored = [r for r in results if isinstance(r, Rating)]
    refused = [r for r in results if isinstance(r, services.RatingRefused)]
    assert len(stored) == 1 and len(refused) == 5, results
    assert Rating.objects.count() == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RATED).count() == 1


def test_simultaneous_submits_of_one_form_open_one_ticket(contact_and_team):
    contact, _team, _agent = contact_and_team
    request = PortalRequest(
        subject="Double click", description="Twice", impact=3, urgency=3, intent="same-form"
    )
    results = race(5, lambda i: services.portal_ticket_open(contact=contact, request=request))
    assert all(isinstance(r, services.Opened) for r in results), results
    assert sum(r.created for r in results) == 1
    assert len({r.ticket.pk for r in results}) == 1
    assert Ticket.objects.filter(subject="Double click").count() == 1


@pytest.mark.redis
def test_code_requests_are_counted_in_redis(settings):
    """The throttle holds across processes because it counts in the shared cache (Redis)."""
    import os

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"portal-test-{uuid.uuid4().hex}",
        }
    }
    settings.PORTAL_CODE_REQUESTS_PER_ADDRESS = 3
    results = race(
        6, lambda i: signin.code_request(address="burst@acme.example", ip=f"192.0.2.{i}")
    )
    refused = [r for r in results if isinstance(r, signin.SignInRefused)]
    assert len(refused) == 3, results
