"""The team lead's escalation dashboard in a real browser: live without reload, acting in place,
stale requests refused, both layouts usable. Screenshots go to tests/e2e/artifacts/ (ignored
by git) for review."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from escalation import services as esc
from escalation.models import Escalation
from tests.e2e.test_ticket_flow import chain_desk, log_in  # noqa: F401 - a shared fixture
from tests.factories import TicketFactory
from tickets import services as ticket_services
from tickets.models import Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# One poll is 5 s; allow three before giving up.
LIVE = 16_000


@pytest.fixture
def lead_page(browser, live_server):
    """Opens pages in browser contexts of their own (a second person beside `page`); each is
    closed after the test, so nothing polls the server any more, and CSP violations fail it."""
    contexts = []
    pages = []

    def open_page(**viewport) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": 1400, "height": 900, **viewport},
            locale="en-GB",
        )
        contexts.append(context)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                page.errors.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        pages.append(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    for page in pages:
        assert not page.errors, f"JavaScript errors or CSP violations: {page.errors}"


def open_dashboard(page: Page, user: str = "lena") -> None:
    log_in(page, user)
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Escalation dashboard")).to_be_visible()
    page.evaluate("window.__no_reload = true")  # survives only if the page is not reloaded


def escalated(desk, subject: str) -> Escalation:
    ticket = ticket_services.ticket_create(
        actor=desk["alice"],
        data=ticket_services.NewTicket(
            subject=subject, description="Down.", team=desk["desk"], customer=desk["customer"]
        ),
    )
    return esc.escalation_raise(
        ticket=ticket,
        actor=desk["alice"],
        kind="hierarchical",
        package=esc.Package(summary="Down", actions_taken="Restarted"),
        reason="Needs the app team",
    )


def test_escalation_appears_live_and_is_acknowledged_on_the_dashboard(
    page: Page,
    lead_page,
    chain_desk,  # noqa: F811 - the fixture imported above
):
    lead = lead_page()
    open_dashboard(lead)
    waiting = lead.locator(".waiting-row")
    expect(lead.get_by_text("No escalation is waiting for acknowledgement.")).to_be_visible()

    # Alice creates a Sev 2 ticket, replies, and escalates it with the information package.
    log_in(page, "alice")
    page.get_by_role("link", name="New ticket").first.click()
    page.get_by_label("Subject").fill("Payment terminals decline every card")
    page.get_by_label("Description").fill("All stores since 9:00.")
    page.get_by_label("Customer").select_option(label="Acme Logistics")
    page.get_by_label("Team").select_option(label="Service Desk")
    page.get_by_label("Impact").select_option("2")
    page.get_by_label("Urgency").select_option("2")
    page.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_role("heading", name="Payment terminals decline every card")).to_be_visible()
    ticket = Ticket.objects.get()
    assert ticket.priority == 2
    page.get_by_label("Message").fill("We are checking the payment gateway.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Your reply has been sent.")).to_be_visible()
    page.locator(".escalate-panel > summary").click()
    form = page.locator(".escalate-form")
    form.get_by_label("Reason").fill("The gateway needs the app team.")
    form.get_by_label("What was tried").fill("Restarted the terminals; the gateway answers 502.")
    for box in form.locator(".checklist input[type=checkbox]").all():
        box.check()
    form.get_by_role("button", name="Escalate").click()
    expect(page.get_by_text("The ticket has been escalated to 2nd Level Apps")).to_be_visible()

    # Lena sees it arrive without reloading, highlighted, and acknowledges it there.
    expect(waiting).to_have_count(1, timeout=LIVE)
    expect(waiting).to_contain_text(ticket.reference)
    expect(waiting).to_contain_text("Service Desk → 2nd Level Apps")
    expect(lead.locator("#dashboard-updated")).to_contain_text(
        re.compile(r"Updated at \d\d:\d\d:\d\d")
    )
    waiting.get_by_role("button", name=re.compile(r"^Acknowledge " + ticket.reference)).click()
    status = lead.locator("#dashboard-status")
    expect(status).to_contain_text(f"{ticket.reference}: acknowledged for 2nd Level Apps.")
    expect(status).to_be_focused()
    expect(waiting).to_have_count(0, timeout=LIVE)
    assert lead.evaluate("window.__no_reload") is True

    # The timeline tells each step.
    page.goto(f"/tickets/{ticket.reference}/")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".message-reply")).to_contain_text(
        "We are checking the payment gateway."
    )
    expect(timeline).to_contain_text(
        "Alice Agent escalated the ticket from Service Desk (level 1) to 2nd Level Apps (level 2)."
    )
    expect(timeline).to_contain_text("Lena Lead acknowledged the escalation for 2nd Level Apps.")
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    for kind in ("created", "replied", "escalated", "acknowledged"):
        assert kind in kinds


def test_a_ticket_moves_from_at_risk_to_breached_without_reload(lead_page, chain_desk):  # noqa: F811
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    ticket = TicketFactory(
        team=chain_desk["apps"],
        subject="Invoice run stuck",
        status=Ticket.Status.OPEN,
        resolution_due_at=now + 2 * hour,
        resolution_warning_at=now + hour,
    )
    stable = TicketFactory(
        team=chain_desk["apps"],
        subject="Long broken",
        status=Ticket.Status.OPEN,
        resolution_due_at=now - 2 * hour,
    )
    lead = lead_page()
    open_dashboard(lead)
    at_risk, breached = lead.locator(".at-risk-row"), lead.locator(".breached-row")
    expect(at_risk).to_have_count(0)
    # A keyboard user rests on a row's button: updates of the section keep the focus there.
    act = lead.get_by_role("link", name=f"Act on {stable.reference}")
    act.focus()

    # The warning passes: at risk, with its countdown.
    Ticket.objects.filter(pk=ticket.pk).update(resolution_warning_at=now - hour)
    expect(at_risk).to_have_count(1, timeout=LIVE)
    expect(at_risk).to_contain_text("Invoice run stuck")
    expect(at_risk.locator(".countdown")).to_have_attribute("aria-live", "off")
    expect(lead.locator(".dash-changed").first).to_be_attached()

    # Then the deadline: breached, and no longer at risk.
    Ticket.objects.filter(pk=ticket.pk).update(resolution_due_at=now - dt.timedelta(minutes=1))
    expect(breached).to_have_count(2, timeout=LIVE)
    expect(breached.nth(1)).to_contain_text("Invoice run stuck")
    expect(act).to_be_focused()
    expect(breached.nth(1)).to_contain_text("breached")
    expect(at_risk).to_have_count(0)
    assert lead.evaluate("window.__no_reload") is True

    # When the server cannot be reached, the page says that updates stopped.
    lead.route("**/dashboard/live/**", lambda route: route.abort())
    expect(lead.locator("#dashboard-stale")).to_be_visible(timeout=LIVE)
    lead.unroute("**/dashboard/live/**")
    expect(lead.locator("#dashboard-stale")).to_be_hidden(timeout=LIVE)


def test_bulk_acknowledge_and_a_stale_acknowledge(lead_page, chain_desk):  # noqa: F811
    rows = [escalated(chain_desk, f"Store {n} offline") for n in range(4)]
    lead = lead_page()
    open_dashboard(lead)
    waiting = lead.locator(".waiting-row")
    expect(waiting).to_have_count(4)

    for escalation in rows[:3]:
        lead.get_by_label(f"Select {escalation.ticket.reference}").check()
    lead.get_by_role("button", name="Acknowledge selected").click()
    status = lead.locator("#dashboard-status")
    expect(status.locator(".action-done")).to_have_count(3)
    expect(waiting).to_have_count(1, timeout=LIVE)
    acknowledged = Escalation.objects.filter(status=Escalation.Status.ACKNOWLEDGED)
    assert set(acknowledged.values_list("pk", flat=True)) == {e.pk for e in rows[:3]}

    # The last one is acknowledged in another tab while this page is hidden (updates paused).
    lead.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    last = rows[3]
    esc.escalation_acknowledge(escalation=last, actor=chain_desk["bob"])
    waiting.get_by_role("button", name=re.compile(r"^Acknowledge " + last.ticket.reference)).click()
    refused = status.locator(".action-refused")
    expect(refused).to_contain_text(last.ticket.reference)
    expect(status).to_be_focused()
    assert TicketEvent.objects.filter(ticket=last.ticket, kind="acknowledged").count() == 1
    assert lead.evaluate("window.__no_reload") is True


@pytest.mark.parametrize("width", [1400, 390])
def test_dashboard_layouts(lead_page, chain_desk, width):  # noqa: F811
    for n in range(3):
        escalated(
            chain_desk, f"A rather long subject for store number {n} that must wrap on a phone"
        )
    TicketFactory(
        team=chain_desk["apps"],
        subject="Overdue everywhere",
        status=Ticket.Status.OPEN,
        resolution_due_at=timezone.now() - dt.timedelta(hours=1),
    )
    lead = lead_page(width=width)
    open_dashboard(lead)
    expect(lead.locator(".waiting-row")).to_have_count(3)
    expect(lead.locator("#chart-escalations")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    lead.screenshot(path=str(ARTIFACTS / f"dashboard-{width}.png"), full_page=True)
    assert lead.evaluate("document.scrollingElement.scrollWidth") <= width
