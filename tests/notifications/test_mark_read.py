"""Marking notifications read: by ticket (its page was opened), one, or all."""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import Notification
from tests.factories import TicketFactory

K = Notification.Kind


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
    with pytest.raises(Notification.DoesNotExist):  # not theirs: the views answer 404
        services.notifications_mark_read(user=other_agent, pk=one.pk)
    assert not Notification.objects.get(pk=one.pk).read_at
    assert services.notifications_mark_read(user=agent, pk=one.pk) == 1
    assert services.notifications_mark_read(user=other_agent) == 2
    assert not Notification.objects.filter(read_at__isnull=True).exists()
