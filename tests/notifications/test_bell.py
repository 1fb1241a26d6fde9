"""The navbar bell counts tickets with unread notifications, as the list groups them, not the
notifications themselves: ten notifications about one ticket make one."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tests.escalation.test_views import notify
from tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def bell(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("notifications:bell"), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_many_notifications_about_one_ticket_count_once(client):
    user = UserFactory()
    first, second = TicketFactory(), TicketFactory()
    notify(user, 10, ticket=first)
    notify(user, 3, ticket=second)
    body = bell(client, user)
    assert '<span class="position-absolute' in body
    assert ">2</span>" in body
    assert "Unread notifications about 2 tickets" in body
    assert ">13<" not in body


def test_read_notifications_and_other_users_are_not_counted(client):
    user, someone = UserFactory(), UserFactory()
    ticket, done = TicketFactory(), TicketFactory()
    notify(user, 2, ticket=ticket)
    read = notify(user, 4, ticket=done)
    Notification.objects.filter(pk__in=[n.pk for n in read]).update(read_at=timezone.now())
    notify(someone, 5, ticket=done)
    body = bell(client, user)
    assert ">1</span>" in body
    assert "Unread notifications about 1 ticket<" in body


def test_notifications_about_no_ticket_are_one_group(client):
    # The list shows the notifications about no ticket as one group; so does the bell.
    user = UserFactory()
    notify(user, 3)
    notify(user, 2, ticket=TicketFactory())
    body = bell(client, user)
    assert ">2</span>" in body
    assert "Unread notifications about 1 ticket, and 3 other unread notifications" in body
    only_other = UserFactory()
    notify(only_other, 3)
    client.logout()
    body = bell(client, only_other)
    assert ">1</span>" in body
    assert "3 unread notifications" in body


def test_nothing_unread_shows_no_badge(client):
    user = UserFactory()
    Notification.objects.filter(pk__in=[n.pk for n in notify(user, 2, TicketFactory())]).update(
        read_at=timezone.now()
    )
    body = bell(client, user)
    assert "bell-count" not in body
    assert "No unread notifications" in body


def test_the_badge_stops_at_99_tickets(client):
    user = UserFactory()
    for ticket in TicketFactory.create_batch(100):
        notify(user, 1, ticket=ticket)
    body = bell(client, user)
    assert ">99+</span>" in body
    assert "Unread notifications about 100 tickets" in body


def test_the_bell_is_one_query_however_many_notifications(client, django_assert_num_queries):
    user = UserFactory()
    for ticket in TicketFactory.create_batch(3):
        notify(user, 4, ticket=ticket)
    client.force_login(user)
    client.get(reverse("notifications:bell"), **HTMX)  # the session is read and cached
    # session, user, the count
    with django_assert_num_queries(3):
        client.get(reverse("notifications:bell"), **HTMX)
