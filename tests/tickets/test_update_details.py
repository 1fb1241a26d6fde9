"""`ticket_update_details`: subject, description, affected service and requester — the
mover's right, the version check, one event, and how the timeline words it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tickets import services
from tickets.models import Contact, Service, TicketEvent
from tickets.services import StaleRequest, TicketError
from tickets.templatetags.tickets_ui import describe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(agent, team_a):
    return services.ticket_create(
        actor=agent,
        data=services.NewTicket(subject="Old", description="", team=team_a),
    )


def test_details_change_once_with_one_event(ticket, agent):
    checkout = Service.objects.create(name="Checkout")
    jo = Contact.objects.create(customer=CustomerFactory(), email="jo@example.com")
    version = ticket.version
    services.ticket_update_details(
        ticket=ticket,
        actor=agent,
        changes={"subject": " New ", "service": checkout, "requester": jo},
        expected_version=version,
    )
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.service, ticket.requester) == ("New", checkout, jo)
    # The ticket had no customer: it takes the requester's.
    assert ticket.customer_id == jo.customer_id
    assert ticket.version == version + 1
    event = TicketEvent.objects.get(kind=TicketEvent.Kind.DETAILS_CHANGED)
    assert set(event.payload) == {"subject", "service", "requester"}
    with pytest.raises(StaleRequest):
        services.ticket_update_details(
            ticket=ticket, actor=agent, changes={"subject": "Again"}, expected_version=version
        )
    name = agent.get_full_name() or agent.username
    with translation.override("en"):
        expected = f"{name} changed the subject, affected service, requester."
        assert describe_event(event).sentence == expected
    with translation.override("de"):
        assert describe_event(event).sentence.startswith(f"{name} hat geändert: Betreff")


def test_details_are_checked(ticket, agent, team_b, other_agent):
    acme = CustomerFactory()
    ticket.customer = acme
    ticket.save()
    stranger = Contact.objects.create(customer=CustomerFactory(), email="x@example.com")
    with pytest.raises(TicketError) as error:
        services.ticket_update_details(ticket=ticket, actor=agent, changes={"requester": stranger})
    assert "requester" in error.value.message_dict
    retired = Service.objects.create(name="Fax", is_active=False)
    with pytest.raises(TicketError):
        services.ticket_update_details(ticket=ticket, actor=agent, changes={"service": retired})
    with pytest.raises(TicketError):
        services.ticket_update_details(ticket=ticket, actor=agent, changes={"status": "closed"})
    with pytest.raises(PermissionDenied):
        services.ticket_update_details(ticket=ticket, actor=other_agent, changes={"subject": "x"})
    outsider = UserFactory(username="outsider")
    TeamFactory(name="Elsewhere", members=[outsider])
    with pytest.raises(PermissionDenied):
        services.ticket_update_details(ticket=ticket, actor=outsider, changes={"subject": "x"})
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.DETAILS_CHANGED).exists()
