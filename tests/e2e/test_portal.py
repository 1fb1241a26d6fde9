"""A customer uses the portal in a real browser: signs in by a code from the email, opens a
ticket, sees the agent's answer, and rates the solution; also on a phone-sized screen."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from portal.models import Rating
from tests.e2e.conftest import browser_page
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tests.knowledge.articles import make_article
from tests.portal.conftest import send_deliveries_at_once
from tickets import services as ticket_services
from tickets.models import Contact, Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def customer_side(transactional_db, settings, monkeypatch):
    # The code email goes through the outbox: its send task runs at once, in the server.
    send_deliveries_at_once(monkeypatch)
    # The sign-in throttles count in the cache: a fresh one for this test.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "e2e"}
    }
    agent = UserFactory(username="alice", first_name="Alice", last_name="Agent")
    team = TeamFactory(name="Service Desk", members=[agent])
    customer = CustomerFactory(name="Acme Logistics")
    contact = Contact.objects.create(
        customer=customer, name="Carla Customer", email="carla@acme.example", language="en"
    )
    return {"agent": agent, "team": team, "contact": contact}


def sign_in(page: Page, address: str) -> None:
    page.goto("/portal/")
    expect(page).to_have_url(re.compile(r"/portal/sign-in/"))
    page.get_by_label("Your email address").fill(address)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    page.get_by_label("Code from the email").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()


def test_customer_opens_follows_and_rates_a_ticket(page: Page, customer_side):
    mail.outbox.clear()
    sign_in(page, "carla@acme.example")
    assert mail.outbox[0].to == ["carla@acme.example"]

    # Open a ticket; help articles are suggested while the subject is typed, and the two
    # plain questions set impact and urgency.
    make_article(
        "label-printer",
        owner=customer_side["agent"],
        en=("Label printer prints blank pages", "Replace the ribbon, then print a test label."),
        de=("Etikettendrucker druckt leer", "Farbband tauschen, dann ein Testetikett drucken."),
    )
    page.get_by_role("link", name="New ticket").first.click()
    page.get_by_label("Subject").press_sequentially("label printer")
    expect(page.locator("#portal-suggestions")).to_contain_text("Label printer prints blank pages")
    page.get_by_label("Subject").fill("Label printer prints blank pages")
    page.get_by_label("What happened?").fill("Since this morning every label comes out empty.")
    page.get_by_label("Many people or a whole department").check()
    page.get_by_label("Our work is seriously slowed down today").check()
    page.get_by_role("button", name="Send ticket").click()
    expect(page.get_by_role("heading", name="Label printer prints blank pages")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Your ticket HD-\d{4}-\d{6} has been opened"))
    ).to_be_visible()
    expect(page.locator("[data-portal-status]")).to_have_text("Received")
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.requester, ticket.impact, ticket.urgency) == (
        Ticket.Channel.PORTAL,
        customer_side["contact"],
        2,
        2,
    )

    # An agent answers (through the service), and adds a note the customer must not see.
    agent = customer_side["agent"]
    ticket_services.ticket_reply(ticket=ticket, actor=agent, body="Please restart the printer.")
    ticket_services.ticket_add_note(ticket=ticket, actor=agent, body="Driver bug, internal.")
    page.reload()
    expect(page.get_by_text("Please restart the printer.")).to_be_visible()
    expect(page.get_by_text("Alice from support")).to_be_visible()
    expect(page.get_by_text("Driver bug, internal.")).to_have_count(0)

    # The customer answers; the agent resolves.
    page.get_by_label("Your message").fill("Restarted, works again. Thanks!")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Your message has been sent.")).to_be_visible()
    expect(page.get_by_text("Restarted, works again. Thanks!")).to_be_visible()
    ticket.refresh_from_db()
    ticket_services.ticket_transition(ticket=ticket, actor=agent, name="resolve")

    # The portal asks for a rating.
    page.reload()
    expect(page.locator("[data-portal-status]")).to_have_text("Solved")
    expect(
        page.get_by_role("heading", name="Your ticket is solved. How did we do?")
    ).to_be_visible()
    page.screenshot(path="/tmp/portal_detail.png", full_page=True)
    page.get_by_label("5 · Very satisfied").check()
    page.get_by_label("Anything you want to tell us? (optional)").fill("Fast and friendly.")
    page.get_by_role("button", name="Send rating").click()
    expect(page.get_by_role("heading", name="Thank you for your rating!")).to_be_visible()
    page.get_by_role("link", name="Back to the ticket").click()
    expect(page.get_by_role("heading", name="Your ticket is solved. How did we do?")).to_have_count(
        0
    )

    rating = Rating.objects.get()
    assert (rating.ticket_id, rating.score, rating.comment) == (ticket.pk, 5, "Fast and friendly.")
    assert rating.contact == customer_side["contact"]
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RATED).count() == 1


def test_the_portal_works_on_a_phone_and_in_german(browser, live_server, customer_side):
    phone = {"viewport": {"width": 390, "height": 844}, "locale": "de-DE"}
    with browser_page(browser, live_server.url, **phone) as page:
        mail.outbox.clear()
        page.goto("/portal/sign-in/")
        expect(page.get_by_role("heading", name="Im Kundenportal anmelden")).to_be_visible()
        page.get_by_role("button", name="Navigation umschalten").click()
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        sign_in(page, "carla@acme.example")
        # The collapsed menu opens on a narrow screen.
        nav = page.get_by_role("navigation", name="Portal navigation")
        page.get_by_role("button", name="Toggle navigation").click()
        nav.get_by_role("link", name="New ticket").click()
        expect(page.get_by_role("heading", name="Open a ticket")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        page.screenshot(path="/tmp/portal_phone.png", full_page=True)
