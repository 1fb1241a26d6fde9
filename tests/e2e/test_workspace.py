"""The agent workspace in a real browser: keyboard navigation, a bulk action with a refusal,
the list on a wide and a phone screen, and an axe-core audit of the main pages."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from escalation import services as esc
from escalation.models import Escalation
from notifications.models import Notification
from tests.factories import CustomerFactory, SupportLevelFactory, TeamFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSWORD = "pw"  # what tests.factories.UserFactory sets


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))


@pytest.fixture
def queue(transactional_db):
    level1 = SupportLevelFactory(rank=1)
    level2 = SupportLevelFactory(rank=2)
    alice = UserFactory(username="alice", first_name="Alice", last_name="Agent")
    lead = UserFactory(username="lena", first_name="Lena", last_name="Lead")
    experts = TeamFactory(name="Experts", level=level2, members=[lead])
    experts.lead = lead
    experts.save()
    desk = TeamFactory(name="Service Desk", level=level1, members=[alice], escalates_to=experts)
    customer = CustomerFactory(name="Acme Logistics")
    tickets = []
    for subject in ("Scanner offline", "Printer jams", "VPN drops"):
        tickets.append(
            ticket_services.ticket_create(
                actor=alice,
                data=ticket_services.NewTicket(
                    subject=subject, description="Details.", team=desk, customer=customer
                ),
            )
        )
    return {"alice": alice, "lead": lead, "desk": desk, "experts": experts, "tickets": tickets}


def test_keyboard_through_the_list_and_into_a_ticket(page: Page, queue):
    log_in(page, "alice")
    rows = page.locator("[data-ticket-row]")
    expect(rows).to_have_count(3)
    # Newest first: VPN drops, Printer jams, Scanner offline.
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("workspace-row-selected"))
    expect(rows.nth(0).locator("[data-ticket-link]")).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(2)).to_have_class(re.compile("workspace-row-selected"))
    page.keyboard.press("k")
    expect(rows.nth(1).locator("[data-ticket-link]")).to_be_focused()
    expect(rows.nth(2)).not_to_have_class(re.compile("workspace-row-selected"))

    # "?" lists the shortcuts; Escape closes the dialog.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next ticket in the list")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # "/" goes to the search field; typing there is typing, not shortcuts.
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    page.keyboard.type("jam")
    expect(search).to_have_value("jam")
    expect(rows).to_have_count(1)
    expect(page.locator("#results-status")).to_contain_text("1 ticket")
    page.keyboard.press("Escape")  # out of the field: shortcuts work again

    page.keyboard.press("j")
    page.keyboard.press("o")
    expect(page.get_by_role("heading", name="Printer jams", level=1)).to_be_visible()
    page.keyboard.press("r")
    reply = page.locator("#reply-form textarea")
    expect(reply).to_be_focused()
    page.keyboard.type("On it, a technician is on the way.")
    page.get_by_role("button", name=re.compile("Send")).click()
    # After the htmx swap the focus is on the new message, and the confirmation is announced.
    expect(page.locator("#ticket-messages")).to_contain_text("Your reply has been sent.")
    focused_id = page.evaluate("document.activeElement && document.activeElement.id")
    assert focused_id.startswith("message-"), focused_id
    # "/" from a ticket page: the list's search.
    page.keyboard.press("/")
    expect(page).to_have_url(re.compile(r"/tickets/#search$"))
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()


def test_bulk_action_reports_a_refusal(page: Page, queue):
    log_in(page, "alice")
    stale = next(t for t in queue["tickets"] if t.subject == "Scanner offline")
    page.get_by_role("checkbox", name=f"Tick {stale.reference}").check()
    other = next(t for t in queue["tickets"] if t.subject == "Printer jams")
    page.get_by_role("checkbox", name=f"Tick {other.reference}").check()
    # Meanwhile someone opens the first ticket in another tab.
    ticket_services.ticket_transition(ticket=stale, actor=queue["alice"], name="open")

    page.get_by_text("Bulk action on the ticked tickets").click()
    page.get_by_label("Action").select_option("transition")
    page.get_by_label("New status").select_option("open")
    page.get_by_role("button", name="Apply to ticked").click()
    report = page.locator("#bulk-report")
    expect(report).to_contain_text("1 ticket changed.")
    expect(report).to_contain_text("1 ticket refused:")
    expect(report).to_contain_text(stale.reference)
    expect(report).to_be_focused()
    expect(page.locator("#live-status")).to_contain_text("1 ticket refused")
    other.refresh_from_db()
    assert other.status == Ticket.Status.OPEN


def test_saving_the_filters_as_they_are_now(page: Page, queue):
    log_in(page, "alice")
    page.get_by_role("searchbox", name="Search").fill("jam")
    expect(page.locator("[data-ticket-row]")).to_have_count(1)  # filtered by htmx, no reload
    page.get_by_text("Save these filters as a view").click()
    page.get_by_label("Name of the view").fill("Jams")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_text("The view “Jams” has been saved.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/tickets/\?q=jam$"))
    views = page.get_by_role("navigation", name="Views")
    expect(views.get_by_role("link", name=re.compile(r"^Jams\s+1$"))).to_have_attribute(
        "aria-current", "page"
    )


@pytest.mark.parametrize("width", [1400, 390])
def test_list_screenshots_and_no_sideways_scrolling(browser, live_server, queue, width):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}, locale="en-GB"
    )
    page = context.new_page()
    try:
        log_in(page, "alice")
        expect(page.locator("[data-ticket-row]")).to_have_count(3)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"ticket-list-{width}.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = page.evaluate(
            """[...document.querySelectorAll("body *")]
              .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
              .filter((e) => !e.parentElement.closest(".table-responsive"))
              .slice(0, 8).map((e) => e.tagName + "." + e.className + "#" + e.id)"""
        )
        assert overflow <= 0, f"{overflow}px of sideways scrolling at {width}px: {wide}"
    finally:
        context.close()


# --- axe-core ---------------------------------------------------------------------------------

AUDIT = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" "))}));
}"""


def audit(page: Page, path: str) -> list[dict]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    return [{**v, "page": path} for v in page.evaluate(AUDIT)]


def test_axe_finds_no_serious_violations_on_the_main_pages(browser, live_server, queue):
    lead, alice = queue["lead"], queue["alice"]
    ticket = queue["tickets"][0]
    ticket_services.ticket_reply(ticket=ticket, actor=alice, body="We are looking into it.")
    ticket.refresh_from_db()
    esc.escalation_raise(
        ticket=ticket,
        actor=alice,
        kind=Escalation.Kind.HIERARCHICAL,
        reason="Needs the experts",
        package=esc.Package(summary="Scanner down", actions_taken="Restarted"),
    )
    Escalation.objects.filter(ticket=ticket).update(
        ack_due_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert Notification.objects.filter(user=lead, read_at__isnull=True).exists()

    # The audit injects axe's source as a script tag: the page's CSP would refuse it.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 900}, bypass_csp=True
    )
    page = context.new_page()
    try:
        violations = audit(page, "/login/")
        log_in(page, "lena")
        # The notifications first: opening the ticket reads them, and unread rows are audited.
        violations += audit(page, "/notifications/")
        assert page.locator(".notification-unread").count() > 0
        for path in (
            "/tickets/",
            ticket.get_absolute_url(),
            "/tickets/new/",
            "/escalations/",
            "/notifications/settings/",
        ):
            violations += audit(page, path)
        # A form with errors, and a ticket page after an htmx action.
        page.goto("/tickets/new/")
        page.get_by_role("button", name="Create ticket").click()
        page.wait_for_load_state("networkidle")
        page.add_script_tag(path=str(AXE))
        violations += [{**v, "page": "create form with errors"} for v in page.evaluate(AUDIT)]
    finally:
        context.close()
    assert not violations, "\n".join(
        f"{v['page']}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}" for v in violations
    )
