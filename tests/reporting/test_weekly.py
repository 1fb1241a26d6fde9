"""The weekly report email: once per subscriber and week (in their time zone), through the
outbox, with the figures of the tickets they may read, worded in their language."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from notifications import email
from notifications.models import Delivery, Preference
from reporting import weekly
from reporting.models import WeeklyReportSubscription
from tests.escalation.test_services import Chain
from tests.factories import TicketFactory, UserFactory

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 7 December 2026; the week before is Monday 30 November to Sunday 6 December.
MONDAY_7 = dt.datetime(2026, 12, 7, 7, tzinfo=BERLIN)

pytestmark = pytest.mark.django_db


def subscribe(user, language="en", zone="Europe/Berlin"):
    Preference.objects.create(user=user, language=language, timezone=zone)
    WeeklyReportSubscription.objects.create(user=user)


def mails(user):
    return list(Delivery.objects.filter(user=user, kind=weekly.EMAIL_KIND))


@pytest.fixture
def chain() -> Chain:
    chain = Chain()
    l1, l2 = chain.teams[0], chain.teams[1]
    for day in (30, 1, 2):  # three of L1's tickets last week (30 Nov, 1 and 2 Dec)
        month = 11 if day == 30 else 12
        TicketFactory(team=l1, created_at=dt.datetime(2026, month, day, 10, tzinfo=BERLIN))
    TicketFactory(team=l1, created_at=dt.datetime(2026, 11, 25, 10, tzinfo=BERLIN))  # before
    TicketFactory(team=l1, created_at=dt.datetime(2026, 12, 7, 1, tzinfo=BERLIN))  # this week
    for _ in range(2):  # two of L2's tickets last week
        TicketFactory(team=l2, created_at=dt.datetime(2026, 12, 3, 10, tzinfo=BERLIN))
    return chain


def test_once_per_week_whenever_beat_runs(chain):
    lead = chain.leads[0]
    subscribe(lead)
    assert weekly.send_weekly_reports(MONDAY_7 - dt.timedelta(hours=2)).written == 0  # 05:00
    assert weekly.send_weekly_reports(MONDAY_7).written == 1
    assert weekly.send_weekly_reports(MONDAY_7).written == 0  # beat twice
    assert weekly.send_weekly_reports(MONDAY_7 + dt.timedelta(days=3)).written == 0  # Thursday
    assert len(mails(lead)) == 1
    assert mails(lead)[0].dedupe_key == "weekly-report:2026-11-30"
    assert weekly.send_weekly_reports(MONDAY_7 + dt.timedelta(days=7)).written == 1
    assert [m.payload["first_day"] for m in mails(lead)] == ["2026-12-07", "2026-11-30"]


def test_the_subscribers_own_time_zone_and_only_readers(chain):
    new_york = chain.leads[1]
    subscribe(new_york, zone="America/New_York")
    agent = chain.agents[0]  # not a lead: reads no reports, gets none
    subscribe(agent)
    # 07:00 in Berlin is 01:00 in New York: not yet.
    assert weekly.send_weekly_reports(MONDAY_7).written == 0
    # 13:00 in Berlin is 07:00 in New York.
    assert weekly.send_weekly_reports(MONDAY_7 + dt.timedelta(hours=6)).written == 1
    (mail,) = mails(new_york)
    assert mail.payload["timezone"] == "America/New_York"
    assert mail.status == Delivery.Status.PENDING and mail.channel == Delivery.Channel.EMAIL
    assert mails(agent) == []


def test_a_lead_gets_their_teams_figures_an_admin_all(chain):
    lead = chain.leads[0]
    admin = UserFactory(username="boss", is_superuser=True)
    subscribe(lead)
    subscribe(admin)
    weekly.send_weekly_reports(MONDAY_7)
    (lead_mail,) = mails(lead)
    (admin_mail,) = mails(admin)
    assert lead_mail.payload["current"]["tickets_created"] == 3
    assert admin_mail.payload["current"]["tickets_created"] == 5
    assert lead_mail.payload["previous"]["tickets_created"] == 1  # 25 November


def test_the_email_in_english_and_in_german(chain, settings):
    settings.SITE_URL = "https://help.example"
    english, german = chain.leads[0], chain.leads[1]
    subscribe(english, language="en")
    subscribe(german, language="de")
    weekly.send_weekly_reports(MONDAY_7)
    (mail,) = mails(english)
    subject, text, html = email.render(mail, english, Preference.for_user(english))
    assert subject == "Helpdesk: your weekly report, 11/30/2026 to 12/06/2026"
    assert "- Tickets created: 3 (the week before: 1)" in text
    assert "Time to first response (median): —" in text
    assert "https://help.example/reports/?preset=custom&start=2026-11-30&end=2026-12-06" in text
    assert '<th scope="row"' in html and "Tickets created" in html and "Last week" in html
    (mail,) = mails(german)
    subject, text, html = email.render(mail, german, Preference.for_user(german))
    assert subject == "Helpdesk: Ihr Wochenbericht, 30.11.2026 bis 06.12.2026"
    assert "- Erstellte Tickets: 2 (Woche davor: 0)" in text
    assert "Ihre Kennzahlen der letzten Woche" in text
    assert "Erstellte Tickets" in html and "Letzte Woche" in html


def test_the_toggle_on_the_reports_page(chain):
    lead = chain.leads[0]
    client = Client()
    client.force_login(lead)
    url = reverse("reporting:weekly")
    page = client.get(reverse("reporting:index")).content.decode()
    assert "Email me this report every week" in page
    for _ in range(2):  # a double submit has one effect
        response = client.post(url, {"weekly": "1"})
        assert response.status_code == 302
    assert WeeklyReportSubscription.objects.filter(user=lead).count() == 1
    page = client.get(reverse("reporting:index")).content.decode()
    assert "Stop the weekly email" in page
    assert "You get the weekly report by email every Monday" in page
    assert client.post(url, {"weekly": "maybe"}).status_code == 400
    assert client.post(url, {"weekly": "0"}).status_code == 302
    assert not WeeklyReportSubscription.objects.exists()
    agent = Client()
    agent.force_login(chain.agents[0])
    assert agent.post(url, {"weekly": "1"}).status_code == 403
    assert not WeeklyReportSubscription.objects.exists()
