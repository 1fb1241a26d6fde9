"""An agent works a ticket from creation to resolution in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tickets.models import Message, Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(transactional_db):
    agent = UserFactory(username="alice", first_name="Alice", last_name="Agent")
    team = TeamFactory(name="Service Desk", members=[agent])
    TeamFactory(name="Network", members=[UserFactory(username="bob")])
    CustomerFactory(name="Acme Logistics")
    return {"agent": agent, "team": team}


PASSWORD = "pw"  # what tests.factories.UserFactory sets


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))


def test_agent_works_a_ticket(page: Page, desk):
    log_in(page, "alice")

    # Create a ticket.
    page.get_by_role("link", name="New ticket").first.click()
    page.get_by_label("Subject").fill("Warehouse scanner offline")
    page.get_by_label("Description").fill("Scanners in hall 3 cannot reach the server.")
    page.get_by_label("Customer").select_option(label="Acme Logistics")
    page.get_by_label("Team").select_option(label="Service Desk")
    page.get_by_label("Impact").select_option("2")
    page.get_by_label("Urgency").select_option("2")
    page.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_role("heading", name="Warehouse scanner offline")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Ticket HD-\d{4}-\d{6} has been created\."))
    ).to_be_visible()
    reference = Ticket.objects.get().reference

    # It is in the list; the search filters the table in place (htmx) and pushes the URL.
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Tickets", exact=True
    ).click()
    results = page.locator("#results")
    expect(results.get_by_role("link", name=reference)).to_be_visible()
    page.get_by_label("Search").fill("no such thing")
    expect(results.get_by_text("No tickets match these filters.")).to_be_visible()
    expect(page).to_have_url(
        re.compile(r"/tickets/\?scope=all&q=no(\+|%20)such(\+|%20)thing&sort=")
    )
    page.get_by_label("Search").fill("scanner")
    expect(results.get_by_role("link", name=reference)).to_be_visible()
    page.locator("label", has_text="Pending").click()  # status toggle
    expect(results.get_by_text("No tickets match these filters.")).to_be_visible()
    page.locator("label", has_text="Pending").click()
    page.locator("label", has_text="New").click()
    expect(results.get_by_role("link", name=reference)).to_be_visible()
    expect(page).to_have_url(re.compile(r"status=new"))
    page.screenshot(path="/tmp/ticket_list.png", full_page=True)

    # Open it, reply, add an internal note: each appears in the timeline without a reload.
    results.get_by_role("link", name="Warehouse scanner offline").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{reference}/$"))
    page.evaluate("window.__no_reload = true")  # survives only if the page is not reloaded

    timeline = page.locator("#timeline")
    page.get_by_label("Message").fill("We are looking into it.")
    page.get_by_role("button", name="Send reply").click()
    expect(timeline.locator(".message-reply")).to_contain_text("We are looking into it.")
    expect(page.get_by_text("Your reply has been sent.")).to_be_visible()

    page.get_by_label("Message").fill("Switch in hall 3 was rebooted at 9:02.")
    page.get_by_label("Internal note").check()
    page.get_by_role("button", name="Add internal note").click()
    expect(timeline.locator(".message-note")).to_contain_text("Switch in hall 3 was rebooted")

    # new → open → pending → open → resolved, through the buttons the service offers.
    status = page.locator(".ticket-header .status-badge")
    for button, label, sentence in [
        ("Open", "Open", "Status changed from New to Open by Alice Agent."),
        ("Set pending", "Pending", "Status changed from Open to Pending by Alice Agent."),
        ("Resume", "Open", "Status changed from Pending to Open by Alice Agent."),
        ("Resolve", "Resolved", "Status changed from Open to Resolved by Alice Agent."),
    ]:
        page.locator(".transitions").get_by_role("button", name=button, exact=True).click()
        expect(status).to_have_text(label)
        expect(timeline.get_by_text(sentence)).to_be_visible()
    expect(page.locator(".transitions").get_by_role("button")).to_have_text(["Reopen", "Close"])
    assert page.evaluate("window.__no_reload") is True  # all of it through htmx

    page.screenshot(path="/tmp/ticket_detail.png", full_page=True)

    ticket = Ticket.objects.get()
    assert ticket.status == Ticket.Status.RESOLVED
    assert [m.kind for m in Message.objects.order_by("pk")] == ["reply", "note"]
    transitions = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.TRANSITIONED)
    assert [e.payload["to"] for e in transitions] == ["open", "pending", "open", "resolved"]


def test_disallowed_transition_shows_a_message(page: Page, desk):
    """A stale page offers a button that is no longer allowed: the agent gets a clear message."""
    from tickets import services

    ticket = services.ticket_create(
        actor=desk["agent"],
        data=services.NewTicket(subject="Stale page", description="", team=desk["team"]),
    )
    log_in(page, "alice")
    page.goto(f"/tickets/{ticket.reference}/")
    services.ticket_transition(ticket=ticket, actor=desk["agent"], name="resolve")
    page.locator(".transitions").get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Cannot open a ticket that is resolved.")
    expect(page.locator(".ticket-header .status-badge")).to_have_text("Resolved")


def test_language_switch_and_logout(page: Page, desk):
    log_in(page, "alice")
    page.get_by_role("button", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name=re.compile("Alice Agent")).click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
