"""Escalations over the API: list and filters, raise with the package, acknowledge,
de-escalate — through the same services as the browser, with the same refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from escalation import services as esc
from escalation.models import Escalation
from tests.api.conftest import assert_refused_without_valid_credentials, client_for
from tests.escalation.test_services import Chain
from tests.factories import AdminFactory, CustomerFactory
from tickets import services
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db

ESCALATIONS = "/api/v1/escalations/"
PACKAGE = {
    "kind": "hierarchical",
    "reason": "Needs database access",
    "summary": "Checkout returns 500 since 9:00",
    "actions_taken": "Restarted the app servers",
}


@pytest.fixture
def chain() -> Chain:
    return Chain()


def new_ticket(chain: Chain, level: int = 1) -> Ticket:
    return services.ticket_create(
        actor=chain.agents[level - 1],
        data=services.NewTicket(
            subject="Checkout fails",
            description="500",
            team=chain.teams[level - 1],
            customer=CustomerFactory(),
        ),
        now=timezone.now(),
    )


def escalate(chain: Chain, ticket: Ticket) -> Escalation:
    """L1 → L2 through the service, as L1's agent."""
    return esc.escalation_raise(
        ticket=ticket,
        actor=chain.agents[0],
        kind="hierarchical",
        package=esc.Package(summary="Down", actions_taken="Restarted"),
        reason="DB",
    )


def raise_url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.reference}/escalations/"


def test_raise_with_the_package_hands_the_ticket_up(chain):
    ticket = new_ticket(chain)
    read = ticket.version
    client = client_for(chain.agents[0])
    response = client.post(raise_url(ticket), {**PACKAGE, "version": read}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "raised" and body["kind"] == "hierarchical"
    assert body["to_team"] == {"id": chain.teams[1].pk, "name": "L2"}
    assert body["package"]["summary"] == PACKAGE["summary"]
    assert body["raised_by"] == "agent1"
    ticket.refresh_from_db()
    assert ticket.team == chain.teams[1]
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ESCALATED).count() == 1
    # The same request again, from the version read before: a 409, one escalation.
    again = client.post(raise_url(ticket), {**PACKAGE, "version": read}, format="json")
    assert again.status_code == 409
    assert Escalation.objects.filter(ticket=ticket).count() == 1


def test_a_double_submit_escalates_once(chain):
    ticket = new_ticket(chain)
    client = client_for(chain.agents[0])
    version = ticket.version
    first = client.post(raise_url(ticket), {**PACKAGE, "version": version}, format="json")
    lead = client_for(chain.leads[0])
    second = lead.post(raise_url(ticket), {**PACKAGE, "version": version}, format="json")
    assert first.status_code == 201
    assert second.status_code == 409
    assert "Already escalated" in second.json()["detail"]
    assert Escalation.objects.filter(ticket=ticket).count() == 1


def test_raise_without_the_package_is_a_400(chain):
    ticket = new_ticket(chain)
    response = client_for(chain.agents[0]).post(
        raise_url(ticket), {"kind": "hierarchical", "reason": "x"}, format="json"
    )
    assert response.status_code == 400
    assert {"summary", "actions_taken"} <= set(response.json()["errors"])
    functional = client_for(chain.agents[0]).post(
        raise_url(ticket), {**PACKAGE, "kind": "functional"}, format="json"
    )
    assert functional.status_code == 400 and "to_team" in functional.json()["errors"]
    assert not Escalation.objects.exists()


def test_raise_roles(chain):
    ticket = new_ticket(chain)
    # L3's agent never held the ticket: it is not visible to them, a 404.
    assert (
        client_for(chain.agents[2]).post(raise_url(ticket), PACKAGE, format="json").status_code
        == 404
    )
    assert_refused_without_valid_credentials(chain.agents[0], "post", raise_url(ticket), PACKAGE)
    admin = AdminFactory(username="root")
    assert client_for(admin).post(raise_url(ticket), PACKAGE, format="json").status_code == 201


def test_acknowledge_by_the_receiving_team(chain):
    ticket = new_ticket(chain)
    escalation = escalate(chain, ticket)
    url = f"{ESCALATIONS}{escalation.pk}/acknowledge/"
    # The team that raised it cannot acknowledge its own escalation.
    assert client_for(chain.agents[0]).post(url, {}, format="json").status_code == 403
    client = client_for(chain.agents[1])
    response = client.post(url, {"assignee": chain.agents[1].pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by"] == "agent2"
    escalation.refresh_from_db()
    ticket.refresh_from_db()
    assert escalation.status == Escalation.Status.ACKNOWLEDGED
    assert ticket.assignee == chain.agents[1]
    assert (
        TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ACKNOWLEDGED).count() == 1
    )
    again = client.post(url, {}, format="json")
    assert again.status_code == 409
    assert "already acknowledged" in again.json()["detail"]
    assert client_for(chain.agents[3]).post(url, {}, format="json").status_code == 404


def test_deescalate_by_the_lead_with_a_reason(chain):
    ticket = new_ticket(chain)
    escalate(chain, ticket)
    url = f"/api/v1/tickets/{ticket.reference}/de-escalations/"
    body = {"to_team": chain.teams[0].pk, "reason": "Fixed the database"}
    assert client_for(chain.agents[1]).post(url, body, format="json").status_code == 403
    missing = client_for(chain.leads[1]).post(url, {"to_team": chain.teams[0].pk}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["errors"]
    response = client_for(chain.leads[1]).post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "de_escalation"
    ticket.refresh_from_db()
    assert ticket.team == chain.teams[0]
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.DE_ESCALATED)
    assert event.payload["reason"] == "Fixed the database"


def test_the_list_filters_and_stays_flat(chain, django_assert_max_num_queries):
    tickets = [new_ticket(chain) for _ in range(4)]
    escalations = [escalate(chain, t) for t in tickets]
    Escalation.objects.filter(pk=escalations[0].pk).update(
        ack_due_at=timezone.now() - dt.timedelta(minutes=5)
    )
    client = client_for(chain.agents[1])
    with django_assert_max_num_queries(8):
        body = client.get(ESCALATIONS, {"page_size": 50}).json()
    assert {e["id"] for e in body["results"]} == {e.pk for e in escalations}
    overdue = client.get(ESCALATIONS, {"overdue": "true"}).json()["results"]
    assert [e["id"] for e in overdue] == [escalations[0].pk]
    assert overdue[0]["overdue"] is True
    assert client.get(ESCALATIONS, {"team": chain.teams[2].pk}).json()["results"] == []
    assert len(client.get(ESCALATIONS, {"level": 2, "state": "raised"}).json()["results"]) == 4
    per_ticket = client.get(raise_url(tickets[1])).json()["results"]
    assert [e["id"] for e in per_ticket] == [escalations[1].pk]
    # Another level's agent who never held the tickets sees none of their packages.
    assert client_for(chain.agents[3]).get(ESCALATIONS).json()["results"] == []
    assert client_for(chain.agents[3]).get(raise_url(tickets[1])).status_code == 404
    assert_refused_without_valid_credentials(chain.agents[1], "get", ESCALATIONS)
