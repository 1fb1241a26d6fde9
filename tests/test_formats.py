"""One wording for deadlines and relative times, in English and German, wherever they show:
the helpers themselves, the SLA badge of lists and ticket pages, and the emails."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from helpdesk.formats import deadline_human, deadline_instant, instant_human, relative_time

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 7 December 2026, 09:00 in Berlin.
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN)
TUE_10 = dt.datetime(2026, 12, 8, 10, 0, tzinfo=BERLIN)
MON_16_BEFORE = dt.datetime(2026, 11, 30, 16, 0, tzinfo=BERLIN)  # a week earlier: the date


@pytest.fixture(autouse=True)
def _berlin():
    with timezone.override(BERLIN):
        yield


@pytest.mark.parametrize(
    ("language", "value", "expected"),
    [
        ("en", NOW - dt.timedelta(minutes=3), "3 min ago"),
        ("en", NOW + dt.timedelta(hours=2), "in 2 h"),
        ("en", NOW + dt.timedelta(seconds=20), "just now"),
        ("en", NOW - dt.timedelta(days=2, hours=3), "2 d 3 h ago"),
        ("de", NOW - dt.timedelta(minutes=3), "vor 3 min"),
        ("de", NOW + dt.timedelta(hours=2), "in 2 h"),
        ("de", NOW + dt.timedelta(seconds=20), "gerade eben"),
    ],
)
def test_relative_time(language, value, expected):
    with translation.override(language):
        assert relative_time(value, NOW) == expected


@pytest.mark.parametrize(
    ("language", "kwargs", "expected"),
    [
        ("en", {"due_at": TUE_10}, "due Tue 10 a.m. · in 1 d 1 h"),
        (
            "en",
            {"due_at": TUE_10, "remaining": dt.timedelta(hours=3), "business": True},
            "due Tue 10 a.m. · 3 h business time left",
        ),
        (
            "en",
            {
                "due_at": NOW - dt.timedelta(hours=2),
                "remaining": -dt.timedelta(hours=2),
                "business": True,
            },
            "overdue since Mon 7 a.m. · 2 h business time over",
        ),
        ("en", {"due_at": MON_16_BEFORE}, "overdue since 11/30/2026 4 p.m. · 6 d 17 h ago"),
        ("de", {"due_at": TUE_10}, "fällig Di 10:00 · in 1 d 1 h"),
        (
            "de",
            {"due_at": TUE_10, "remaining": dt.timedelta(hours=3), "business": True},
            "fällig Di 10:00 · noch 3 h Geschäftszeit",
        ),
        (
            "de",
            {
                "due_at": NOW - dt.timedelta(hours=2),
                "remaining": -dt.timedelta(hours=2),
                "business": True,
            },
            "überfällig seit Mo 07:00 · 2 h Geschäftszeit überschritten",
        ),
    ],
)
def test_deadline_human(language, kwargs, expected):
    with translation.override(language):
        assert deadline_human(now=NOW, **kwargs) == expected


@pytest.mark.parametrize(
    ("language", "due", "expected"),
    [
        ("en", TUE_10, "due Tue, 12/08/2026 10 a.m. CET"),
        ("en", MON_16_BEFORE, "overdue since Mon, 11/30/2026 4 p.m. CET"),
        ("de", TUE_10, "fällig Di, 08.12.2026 10:00 CET"),
    ],
)
def test_deadline_in_emails_is_the_full_instant(language, due, expected):
    with translation.override(language):
        assert deadline_instant(due, NOW) == expected


def test_instant_human_names_the_weekday_and_zone():
    with translation.override("de"):
        assert instant_human(TUE_10) == "Di, 08.12.2026 10:00 CET"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "resolution: due Tue, 12/08/2026 10 a.m. CET"),
        ("de", "Lösung: fällig Di, 08.12.2026 10:00 CET"),
    ],
)
def test_emails_word_deadlines_with_the_same_helper(language, expected):
    import time_machine

    from notifications import email
    from notifications.models import Delivery, Notification, Preference
    from tests.factories import TicketFactory, UserFactory

    user = UserFactory()
    ticket = TicketFactory(resolution_due_at=TUE_10)
    delivery = Delivery.objects.create(
        channel="email",
        kind=Notification.Kind.SLA_WARNING,
        user=user,
        ticket=ticket,
        payload={"reference": ticket.reference, "target": "next_update"},
        dedupe_key="k",
    )
    preference = Preference(user=user, language=language, timezone="Europe/Berlin")
    with time_machine.travel(NOW, tick=False):
        _subject, text, html = email.render(delivery, user, preference)
    assert f"- {expected}" in text
    assert f"<li>{expected}</li>" in html


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "expected"), [("en", "3 min ago"), ("de", "vor 3 min")])
def test_the_list_says_relative_times_in_the_same_wording(
    client, agent, team_a, language, expected
):
    from django.urls import reverse

    from tests.factories import TicketFactory
    from tickets.models import Ticket

    ticket = TicketFactory(team=team_a)
    Ticket.objects.filter(pk=ticket.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=3, seconds=10)
    )
    client.force_login(agent)
    client.cookies["django_language"] = language
    body = client.get(reverse("tickets:list")).content.decode()
    assert f">{expected}</time>" in body
