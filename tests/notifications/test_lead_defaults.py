"""What a team lead is told by default, and marking notifications read."""

from __future__ import annotations

import pytest
from django.utils import timezone

from notifications import services
from notifications.models import DEFAULT_CHANNELS, LEAD_DEFAULT_CHANNELS, Notification
from tests.factories import TeamFactory, TicketFactory, UserFactory

K = Notification.Kind


@pytest.fixture
def lead(db):
    user = UserFactory(username="lead")
    TeamFactory(name="Desk", lead=user)
    return user


def test_a_lead_who_never_chose_is_spared_per_ticket_noise(lead, agent, team_a):
    ticket = TicketFactory(team=team_a)
    now = timezone.now()
    for kind in (K.SLA_WARNING, K.TICKET_RESOLVED, K.STATUS_UPDATE_DUE, K.SLA_BREACH):
        services.notify(
            [lead, agent], kind=kind, ticket=ticket, cause=f"c:{kind}", payload={}, now=now
        )
    assert set(Notification.objects.filter(user=lead).values_list("kind", flat=True)) == {
        K.SLA_BREACH
    }
    assert Notification.objects.filter(user=agent).count() == 4


def test_the_settings_page_shows_a_lead_their_own_defaults(lead, agent):
    mine = services.channels_of(lead)
    assert mine[K.SLA_WARNING] == (False, False)
    assert mine[K.SLA_BREACH] == DEFAULT_CHANNELS[K.SLA_BREACH]
    assert services.channels_of(agent)[K.SLA_WARNING] == DEFAULT_CHANNELS[K.SLA_WARNING]
    assert set(LEAD_DEFAULT_CHANNELS) <= set(K.values)


def test_a_lead_who_chose_warnings_gets_them(lead, team_a):
    services.preferences_update(
        user=lead,
        language="en",
        timezone="Europe/Berlin",
        calendar=None,
        channels={K.SLA_WARNING: (True, False)},
    )
    services.notify(
        [lead],
        kind=K.SLA_WARNING,
        ticket=TicketFactory(team=team_a),
        cause="w",
        payload={},
        now=timezone.now(),
    )
    assert Notification.objects.filter(user=lead, kind=K.SLA_WARNING).count() == 1


def test_a_lead_of_an_inactive_team_is_an_agent_like_any_other(db, team_a):
    former = UserFactory(username="former")
    TeamFactory(name="Old", lead=former, is_active=False)
    assert services.channels_of(former)[K.SLA_WARNING] == DEFAULT_CHANNELS[K.SLA_WARNING]


def test_mark_read_by_ticket_one_or_all(agent, other_agent, team_a):
    first, second = TicketFactory(team=team_a), TicketFactory(team=team_a)
    rows = {
        (user.pk, ticket.pk): Notification.objects.create(
            user=user, kind=K.TICKET_ASSIGNED, ticket=ticket, dedupe_key=f"{user.pk}:{ticket.pk}"
        )
        for user in (agent, other_agent)
        for ticket in (first, second)
    }
    assert services.notifications_mark_read(user=agent, ticket_id=first.pk) == 1
    assert services.notifications_mark_read(user=agent, ticket_id=first.pk) == 0  # once
    unread = set(
        Notification.objects.filter(read_at__isnull=True).values_list("user_id", "ticket_id")
    )
    assert unread == set(rows) - {(agent.pk, first.pk)}
    one = rows[(agent.pk, second.pk)]
    assert services.notifications_mark_read(user=other_agent, pk=one.pk) == 0  # not theirs
    assert services.notifications_mark_read(user=agent, pk=one.pk) == 1
    assert services.notifications_mark_read(user=other_agent) == 2
    assert not Notification.objects.filter(read_at__isnull=True).exists()
