"""An agent works a ticket from creation to resolution in a real browser."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from escalation import services as esc
from escalation.models import Escalation
from notifications.models import MessageTemplate
from sla.models import BusinessCalendar, SLAPolicy, SLATarget, TierTarget
from tests.factories import CustomerFactory, SupportLevelFactory, TeamFactory, UserFactory
from tickets import services as ticket_services
from tickets.models import Message, Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


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
    # The page was made before the change: the request says so (once per intent), with what
    # happened in between.
    expect(page.get_by_role("alert")).to_contain_text("The status already changed to “Resolved” at")
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


# --- Escalation: checklist, package, the receiving side ---------------------------------------


@pytest.fixture
def chain_desk(transactional_db):
    """Service Desk (1st level) escalates to 2nd Level Apps, with Bob in it and Lena leading.

    The SLA policy is made here: a transactional test cannot count on the data migrations'
    rows, which the first transactional test flushes away."""
    alice = UserFactory(username="alice", first_name="Alice", last_name="Agent")
    bob = UserFactory(username="bob", first_name="Bob", last_name="Expert")
    lena = UserFactory(username="lena", first_name="Lena", last_name="Lead")
    level1, level2 = SupportLevelFactory(rank=1), SupportLevelFactory(rank=2)
    apps = TeamFactory(
        name="2nd Level Apps", level=level2, members=[bob], lead=lena, email="apps@example.com"
    )
    desk = TeamFactory(name="Service Desk", level=level1, members=[alice], escalates_to=apps)
    TeamFactory(name="Security", level=level2, kind="functional")
    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="24/7", defaults={"always_open": True, "timezone": "Europe/Berlin"}
    )
    policy, created = SLAPolicy.objects.get_or_create(
        name="Enterprise 24/7",
        defaults={"order": 20, "calendar": calendar, "customer_tiers": ["enterprise"]},
    )
    if created:
        hour = dt.timedelta(hours=1)
        SLATarget.objects.create(
            policy=policy,
            priority=3,
            first_response=4 * hour,
            next_update=10 * hour,
            resolution=30 * hour,
            warning_percent=75,
        )
    TierTarget.objects.get_or_create(
        level=level2, defaults={"acknowledge_within": dt.timedelta(minutes=30)}
    )
    customer = CustomerFactory(name="Acme Logistics", tier="enterprise")
    return {"alice": alice, "bob": bob, "desk": desk, "apps": apps, "customer": customer}


def worked_ticket(desk) -> Ticket:
    """A ticket with some history: answered, waited on the customer, an impatient customer."""
    t0 = timezone.now() - dt.timedelta(hours=3)
    alice = desk["alice"]
    ticket = ticket_services.ticket_create(
        actor=alice,
        data=ticket_services.NewTicket(
            subject="Warehouse scanners cannot sync",
            description="Scanners in hall 3 fail to upload since the 6:00 shift.",
            team=desk["desk"],
            customer=desk["customer"],
        ),
        now=t0,
    )
    steps = [
        (
            10,
            lambda now: ticket_services.ticket_transition(
                ticket=ticket, actor=alice, name="open", now=now
            ),
        ),
        (
            15,
            lambda now: ticket_services.ticket_reply(
                ticket=ticket,
                actor=alice,
                body="We are on it: please send the scanner logs.",
                now=now,
            ),
        ),
        (
            20,
            lambda now: ticket_services.ticket_transition(
                ticket=ticket, actor=alice, name="pend", now=now
            ),
        ),
        (
            150,
            lambda now: ticket_services.ticket_add_customer_message(
                ticket=ticket,
                body="Logs attached. This is unacceptable, the whole hall is blocked!",
                author_name="Mia Customer",
                now=now,
            ),
        ),
        (
            160,
            lambda now: ticket_services.ticket_add_note(
                ticket=ticket,
                actor=alice,
                body="Restarted the sync service; no change. Looks like the app server.",
                now=now,
            ),
        ),
    ]
    for minutes, step in steps:
        step(t0 + dt.timedelta(minutes=minutes))
    ticket.refresh_from_db()
    return ticket


def log_out(page: Page, name: str) -> None:
    page.get_by_role("button", name=re.compile(name)).click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_escalation_with_checklist_and_acknowledgement(page: Page, chain_desk):
    ticket = worked_ticket(chain_desk)
    # The seeded template, unless an earlier transactional test flushed the seeds.
    MessageTemplate.objects.get_or_create(
        name="Status update",
        language="en",
        defaults={
            "kind": "status_update",
            "body": "Status update on {reference}\n\nMeasures so far:\n",
        },
    )
    url = f"/tickets/{ticket.reference}/"

    # Alice follows the ticket (so that she keeps it in sight) and escalates it.
    log_in(page, "alice")
    page.goto(url)
    expect(page.locator(".sla-panel")).to_contain_text("Policy: Enterprise 24/7")
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.get_by_text("You are now following this ticket.")).to_be_visible()
    page.evaluate("window.__no_reload = true")

    page.locator(".escalate-panel > summary").click()
    form = page.locator(".escalate-form")
    expect(form.get_by_label("What happened")).to_have_value(
        re.compile("^Warehouse scanners cannot sync")
    )
    expect(form.get_by_label("What was tried")).to_have_value(re.compile("Restarted the sync"))
    expect(
        form.get_by_label(re.compile("Up the escalation chain to 2nd Level Apps"))
    ).to_be_checked()
    form.get_by_label("Reason").fill("The app server needs a developer's eyes.")
    form.get_by_label("Next steps").fill("Check the sync queue on the app server.")
    form.get_by_label("Risks", exact=True).fill("Hall 3 ships nothing until it works.")
    checklist = form.locator(".checklist input[type=checkbox]")
    expect(checklist).to_have_count(7)
    for i in range(6):
        checklist.nth(i).check()
    # One item left open: the browser does not send the form (the server would refuse it too).
    form.get_by_role("button", name="Escalate").click()
    assert checklist.nth(6).evaluate("box => box.validity.valueMissing") is True
    expect(form).to_be_visible()
    assert not Escalation.objects.exists()
    checklist.nth(6).check()
    page.screenshot(path="/tmp/escalate_form.png", full_page=True)
    form.get_by_role("button", name="Escalate").click()

    expect(page.get_by_text("The ticket has been escalated to 2nd Level Apps")).to_be_visible()
    panel = page.locator(".escalation-panel")
    expect(panel.locator(".owner-team")).to_contain_text("2nd Level Apps")
    expect(panel.locator(".owner-lead")).to_contain_text("Lena Lead")
    expect(panel.locator(".owner-lead a[href^='mailto:lena@example.com']")).to_be_visible()
    expect(panel.locator(".current-escalation .escalation-status")).to_have_text("Raised")
    expect(panel.locator(".current-escalation")).to_contain_text(
        "2nd Level Apps must acknowledge this escalation."
    )
    expect(panel.get_by_role("button", name="Acknowledge")).to_have_count(0)  # not her team
    expect(page.locator("#timeline")).to_contain_text(
        "Alice Agent escalated the ticket from Service Desk (level 1) to 2nd Level Apps (level 2)."
    )
    assert page.evaluate("window.__no_reload") is True
    escalation = Escalation.objects.get()
    assert escalation.next_steps == "Check the sync queue on the app server."
    log_out(page, "Alice Agent")

    # Bob, in the receiving team, sees the bell count and acknowledges.
    log_in(page, "bob")
    expect(page.locator(".bell-count")).to_have_text("1")
    page.locator("#notification-bell a").click()
    expect(page.locator(".notification-unread")).to_contain_text(
        f"{ticket.reference} was escalated to 2nd Level Apps: The app server needs a developer"
    )
    page.get_by_role("link", name=f"Open {ticket.reference}").click()
    expect(page).to_have_url(re.compile(rf"{url}$"))
    panel = page.locator(".escalation-panel")
    expect(panel.locator(".escalation-package")).to_contain_text("Hall 3 ships nothing")
    panel.get_by_role("button", name="Acknowledge and take it").click()
    expect(
        page.get_by_text(
            "You have acknowledged the escalation for 2nd Level Apps and taken the ticket."
        )
    ).to_be_visible()
    expect(panel.locator(".current-escalation .escalation-status")).to_have_text("Acknowledged")
    expect(panel.locator(".owner-assignee")).to_contain_text("Bob Expert")
    page.locator(".sla-target-first_response details > summary").click()
    page.screenshot(path="/tmp/escalation_ticket.png", full_page=True)
    page.locator(".sla-panel").screenshot(path="/tmp/sla_panel.png")
    panel.screenshot(path="/tmp/escalation_panel.png")
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.ACKNOWLEDGED
    assert escalation.acknowledged_by == chain_desk["bob"]

    # The reply box of the escalated ticket offers the communication templates; choosing one
    # fills the textarea (the htmx-swapped partial, so the script must be delegated).
    reply = page.locator("#reply-form")
    reply.get_by_label("Message").fill("Hello,")
    reply.get_by_label("Insert a template").select_option(label="Status update")
    message = reply.get_by_label("Message")
    expect(message).to_have_value(re.compile(rf"^Hello,\n\nStatus update on {ticket.reference}"))
    expect(message).to_have_value(re.compile("Measures so far:"))
    expect(reply.get_by_label("Insert a template")).to_have_value("")
    expect(reply.get_by_role("button", name="Insert")).to_be_hidden()  # only without JS
    reply.screenshot(path="/tmp/reply_templates.png")
    message.fill("")

    # Opening the ticket read its notification: the list and the bell say so.
    page.goto("/notifications/")
    expect(page.get_by_text(ticket.reference).first).to_be_visible()
    expect(page.locator(".notification-unread")).to_have_count(0)
    expect(page.locator(".bell-count")).to_have_count(0)

    # The overview: one more, overdue, escalation to see it highlighted.
    other = worked_ticket(chain_desk)
    late = esc.escalation_raise(
        ticket=other,
        actor=chain_desk["alice"],
        kind="hierarchical",
        package=esc.Package(summary="Second hall too", actions_taken="Restarted"),
        reason="Same fault in hall 4",
    )
    Escalation.objects.filter(pk=late.pk).update(
        ack_due_at=timezone.now() - dt.timedelta(minutes=5)
    )
    page.get_by_role("link", name="Escalations").click()
    expect(page.locator(".escalations-waiting .escalation-overdue")).to_contain_text(
        other.reference
    )
    expect(page.locator(".escalations-acknowledged")).to_contain_text(ticket.reference)
    page.screenshot(path="/tmp/escalations.png", full_page=True)
    page.goto("/tickets/?sort=due")
    page.screenshot(path="/tmp/ticket_list_sla.png", full_page=True)
    page.goto("/notifications/")
    page.screenshot(path="/tmp/notifications.png", full_page=True)


def test_notification_settings(page: Page, desk):
    from notifications.models import ChannelPreference, Preference

    log_in(page, "alice")
    page.get_by_role("button", name=re.compile("Alice Agent")).click()
    page.get_by_role("link", name="My notification settings").click()
    expect(page.get_by_role("heading", name="My notification settings")).to_be_visible()
    page.get_by_role("combobox", name="Language", exact=True).select_option("de")
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_label("Ticket assigned: by email").uncheck()
    page.screenshot(path="/tmp/notification_settings.png", full_page=True)
    page.get_by_role("button", name="Save settings").click()
    # The message is worded in the request's language; the language is the user's, so the
    # page after it is German.
    expect(page.get_by_text("Your notification settings have been saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Meine Benachrichtigungseinstellungen")).to_be_visible()
    expect(page.get_by_label("Ticket zugewiesen: per E-Mail")).not_to_be_checked()
    preference = Preference.objects.get(user=desk["agent"])
    assert (preference.language, preference.timezone) == ("de", "Europe/London")
    assert (
        ChannelPreference.objects.get(preference=preference, kind="ticket_assigned").email is False
    )


def test_reply_template_without_javascript(browser, live_server, chain_desk):
    """The "Insert" button of the template select reloads the page with ?template=<id>."""
    ticket = worked_ticket(chain_desk)
    esc.escalation_raise(
        ticket=ticket,
        actor=chain_desk["alice"],
        kind="hierarchical",
        package=esc.Package(summary="Hall 3 down", actions_taken="Restarted"),
    )
    MessageTemplate.objects.get_or_create(
        name="Closing report",
        language="en",
        defaults={"kind": "closing_report", "body": "Closing report on {reference}\n\nCause:\n"},
    )
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, "bob")
        page.goto(f"/tickets/{ticket.reference}/")
        reply = page.locator("#reply-form")
        reply.get_by_label("Insert a template").select_option(label="Closing report")
        reply.get_by_role("button", name="Insert").click()
        expect(page).to_have_url(re.compile(r"\?template=\d+#reply-form$"))
        message = page.locator("#reply-form").get_by_label("Message")
        expect(message).to_have_value(re.compile(rf"^Closing report on {ticket.reference}"))
        expect(message).to_have_value(re.compile("Cause:"))
    finally:
        context.close()
