"""The closing report is required before a ticket that reached incident management (or is a
major incident) is closed — on every path that closes a ticket — while resolving stays free
and reminds the owner through the outbox."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django_fsm import TransitionNotAllowed

from lessons import services as lessons
from lessons.models import ClosingReport
from notifications.models import Delivery, Notification
from tests.api.conftest import client_for
from tests.lessons.conftest import new_ticket, resolve
from tickets import services
from tickets.models import Contact, Ticket

pytestmark = pytest.mark.django_db


def write_report(org, ticket) -> ClosingReport:
    return lessons.report_save(
        ticket=ticket,
        actor=org.admin,
        category=org.defect,
        texts={"cause": "Pool too small", "solution": "Pool raised", "lessons_learned": "Watch"},
        expected_version=0,
    )


def test_the_service_refuses_to_close_without_a_report_and_closes_with_one(org, climbed):
    ticket = resolve(org, climbed)
    with pytest.raises(TransitionNotAllowed) as refused:
        services.ticket_transition(ticket=ticket, actor=org.admin, name="close")
    assert "needs a closing report" in str(refused.value)
    assert f"/reports/lessons/{ticket.reference}/" in str(refused.value)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED and ticket.closed_at is None

    write_report(org, ticket)
    closed = services.ticket_transition(ticket=ticket, actor=org.admin, name="close")
    assert closed.status == Ticket.Status.CLOSED


def test_a_ticket_that_stayed_below_incident_management_closes_without_report(org):
    ticket = new_ticket(org)
    ticket = resolve(org, ticket)
    assert services.ticket_transition(ticket=ticket, actor=org.admin, name="close").status == (
        Ticket.Status.CLOSED
    )


def test_a_ticket_handed_back_down_still_needs_its_report(org, climbed):
    # Level reached, not level now: back on the service desk, it was at incident management.
    climbed = services.ticket_assign(
        ticket=climbed, actor=org.admin, team=org.l1, assignee=None, reason="back"
    )
    assert climbed.level.rank == 1
    ticket = resolve(org, climbed)
    with pytest.raises(TransitionNotAllowed):
        services.ticket_transition(ticket=ticket, actor=org.admin, name="close")


def test_a_major_incident_needs_its_report(org):
    ticket = new_ticket(org)
    services.ticket_mark_major_incident(ticket=ticket, actor=org.admin, reason="outage")
    ticket = resolve(org, Ticket.objects.get(pk=ticket.pk))
    with pytest.raises(TransitionNotAllowed):
        services.ticket_transition(ticket=ticket, actor=org.admin, name="close")


def test_resolving_is_allowed_and_reminds_the_owner_once_per_resolution(
    org, climbed, django_capture_on_commit_callbacks
):
    climbed = services.ticket_assign(
        ticket=climbed, actor=org.admin, team=org.im, assignee=org.im_lead, reason="take it"
    )
    with django_capture_on_commit_callbacks(execute=False):
        resolve(org, climbed)
    notice = Notification.objects.get(kind=Notification.Kind.CLOSING_REPORT_DUE)
    assert notice.user == org.im_lead
    assert notice.text == (
        f"{climbed.reference} was resolved and needs a closing report before it can be closed."
    )
    email = Delivery.objects.get(
        channel=Delivery.Channel.EMAIL, user=org.im_lead, kind=Notification.Kind.CLOSING_REPORT_DUE
    )
    assert email.status == Delivery.Status.PENDING and email.ticket_id == climbed.pk


def test_no_reminder_when_the_report_is_already_written(org, climbed):
    write_report(org, climbed)
    resolve(org, climbed)
    assert not Notification.objects.filter(kind=Notification.Kind.CLOSING_REPORT_DUE).exists()


def test_the_ticket_page_refuses_with_the_reason(client, org, climbed):
    ticket = resolve(org, climbed)
    client.force_login(org.admin)
    response = client.post(
        f"/tickets/{ticket.reference}/transitions/close/", {"version": ticket.version}
    )
    assert response.status_code == 409
    assert "needs a closing report before it can be closed" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.RESOLVED


def test_the_api_refuses_with_a_problem_detail(org, climbed):
    ticket = resolve(org, climbed)
    response = client_for(org.admin).post(
        f"/api/v1/tickets/{ticket.reference}/transitions/close/",
        {"version": ticket.version},
        format="json",
    )
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    assert "needs a closing report" in response.json()["detail"]
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.RESOLVED


def test_the_admin_action_closes_only_the_documented(client, org, climbed):
    ticket = resolve(org, climbed)
    plain = resolve(org, new_ticket(org, subject="Printer"))
    client.force_login(org.admin)
    response = client.post(
        "/admin/tickets/ticket/",
        {"action": "close_tickets", ACTION_CHECKBOX_NAME: [ticket.pk, plain.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 ticket closed." in text
    assert f"{ticket.reference}: {ticket.reference} needs a closing report" in text
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.RESOLVED
    assert Ticket.objects.get(pk=plain.pk).status == Ticket.Status.CLOSED


def test_the_customer_cannot_close_it_from_the_portal_either(org, climbed):
    contact = Contact.objects.create(customer=climbed.customer, email="jo@example.com")
    Ticket.objects.filter(pk=climbed.pk).update(requester=contact)
    ticket = resolve(org, Ticket.objects.get(pk=climbed.pk))
    with pytest.raises(TransitionNotAllowed) as refused:
        services.ticket_transition_by_contact(ticket=ticket, contact=contact, name="close")
    # Worded for the customer: no internal page, no level.
    assert str(refused.value) == (
        "Thank you for confirming. Our team closes this ticket once it has documented what "
        "happened."
    )
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.RESOLVED


def test_the_demo_documents_a_climbed_ticket_from_its_draft_before_closing(org, climbed):
    services.ticket_reply(ticket=climbed, actor=org.admin, body="Pool raised; it works again.")
    ticket = resolve(org, climbed)
    written = lessons.report_from_draft(ticket=ticket, actor=org.admin)
    assert written is not None
    assert "Database connection pool exhausted" in written.cause
    assert written.solution == "Pool raised; it works again."
    assert written.category.name == "Software defect"
    assert lessons.report_from_draft(ticket=ticket, actor=org.admin) is None  # once
    assert services.ticket_transition(ticket=ticket, actor=org.admin, name="close").status == (
        Ticket.Status.CLOSED
    )
    # A ticket that needs no report gets none.
    plain = resolve(org, new_ticket(org, subject="Printer"))
    assert lessons.report_from_draft(ticket=plain, actor=org.admin) is None
