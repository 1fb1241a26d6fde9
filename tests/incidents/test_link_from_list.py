"""Linking the tickets ticked in the agent's ticket list to an open major incident: the
list's button (for those who may run incidents), the choice page, the links, refusals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import IncidentLink
from tests.factories import UserFactory
from tests.incidents.conftest import make_ticket
from tests.incidents.test_entry_points import browser
from tests.incidents.test_services import declare

pytestmark = pytest.mark.django_db

LINK = "/incidents/link-tickets/"


@pytest.fixture
def incident(org):
    return declare(org, services=[org.checkout])


@pytest.fixture
def admin(db):
    return UserFactory(username="chief", is_staff=True, is_superuser=True)


def test_the_list_offers_the_button_only_to_who_may_link(org, incident, admin):
    make_ticket(org, service=org.checkout)
    page = browser(admin).get(reverse("tickets:list")).content.decode()
    assert f'formaction="{LINK}"' in page
    assert "Link to a major incident…</button>" in page
    agent_page = browser(org.agent).get(reverse("tickets:list")).content.decode()
    assert "Apply to ticked" in agent_page  # the bulk form is there …
    assert LINK not in agent_page  # … without the incident button


def test_ticked_tickets_are_linked_in_one_go(org, incident, admin):
    first = make_ticket(org, service=org.checkout, subject="Cannot pay", n=1)
    second = make_ticket(org, subject="Basket empty", n=2)
    client = browser(admin)
    # The list's form posts "REFERENCE:version" per ticked row (and its own fields) here …
    posted = client.post(
        LINK,
        {
            "tickets": [f"{first.reference}:{first.version}", f"{second.reference}:1"],
            "action": "assign",
            "query": "status=open",
        },
    )
    # … and is sent to the choice page's own address, with the tickets and nothing else.
    assert posted.status_code == 302
    target = posted["Location"]
    assert target == f"{LINK}?tickets={first.reference}&tickets={second.reference}"
    page = client.get(target).content.decode()
    assert "2 ticked tickets" in page
    assert f"{first.reference}</a> · Cannot pay" in page
    assert f"{second.reference}</a> · Basket empty" in page
    assert f"{incident.reference} Checkout down</option>" in page

    done = client.post(
        LINK, {"tickets": [first.reference, second.reference], "incident": incident.pk}
    )
    assert done.status_code == 302 and done["Location"] == incident.get_absolute_url()
    links = IncidentLink.objects.filter(incident=incident, ended_at__isnull=True)
    assert {link.ticket_id for link in links} == {first.pk, second.pk}
    assert {link.source for link in links} == {IncidentLink.Source.BULK}

    # The same submission again (a double click) links nothing more and says why.
    again = client.post(
        LINK, {"tickets": [first.reference, second.reference], "incident": incident.pk}
    )
    assert again.status_code == 422
    assert "None of these tickets can be linked" in again.content.decode()
    assert IncidentLink.objects.filter(incident=incident).count() == 2


def test_htmx_from_the_list_navigates_to_the_choice_page(org, incident, admin):
    ticket = make_ticket(org, service=org.checkout)
    response = browser(admin).post(
        LINK, {"tickets": [f"{ticket.reference}:1"]}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == f"{LINK}?tickets={ticket.reference}"


def test_refusals_are_form_errors_or_403(org, incident, admin):
    ticket = make_ticket(org, service=org.checkout)
    client = browser(admin)
    nothing = client.post(LINK, {"incident": incident.pk})
    assert nothing.status_code == 422
    assert "Tick the tickets to link in the ticket list first." in nothing.content.decode()
    no_choice = client.post(LINK, {"tickets": [ticket.reference], "incident": ""})
    assert no_choice.status_code == 422 and "This field is required." in no_choice.content.decode()
    bogus = client.post(LINK, {"tickets": [ticket.reference], "incident": "abc"})
    assert bogus.status_code == 422
    unknown = client.get(LINK, {"tickets": ["HD-2026-999999", ticket.reference]}).content.decode()
    assert "Not found, or not yours to see:" in unknown and "HD-2026-999999" in unknown
    # A 1st-level agent may not link tickets to incidents.
    refused = browser(org.agent).post(
        LINK, {"tickets": [ticket.reference], "incident": incident.pk}
    )
    assert refused.status_code == 403
    assert not IncidentLink.objects.filter(ticket=ticket).exists()


def test_without_an_open_incident_the_page_offers_to_declare_one(org, admin):
    ticket = make_ticket(org, service=org.checkout)
    page = browser(admin).get(LINK, {"tickets": [ticket.reference]}).content.decode()
    assert "There is no open major incident." in page
    assert reverse("incidents:declare") in page
