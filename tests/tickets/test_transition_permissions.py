"""The service itself refuses a transition by someone who may not work the ticket, whatever
the caller (view, admin, API, task) checked before: a user in no team who can see the ticket
(they follow it) is no agent, and an agent of another team cannot see it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from tests.factories import TicketFactory, UserFactory
from tickets import services
from tickets.models import Ticket, TicketEvent


@pytest.fixture
def ticket(team_a):
    return TicketFactory(team=team_a, open=True)


def assert_unchanged(ticket: Ticket) -> None:
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.status == Ticket.Status.OPEN
    assert stored.resolved_at is None
    assert stored.last_progress_at is None
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


@pytest.mark.django_db
def test_a_follower_who_is_no_agent_is_refused(ticket):
    outsider = UserFactory(username="former-agent")
    ticket.watchers.add(outsider)
    # Visible to them (the precondition that makes this test about the agent check) ...
    assert Ticket.objects.visible_to(outsider).filter(pk=ticket.pk).exists()
    assert not services.is_agent(outsider)
    # ... yet they may not move it.
    with pytest.raises(PermissionDenied):
        services.ticket_transition(ticket=ticket, actor=outsider, name="resolve")
    assert_unchanged(ticket)


@pytest.mark.django_db
def test_an_agent_of_another_team_is_refused(ticket, team_b, other_agent):
    assert services.is_agent(other_agent)
    assert not Ticket.objects.visible_to(other_agent).filter(pk=ticket.pk).exists()
    with pytest.raises(PermissionDenied):
        services.ticket_transition(ticket=ticket, actor=other_agent, name="resolve")
    assert_unchanged(ticket)


@pytest.mark.django_db
def test_an_agent_of_the_team_may(ticket, agent):
    services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.RESOLVED
