"""Each way to read a ticket in `Ticket.objects.visible_to`, alone and beside its near misses.

Written against the survivors of `make mutation-db` (docs/mutation.md): a mutant that drops a
filter, joins two ways with "and" or reads the wrong event kind or key changes one of these
answers.
"""

from __future__ import annotations

import pytest

from tests.factories import TeamFactory, TicketFactory, UserFactory
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def visible(user) -> set[int]:
    return set(Ticket.objects.visible_to(user).values_list("pk", flat=True))


def moved(ticket: Ticket, *, source: str, target: str, kind=TicketEvent.Kind.TEAM_CHANGED) -> None:
    TicketEvent.objects.create(ticket=ticket, kind=kind, payload={"from": source, "to": target})


def test_the_creator_alone_sees_a_ticket_of_another_team(agent, team_a, team_b, other_agent):
    created = TicketFactory(team=team_b, created_by=agent)
    TicketFactory(team=team_b, created_by=other_agent)
    assert visible(agent) == {created.pk}


def test_a_ticket_someone_else_follows_stays_hidden(agent, team_a, team_b, other_agent):
    followed_by_other = TicketFactory(team=team_b)
    followed_by_other.watchers.add(other_agent)
    followed = TicketFactory(team=team_b)
    followed.watchers.add(agent)
    assert visible(agent) == {followed.pk}


def test_a_ticket_assigned_to_someone_else_stays_hidden(agent, team_a, team_b, other_agent):
    TicketFactory(team=team_b, assignee=other_agent)
    assigned = TicketFactory(team=team_b, assignee=agent)
    assert visible(agent) == {assigned.pk}


def test_a_team_that_handed_a_ticket_on_still_sees_it_and_its_lead_too(agent, team_a, team_b):
    lead = UserFactory()
    team_a.lead = lead
    team_a.save()
    handed_on = TicketFactory(team=team_b)
    moved(handed_on, source=team_a.name, target=team_b.name)
    assert visible(agent) == {handed_on.pk}
    assert visible(lead) == {handed_on.pk}


def test_only_the_team_it_left_sees_it_not_every_moved_ticket(agent, team_a, team_b):
    elsewhere = TeamFactory(name="Team C")
    arrived_at_a_name = TicketFactory(team=team_b)  # the ticket went *to* team A's name
    moved(arrived_at_a_name, source=elsewhere.name, target=team_a.name)
    left_c = TicketFactory(team=team_b)
    moved(left_c, source=elsewhere.name, target=team_b.name)
    other_event = TicketFactory(team=team_b)  # another kind of event naming team A
    moved(other_event, source=team_a.name, target=team_b.name, kind=TicketEvent.Kind.ASSIGNED)
    assert visible(agent) == set()
