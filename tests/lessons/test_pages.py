"""The lessons pages: the list (search, filters, visibility, a flat query count), a ticket's
report page (pre-filled, written, changed once per version, its timeline entry) — with the
rendered text in English and German."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from lessons import services as lessons
from lessons.models import CauseCategory, ClosingReport
from tests.lessons.conftest import climb, new_ticket, resolve
from tickets.models import Service, TicketEvent

pytestmark = pytest.mark.django_db

LIST = "/reports/lessons/"


def report(org, ticket, *, cause="Pool too small", category=None, lessons_learned="Watch"):
    return lessons.report_save(
        ticket=ticket,
        actor=org.admin,
        category=category or org.defect,
        texts={"cause": cause, "solution": "Raised it", "lessons_learned": lessons_learned},
        expected_version=0,
    )


def form_data(category, version, **texts):
    return {
        "category": category.pk,
        "cause": "Certificate expired",
        "solution": "Renewed",
        "impact": "",
        "lessons_learned": "Owners for certificates",
        "preventive_measures": "",
        "version": version,
        **texts,
    }


# --- The report page --------------------------------------------------------------------------


def test_the_page_of_a_ticket_without_report_shows_the_draft(client, org, climbed):
    resolve(org, climbed)
    client.force_login(org.agent)
    response = client.get(f"{LIST}{climbed.reference}/")
    text = response.content.decode()
    assert response.status_code == 200
    assert f"Closing report of {climbed.reference}" in text
    assert "it can be closed only once its closing report is written" in text
    assert "Pre-filled from the ticket" in text
    assert "Payments time out for every shop" in text  # the package, in the cause field
    assert "Software defect" in text


def test_writing_the_report_saves_once_and_lands_in_the_timeline(client, org, climbed):
    client.force_login(org.agent)
    url = f"{LIST}{climbed.reference}/"
    response = client.post(url, form_data(org.defect, 0))
    assert response.status_code == 302 and response["Location"] == url
    saved = ClosingReport.objects.get(ticket=climbed)
    assert (saved.cause, saved.version, saved.level_rank) == ("Certificate expired", 1, 3)
    assert saved.created_by == org.agent

    # The same form again (a double submit): refused, nothing written twice.
    again = client.post(url, form_data(org.defect, 0, cause="Something else"))
    assert again.status_code == 409
    assert "changed meanwhile; nothing was saved" in again.content.decode()
    assert ClosingReport.objects.get(ticket=climbed).cause == "Certificate expired"

    # A change from the current version goes through.
    assert client.post(url, form_data(org.defect, 1, impact="Two hours")).status_code == 302
    saved.refresh_from_db()
    assert (saved.impact, saved.version) == ("Two hours", 2)

    events = TicketEvent.objects.filter(
        ticket=climbed, kind=TicketEvent.Kind.DETAILS_CHANGED
    ).order_by("pk")
    assert [e.payload["closing_report"] for e in events] == ["written", "updated"]
    assert events[1].payload["fields"] == ["impact"]
    page = client.get(f"/tickets/{climbed.reference}/").content.decode()
    assert "wrote the closing report." in page
    assert "changed the closing report." in page


def test_missing_fields_are_form_errors(client, org, climbed):
    client.force_login(org.agent)
    data = form_data(org.defect, 0, cause="  ")
    data["category"] = ""
    response = client.post(f"{LIST}{climbed.reference}/", data)
    assert response.status_code == 422
    assert response.content.decode().count("This field is required.") == 2
    assert not ClosingReport.objects.exists()


def test_a_ticket_one_may_not_read_is_not_found(client, org, climbed):
    client.force_login(org.outsider)
    assert client.get(f"{LIST}{climbed.reference}/").status_code == 404
    assert client.post(f"{LIST}{climbed.reference}/", form_data(org.defect, 0)).status_code == 404
    assert not ClosingReport.objects.exists()


def test_the_pages_are_for_agents_only(client, org, climbed):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="customer-ish"))
    assert client.get(LIST).status_code == 404
    client.logout()
    assert client.get(LIST).status_code == 302  # to the sign-in


def test_the_page_in_german(client, org, climbed):
    report(org, climbed)
    client.force_login(org.agent)
    response = client.get(f"{LIST}{climbed.reference}/", HTTP_ACCEPT_LANGUAGE="de")
    text = response.content.decode()
    assert f"Abschlussbericht zu {climbed.reference}" in text
    assert "Softwarefehler" in text  # the category's German name, at display time
    assert "Nachzuverfolgende vorbeugende Maßnahmen" in text
    assert "Höchste erreichte Ebene: 3" in text


# --- The list ---------------------------------------------------------------------------------


@pytest.fixture
def three(org):
    """Three reports: on Checkout at level 3, on Login at level 3 (other category), and on a
    ticket of another team that the service desk cannot read."""
    login = Service.objects.create(name="Customer login", name_de="Kundenlogin")
    config = CauseCategory.objects.get(name="Configuration change")
    a = climb(org, new_ticket(org, subject="Checkout fails"))
    report(org, a, cause="The database connection pool was exhausted")
    b = climb(org, new_ticket(org, subject="Login broken", service=login))
    report(org, b, cause="A firewall rule was changed", category=config)
    c = climb(org, new_ticket(org, subject="Hidden one", team=org.other, actor=org.outsider))
    report(org, c, cause="Hidden cause of the other desk")
    return a, b, c, login, config


def rows(response) -> list[str]:
    return [r.ticket.reference for r in response.context["reports"]]


def test_the_list_shows_what_the_reader_may_see(client, org, three):
    a, b, c, *_ = three
    client.force_login(org.agent)
    response = client.get(LIST)
    assert response.status_code == 200
    assert set(rows(response)) == {a.reference, b.reference}
    text = response.content.decode()
    assert "2 closing reports" in text
    assert "Hidden one" not in text
    client.force_login(org.admin)
    assert set(rows(client.get(LIST))) == {a.reference, b.reference, c.reference}
    client.force_login(org.im_lead)  # the lead of incident management held all three
    assert set(rows(client.get(LIST))) == {a.reference, b.reference, c.reference}


def test_search_and_filters(client, org, three):
    a, b, _c, login, config = three
    client.force_login(org.admin)
    assert rows(client.get(LIST, {"q": "firewall"})) == [b.reference]
    assert rows(client.get(LIST, {"q": "connection pool"})) == [a.reference]
    assert rows(client.get(LIST, {"q": "conn"})) == [a.reference]  # the last word as a prefix
    assert rows(client.get(LIST, {"q": "nothing like it"})) == []
    assert rows(client.get(LIST, {"category": config.pk})) == [b.reference]
    assert rows(client.get(LIST, {"service": login.pk})) == [b.reference]
    assert rows(client.get(LIST, {"level": 2})) == []
    assert len(rows(client.get(LIST, {"level": 3}))) == 3
    today = timezone.localdate()
    assert len(rows(client.get(LIST, {"start": today, "end": today}))) == 3
    future = today + dt.timedelta(days=3)
    assert rows(client.get(LIST, {"start": future})) == []
    assert rows(client.get(LIST, {"end": today - dt.timedelta(days=1)})) == []


def test_a_resolved_ticket_is_in_the_period_of_its_resolution(client, org, three):
    a, *_ = three
    resolve(org, a)
    yesterday = timezone.now() - dt.timedelta(days=1)
    type(a).objects.filter(pk=a.pk).update(resolved_at=yesterday)
    day = timezone.localdate(yesterday)
    client.force_login(org.admin)
    assert rows(client.get(LIST, {"start": day, "end": day})) == [a.reference]


@pytest.mark.postgres
def test_full_text_search_stems_german_and_english(client, org, three):
    a, b, *_ = three
    ticket = climb(org, new_ticket(org, subject="Rechnungen"))
    report(org, ticket, cause="Die Rechnungen wurden doppelt verschickt")
    client.force_login(org.admin)
    assert rows(client.get(LIST, {"q": "Rechnung"})) == [ticket.reference]  # German stem
    assert rows(client.get(LIST, {"q": "exhausting"})) == [a.reference]  # English stem
    assert rows(client.get(LIST, {"q": "changes"})) == [b.reference]


def test_bad_filters_are_a_400_with_the_reason(client, org, three):
    client.force_login(org.admin)
    today = timezone.localdate()
    response = client.get(LIST, {"start": today, "end": today - dt.timedelta(days=1)})
    assert response.status_code == 400
    assert "The end lies before the start." in response.content.decode()
    assert client.get(LIST, {"start": "not a date"}).status_code == 400
    assert client.get(LIST, {"level": "x"}).status_code == 400


def test_the_list_in_german(client, org, three):
    client.force_login(org.admin)
    text = client.get(LIST, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "3 Abschlussberichte" in text
    assert "Konfigurationsänderung" in text and "Kundenlogin" in text
    assert "Offene Maßnahmen" in text


def test_the_list_reads_a_flat_number_of_queries(client, org, three, django_assert_max_num_queries):
    client.force_login(org.agent)
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    for n in range(4):
        report(org, climb(org, new_ticket(org, subject=f"More {n}")), cause=f"Cause {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST)
    assert len(rows(response)) == 6


def test_the_ticket_page_asks_for_the_report_once_resolved(client, org, climbed):
    client.force_login(org.agent)
    page = f"/tickets/{climbed.reference}/"
    assert "lessons-ticket-banner" not in client.get(page).content.decode()  # still active
    resolve(org, climbed)
    text = client.get(page).content.decode()
    assert "it can be closed only once its closing report is written" in text
    assert f'href="{LIST}{climbed.reference}/">Write the closing report</a>' in text
    report(org, climbed)
    text = client.get(page, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Der Abschlussbericht dieses Tickets ist geschrieben." in text
