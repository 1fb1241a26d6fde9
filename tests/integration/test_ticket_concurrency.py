"""Concurrent writes on real PostgreSQL: row locks make transitions and references safe."""

from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed

from tests.factories import TeamFactory, TicketFactory, UserFactory
from tests.integration.conftest import race
from tickets import services
from tickets.models import Ticket, TicketEvent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_two_agents_resolving_and_pending_at_once_leave_one_consistent_state():
    agent = UserFactory()
    team = TeamFactory(members=[agent])
    ticket = TicketFactory(team=team, open=True)

    names = ["resolve", "pend"] * 4
    results = race(
        len(names),
        lambda i: services.ticket_transition(ticket=ticket, actor=agent, name=names[i]),
    )
    successes = [r for r in results if isinstance(r, Ticket)]
    failures = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(f, TransitionNotAllowed) for f in failures), failures
    ticket.refresh_from_db()
    events = list(TicketEvent.objects.filter(ticket=ticket).order_by("pk"))
    # Every successful call wrote exactly one event, and the events chain from state to state.
    assert len(events) == len(successes) >= 1
    state = "open"
    for event in events:
        assert event.payload["from"] == state
        state = event.payload["to"]
    assert ticket.status == state


def test_concurrent_creations_get_distinct_sequential_references():
    agent = UserFactory()
    team = TeamFactory(members=[agent])
    results = race(
        8,
        lambda i: services.ticket_create(
            actor=agent, data=services.NewTicket(subject=f"t{i}", description="", team=team)
        ),
    )
    assert all(isinstance(r, Ticket) for r in results), results
    numbers = sorted(int(r.reference.rsplit("-", 1)[1]) for r in results)
    assert numbers == list(range(numbers[0], numbers[0] + 8))
