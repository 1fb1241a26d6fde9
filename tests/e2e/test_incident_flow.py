"""A major incident in the browser: declared from a ticket, an update sent to the linked
customers, the banner on the ticket, resolved with the closing report."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from incidents.models import MajorIncident, WaveRule
from tests.e2e.test_ticket_flow import log_in
from tests.factories import CustomerFactory, SupportLevelFactory, UserFactory
from tickets.models import Service, Team, Ticket
from tickets.services import NewTicket, ticket_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def incident_desk(transactional_db):
    WaveRule.objects.update(is_active=False)
    # The desk needs a first and a third level: the seeded ones when they are there, made here
    # when they are not (after a transactional test without serialized_rollback, such as
    # tests/mail/test_guarantees.py, the run finds none), as the other browser tests do.
    levels = {rank: SupportLevelFactory(rank=rank) for rank in (1, 3)}
    lead = UserFactory(username="ines", first_name="Ines", last_name="Incident")
    im = Team.objects.create(name="Incident management", level=levels[3], lead=lead)
    desk = Team.objects.create(name="Service Desk", level=levels[1], escalates_to=im)
    desk.members.add(lead)  # she sees the desk's tickets
    checkout = Service.objects.create(name="Checkout")
    ticket = ticket_create(
        actor=lead,
        data=NewTicket(
            subject="Payment fails at checkout",
            description="",
            team=desk,
            customer=CustomerFactory(name="Shop GmbH"),
            service=checkout,
        ),
    )
    return {"lead": lead, "ticket": ticket}


def test_declare_update_and_resolve(page: Page, incident_desk):
    ticket = incident_desk["ticket"]
    log_in(page, "ines")
    page.goto(f"/tickets/{ticket.reference}/")
    page.get_by_role("link", name="Declare a major incident from this ticket").click()
    expect(page.get_by_label("Title")).to_have_value("Payment fails at checkout")
    page.get_by_label("Title").fill("Checkout down")
    page.get_by_label("Severity").select_option("1")
    page.get_by_role("button", name="Declare").click()
    incident = MajorIncident.objects.get()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.pk}/$"))
    expect(page.get_by_text(f"Major incident {incident.reference} declared.")).to_be_visible()

    page.get_by_label("What we know").fill("The payment provider is down.")
    page.get_by_role("button", name="Send update").click()
    expect(page.get_by_text("Update sent to 1 linked tickets.")).to_be_visible()

    page.goto(f"/tickets/{ticket.reference}/")
    expect(page.get_by_text(f"Part of major incident {incident.reference}")).to_be_visible()
    expect(page.locator(".incident-banner")).to_contain_text("The payment provider is down.")

    page.goto(f"/incidents/{incident.pk}/")
    page.get_by_label(re.compile(r"^Cause")).fill("Expired certificate")
    page.get_by_label(re.compile(r"^Solution")).fill("Certificate renewed")
    page.get_by_role("button", name="Resolve the incident").click()
    expect(page.get_by_role("heading", name="Closing report")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
