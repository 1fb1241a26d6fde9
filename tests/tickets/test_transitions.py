"""The status FSM: every state × every transition, allowed or forbidden, through the service."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django_fsm import TransitionNotAllowed

from tests.factories import TicketFactory
from tickets import services
from tickets.models import TRANSITION_NAMES, Ticket, TicketEvent

S = Ticket.Status
ALLOWED = {
    (S.NEW, "open"): S.OPEN,
    (S.NEW, "resolve"): S.RESOLVED,
    (S.OPEN, "pend"): S.PENDING,
    (S.OPEN, "resolve"): S.RESOLVED,
    (S.PENDING, "resume"): S.OPEN,
    (S.PENDING, "resolve"): S.RESOLVED,
    (S.RESOLVED, "reopen"): S.OPEN,
    (S.RESOLVED, "close"): S.CLOSED,
}


@pytest.mark.django_db
@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("name", TRANSITION_NAMES)
def test_transition_matrix(status, name, agent, team_a):
    ticket = TicketFactory(team=team_a, status=status)
    expected = ALLOWED.get((status, name))
    if expected is None:
        with pytest.raises(TransitionNotAllowed):
            services.ticket_transition(ticket=ticket, actor=agent, name=name)
        ticket.refresh_from_db()
        assert ticket.status == status
        assert not TicketEvent.objects.filter(ticket=ticket).exists()
    else:
        result = services.ticket_transition(ticket=ticket, actor=agent, name=name)
        ticket.refresh_from_db()
        assert result.status == ticket.status == expected
        event = TicketEvent.objects.get(ticket=ticket)
        assert event.kind == TicketEvent.Kind.TRANSITIONED
        assert event.payload == {"from": status, "to": expected, "transition": name}
        assert event.actor == agent
        assert ticket.last_progress_at == event.created_at


@pytest.mark.django_db
@pytest.mark.parametrize("status", list(S))
def test_available_transitions_match_the_matrix(status, agent, team_a):
    ticket = TicketFactory(team=team_a, status=status)
    names = [name for name, _label in services.available_transitions(ticket, agent)]
    assert names == [n for n in TRANSITION_NAMES if (status, n) in ALLOWED]


@pytest.mark.django_db
def test_unknown_transition_is_refused(agent, team_a):
    ticket = TicketFactory(team=team_a)
    with pytest.raises(TransitionNotAllowed):
        services.ticket_transition(ticket=ticket, actor=agent, name="delete")
    with pytest.raises(TransitionNotAllowed):
        # A model method that is not a transition must not be reachable by name.
        services.ticket_transition(ticket=ticket, actor=agent, name="save")


@pytest.mark.django_db
def test_status_cannot_be_assigned_directly(team_a):
    ticket = TicketFactory(team=team_a)
    with pytest.raises(AttributeError):
        ticket.status = S.CLOSED


@pytest.mark.django_db
def test_reopen_counts_and_starts_a_new_cycle(agent, team_a):
    ticket = TicketFactory(team=team_a, resolved=True)
    services.ticket_transition(ticket=ticket, actor=agent, name="reopen")
    ticket.refresh_from_db()
    assert ticket.reopen_count == 1
    assert ticket.escalation_cycle == 1
    assert ticket.resolved_at is None


@pytest.mark.django_db
def test_resolve_and_close_are_stamped(agent, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    resolved_at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    closed_at = resolved_at + dt.timedelta(days=2, minutes=7)
    services.ticket_transition(ticket=ticket, actor=agent, name="resolve", now=resolved_at)
    ticket.refresh_from_db()
    assert ticket.resolved_at == resolved_at
    assert ticket.closed_at is None
    services.ticket_transition(ticket=ticket, actor=agent, name="close", now=closed_at)
    ticket.refresh_from_db()
    assert (ticket.resolved_at, ticket.closed_at) == (resolved_at, closed_at)


@pytest.mark.django_db
def test_stale_copy_cannot_overwrite_a_concurrent_transition(agent, team_a):
    """ConcurrentTransitionMixin: saving a copy whose status changed underneath fails."""
    from django_fsm import ConcurrentTransition

    ticket = TicketFactory(team=team_a, open=True)
    stale = Ticket.objects.get(pk=ticket.pk)
    services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    stale.pend()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.save()
    ticket.refresh_from_db()
    assert ticket.status == S.RESOLVED


@pytest.mark.django_db
def test_service_works_from_a_stale_instance(agent, team_a):
    """The service locks and reloads the row, so a stale caller sees the real state."""
    ticket = TicketFactory(team=team_a, open=True)
    stale = Ticket.objects.get(pk=ticket.pk)
    services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    with pytest.raises(TransitionNotAllowed):
        services.ticket_transition(ticket=stale, actor=agent, name="pend")
    result = services.ticket_transition(ticket=stale, actor=agent, name="close")
    assert result.status == S.CLOSED
