"""A contact's tickets: opening one, replying, "solved" and reopen, what the pages show."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from portal import selectors, services
from portal.services import PortalRequest
from sla.models import SeverityMatrix
from tests.factories import SupportLevelFactory, TeamFactory
from tests.portal.conftest import ContactFactory, open_ticket, sign_in_as
from tickets import services as ticket_services
from tickets.models import Message, Service, Ticket, TicketEvent
from tickets.services import StaleRequest, TicketError

pytestmark = pytest.mark.django_db


def _form(**overrides):
    data = {
        "subject": "Invoices do not open",
        "description": "Clicking an invoice shows an error.",
        "impact": "2",
        "urgency": "1",
        "service": "",
        "intent": "form-1",
    }
    return data | overrides


def test_a_contact_opens_a_ticket_with_a_file(client, orgs, desk):
    sign_in_as(client, orgs["a1"])
    data = _form()
    data["attachments"] = [SimpleUploadedFile("shot.png", b"png", content_type="image/png")]
    response = client.post(reverse("portal:create"), data)
    ticket = Ticket.objects.get(subject="Invoices do not open")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:detail", args=[ticket.reference])
    assert ticket.channel == Ticket.Channel.PORTAL
    assert ticket.requester == orgs["a1"]
    assert ticket.customer == orgs["org_a"]
    assert ticket.team == desk["team"]
    assert (ticket.impact, ticket.urgency, ticket.priority) == (2, 1, 1)  # default grid
    assert ticket.attachments.get().original_name == "shot.png"
    created = ticket.events.get(kind=TicketEvent.Kind.CREATED)
    assert created.actor is None
    assert created.payload["requester"] == "anna@acme.example"
    page = client.get(response["Location"])
    assert "Thank you. Your ticket" in page.content.decode()
    assert "shot.png" in page.content.decode()


def test_the_severity_matrix_in_force_sets_the_priority(orgs, desk):
    grid = {f"{i},{u}": 4 for i in range(1, 5) for u in range(1, 5)} | {"3,3": 2}
    SeverityMatrix.objects.update(is_active=False)
    SeverityMatrix.objects.create(name="Strict", grid=grid)
    opened = services.portal_ticket_open(
        contact=orgs["a1"],
        request=PortalRequest(subject="S", description="D", impact=3, urgency=3),
    )
    assert opened.ticket.priority == 2


def test_a_double_submit_opens_one_ticket(client, orgs):
    sign_in_as(client, orgs["a1"])
    first = client.post(reverse("portal:create"), _form())
    second = client.post(reverse("portal:create"), _form())
    assert Ticket.objects.filter(subject="Invoices do not open").count() == 1
    assert first["Location"] == second["Location"]
    page = client.get(second["Location"])
    assert "This ticket had been opened already." in page.content.decode()
    # Another form (another intent) is another ticket.
    client.post(reverse("portal:create"), _form(intent="form-2"))
    assert Ticket.objects.filter(subject="Invoices do not open").count() == 2


def test_bad_answers_are_form_errors(client, orgs):
    sign_in_as(client, orgs["a1"])
    response = client.post(reverse("portal:create"), _form(impact="9", subject=""))
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "Select a valid choice." in body
    assert not Ticket.objects.filter(channel=Ticket.Channel.PORTAL, subject="").exists()


def test_too_many_files_are_a_form_error(client, orgs, settings):
    settings.ATTACHMENT_MAX_FILES = 1
    sign_in_as(client, orgs["a1"])
    data = _form()
    data["attachments"] = [
        SimpleUploadedFile(f"f{n}.txt", b"x", content_type="text/plain") for n in range(2)
    ]
    response = client.post(reverse("portal:create"), data)
    assert response.status_code == 400
    assert "At most 1 files can be attached" in response.content.decode()
    assert not Ticket.objects.filter(subject="Invoices do not open").exists()


def test_the_team_follows_the_service_then_the_setting(orgs, desk, settings):
    level2 = SupportLevelFactory(rank=2)
    billing = TeamFactory(name="Billing", level=level2, kind="functional")
    network = TeamFactory(name="Network", level=level2)
    service = Service.objects.create(name="Invoicing", owning_team=billing)
    assert services.portal_team(service) == billing
    assert services.portal_team(None) == desk["team"]  # lowest tier
    settings.PORTAL_TEAM = "Network"
    assert services.portal_team(None) == network
    billing.is_active = False
    billing.save()
    assert services.portal_team(service) == network
    Service.objects.update(is_active=False)
    service.refresh_from_db()
    with pytest.raises(TicketError):
        services.portal_ticket_open(
            contact=orgs["a1"],
            request=PortalRequest(
                subject="S", description="D", impact=3, urgency=3, service=service
            ),
        )


def test_a_reply_with_the_same_intent_is_sent_once(client, orgs):
    ticket = orgs["tickets"]["a1"]
    sign_in_as(client, orgs["a1"])
    url = reverse("portal:reply", args=[ticket.reference])
    data = {"body": "Still broken.", "intent": "reply-1"}
    data["attachments"] = [SimpleUploadedFile("log.txt", b"trace", content_type="text/plain")]
    assert client.post(url, data).status_code == 302
    again = client.post(url, {"body": "Still broken.", "intent": "reply-1"})
    assert again.status_code == 302
    messages = Message.objects.filter(ticket=ticket, kind=Message.Kind.CUSTOMER)
    assert messages.count() == 1
    message = messages.get()
    assert message.contact == orgs["a1"]
    assert message.attachments.get().original_name == "log.txt"
    page = client.get(again["Location"])
    assert "it was not sent again" in page.content.decode()


def test_an_empty_reply_is_a_form_error(client, orgs):
    ticket = orgs["tickets"]["a1"]
    sign_in_as(client, orgs["a1"])
    response = client.post(reverse("portal:reply", args=[ticket.reference]), {"intent": "x"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_the_page_shows_public_messages_only(client, orgs, desk):
    ticket = orgs["tickets"]["a1"]
    agent = desk["agent"]
    ticket_services.ticket_reply(ticket=ticket, actor=agent, body="We are on it.")
    note = ticket_services.ticket_add_note(
        ticket=ticket,
        actor=agent,
        body="Customer is difficult, internal only.",
        attachments=[SimpleUploadedFile("secret.txt", b"s", content_type="text/plain")],
    )
    Ticket.objects.filter(pk=ticket.pk).update(risk_score=77)
    sign_in_as(client, orgs["a1"])
    body = client.get(reverse("portal:detail", args=[ticket.reference])).content.decode()
    assert "We are on it." in body
    assert "Alice from support" in body
    assert "internal only" not in body
    assert "secret.txt" not in body
    assert "Agentova" not in body  # the agent's last name
    assert "agent@example.com" not in body
    assert "Service Desk" not in body  # the owning team
    assert not re.search(r"(?<![\w.])77(?![\w.])", body)  # the risk score, as a number of its own
    note_file = note.attachments.get()
    response = client.get(reverse("portal:attachment", args=[ticket.reference, note_file.pk]))
    assert response.status_code == 404


def test_the_promised_update_is_in_the_contacts_time_zone(client, orgs):
    ticket = orgs["tickets"]["a1"]
    contact = orgs["a1"]
    contact.time_zone = "America/New_York"
    contact.save()
    due = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_responded_at=None, first_response_due_at=due, status="open"
    )
    sign_in_as(client, contact)
    body = client.get(reverse("portal:detail", args=[ticket.reference])).content.decode()
    assert "You will get a first answer by" in body
    assert "12:00" in body  # 16:00 UTC is noon in New York (EDT)
    assert "EDT" in body
    Ticket.objects.filter(pk=ticket.pk).update(
        first_responded_at=due, next_update_due_at=due + timedelta(hours=2)
    )
    body = client.get(reverse("portal:detail", args=[ticket.reference])).content.decode()
    assert "Next update by" in body and "14:00" in body


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("new", "Received"),
        ("open", "In progress"),
        ("pending", "Waiting for information"),
        ("resolved", "Solved"),
        ("closed", "Closed"),
    ],
)
def test_the_status_is_in_plain_words(client, orgs, status, words):
    ticket = orgs["tickets"]["a1"]
    Ticket.objects.filter(pk=ticket.pk).update(status=status, resolved_at=timezone.now())
    sign_in_as(client, orgs["a1"])
    body = client.get(reverse("portal:detail", args=[ticket.reference])).content.decode()
    assert f"<dd data-portal-status>{words}</dd>" in body
    listing = client.get(reverse("portal:tickets") + "?state=all").content.decode()
    assert words in listing


def test_solved_resolves_then_closes(client, orgs, desk):
    ticket = orgs["tickets"]["a1"]
    sign_in_as(client, orgs["a1"])
    url = reverse("portal:status", args=[ticket.reference])
    client.post(url, {"action": "solved", "version": ticket.version})
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    event = ticket.events.filter(kind=TicketEvent.Kind.TRANSITIONED).latest("pk")
    assert event.actor is None
    assert event.payload == {
        "from": "new",
        "to": "resolved",
        "transition": "resolve",
        "contact": orgs["a1"].pk,
        "by_contact": "anna@acme.example",
    }
    assert ticket.last_progress_at is None  # a customer's action is not progress
    client.post(url, {"action": "solved", "version": ticket.version})
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    assert ticket.closed_at is not None


def test_a_stale_page_changes_nothing(client, orgs):
    ticket = orgs["tickets"]["a1"]
    sign_in_as(client, orgs["a1"])
    url = reverse("portal:status", args=[ticket.reference])
    old = ticket.version
    client.post(url, {"action": "solved", "version": old})
    response = client.post(url, {"action": "solved", "version": old}, follow=True)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED  # not closed by the second click
    assert "This ticket has changed meanwhile" in response.content.decode()


def test_reopen_within_the_window_only(orgs, desk, settings):
    settings.PORTAL_REOPEN_DAYS = 7
    ticket = orgs["tickets"]["a1"]
    ticket_services.ticket_transition(ticket=ticket, actor=desk["agent"], name="resolve")
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    ticket.refresh_from_db()
    with pytest.raises(TicketError, match="can no longer be reopened"):
        services.portal_transition(
            contact=orgs["a1"], ticket=ticket, action="reopen", expected_version=ticket.version
        )
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=6))
    ticket.refresh_from_db()
    reopened = services.portal_transition(
        contact=orgs["a1"], ticket=ticket, action="reopen", expected_version=ticket.version
    )
    assert reopened.status == Ticket.Status.OPEN
    assert reopened.reopen_count == 1
    with pytest.raises(StaleRequest):
        services.portal_transition(
            contact=orgs["a1"], ticket=reopened, action="solved", expected_version=0
        )


def test_a_contact_cannot_move_a_ticket_they_do_not_see(orgs):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        ticket_services.ticket_transition_by_contact(
            ticket=orgs["tickets"]["b1"], contact=orgs["a1"], name="resolve"
        )


def test_organisation_wide_contacts_see_colleagues_tickets_in_the_list(client, orgs):
    sign_in_as(client, orgs["a2"])
    body = client.get(reverse("portal:tickets")).content.decode()
    assert orgs["tickets"]["a1"].reference in body
    assert orgs["tickets"]["a3"].reference in body
    assert orgs["tickets"]["b1"].reference not in body
    assert "Anna One" in body
    mine = client.get(reverse("portal:tickets") + "?scope=mine").content.decode()
    assert orgs["tickets"]["a1"].reference not in mine
    sign_in_as(client, orgs["a1"])
    body = client.get(reverse("portal:tickets")).content.decode()
    assert orgs["tickets"]["a1"].reference in body
    assert orgs["tickets"]["a3"].reference not in body


def test_the_list_costs_the_same_for_many_tickets(
    client, orgs, desk, django_assert_max_num_queries
):
    sign_in_as(client, orgs["a2"])
    with django_assert_max_num_queries(6):
        small = client.get(reverse("portal:tickets"))
    for n in range(30):
        open_ticket(desk, ContactFactory(customer=orgs["org_a"]), f"More {n}")
    with django_assert_max_num_queries(6):
        large = client.get(reverse("portal:tickets"))
    assert small.status_code == large.status_code == 200
    assert "Page 1 of 2" in large.content.decode()


def test_the_detail_page_costs_a_bounded_number_of_queries(
    client, orgs, desk, django_assert_max_num_queries
):
    ticket = orgs["tickets"]["a1"]
    for n in range(5):
        ticket_services.ticket_reply(ticket=ticket, actor=desk["agent"], body=f"Reply {n}")
    sign_in_as(client, orgs["a1"])
    with django_assert_max_num_queries(12):
        response = client.get(reverse("portal:detail", args=[ticket.reference]))
    assert response.content.decode().count("from support") == 5


def test_the_language_switcher_stores_the_contacts_language(client, orgs):
    sign_in_as(client, orgs["a1"])
    client.post(reverse("portal:language"), {"language": "de", "next": "/portal/tickets/"})
    orgs["a1"].refresh_from_db()
    assert orgs["a1"].language == "de"
    body = client.get(reverse("portal:tickets")).content.decode()
    assert "Meine Tickets" in body


def test_selectors_keep_to_the_contacts_tickets(orgs):
    with pytest.raises(Exception, match="No such ticket"):
        selectors.ticket_for_contact(orgs["a3"], orgs["tickets"]["a1"].reference)
    assert selectors.ticket_for_contact(orgs["a2"], orgs["tickets"]["a1"].reference)


def test_a_solved_ticket_takes_replies_within_the_window_only(client, orgs, desk, settings):
    settings.PORTAL_REOPEN_DAYS = 7
    ticket = orgs["tickets"]["a1"]
    ticket_services.ticket_transition(ticket=ticket, actor=desk["agent"], name="resolve")
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    sign_in_as(client, orgs["a1"])
    page = client.get(reverse("portal:detail", args=[ticket.reference])).content.decode()
    assert "Write to us" not in page
    response = client.post(
        reverse("portal:reply", args=[ticket.reference]), {"body": "Again?", "intent": "late"}
    )
    assert response.status_code == 400
    assert "can no longer be reopened" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    assert not ticket.messages.filter(kind=Message.Kind.CUSTOMER).exists()


def test_the_list_finds_a_reference_or_words_of_the_subject(client, orgs):
    sign_in_as(client, orgs["a2"])
    a1, a3, b1 = (orgs["tickets"][name] for name in ("a1", "a3", "b1"))

    def found(query: str) -> set[str]:
        body = client.get(reverse("portal:tickets"), {"q": query}).content.decode()
        return {
            t.reference
            for t in (a1, a3, b1)
            if reverse("portal:detail", args=[t.reference]) in body
        }

    assert found(a3.reference.lower()) == {a3.reference}
    assert found("of a1") == {a1.reference}
    # Another organisation's ticket is not found by its reference either.
    assert found(b1.reference) == set()
