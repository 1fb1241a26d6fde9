"""`Ticket.objects.visible_to(user)`: the one visibility rule."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Permission

from tests.factories import TeamFactory, TicketFactory, UserFactory
from tickets.models import Ticket


def visible(user) -> set[int]:
    return set(Ticket.objects.visible_to(user).values_list("pk", flat=True))


@pytest.mark.django_db
def test_agent_sees_team_assigned_and_followed_tickets_only(agent, team_a, team_b, other_agent):
    own_team = TicketFactory(team=team_a)
    other_team = TicketFactory(team=team_b)
    assigned = TicketFactory(team=team_b, assignee=agent)
    followed = TicketFactory(team=team_b)
    followed.watchers.add(agent)
    assert visible(agent) == {own_team.pk, assigned.pk, followed.pk}
    assert other_team.pk in visible(other_agent)
    assert own_team.pk not in visible(other_agent)


@pytest.mark.django_db
def test_lead_sees_the_teams_they_lead(team_b):
    lead = UserFactory()
    team = TeamFactory(lead=lead)
    led = TicketFactory(team=team)
    TicketFactory(team=team_b)
    assert visible(lead) == {led.pk}


@pytest.mark.django_db
def test_admins_and_holders_of_view_all_see_everything(admin_user, team_a, team_b):
    tickets = {TicketFactory(team=team_a).pk, TicketFactory(team=team_b).pk}
    assert visible(admin_user) == tickets
    supervisor = UserFactory()
    supervisor.user_permissions.add(Permission.objects.get(codename="view_all_tickets"))
    supervisor = type(supervisor).objects.get(pk=supervisor.pk)  # drop the permission cache
    assert visible(supervisor) == tickets


@pytest.mark.django_db
def test_anonymous_and_inactive_users_see_nothing(agent, team_a):
    TicketFactory(team=team_a)
    assert visible(AnonymousUser()) == set()
    agent.is_active = False
    agent.save()
    assert visible(agent) == set()


@pytest.mark.django_db
def test_no_duplicates_when_several_rules_match(agent, team_a):
    ticket = TicketFactory(team=team_a, assignee=agent)
    ticket.watchers.add(agent)
    assert Ticket.objects.visible_to(agent).count() == 1
