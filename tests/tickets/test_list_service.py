"""The ticket list's affected service: its column (the name in the reader's language) and its
filter (kept in the query string and saved views; an unknown service is a form error)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from tests.factories import TicketFactory
from tickets import selectors, workspace
from tickets.models import SavedView, Service, Ticket

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def checkout(db) -> Service:
    return Service.objects.create(name="Checkout", name_de="Kasse")


@pytest.fixture
def login(db) -> Service:
    return Service.objects.create(name="Customer login", name_de="Kundenanmeldung")


@pytest.fixture
def tickets(agent, team_a, checkout, login) -> dict[str, Ticket]:
    return {
        "paying": TicketFactory(team=team_a, subject="Cannot pay", service=checkout),
        "paying_closed": TicketFactory(
            team=team_a, subject="Paid twice", service=checkout, status=Ticket.Status.CLOSED
        ),
        "login": TicketFactory(team=team_a, subject="Cannot log in", service=login),
        "none": TicketFactory(team=team_a, subject="Question about invoices"),
    }


def rows(body: str) -> list[str]:
    """The rendered rows of the list, each as its text with collapsed spaces."""
    parts = body.split("<tr data-ticket-row>")[1:]
    return [" ".join(p.split("</tr>")[0].split()) for p in parts]


def row_of(body: str, subject: str) -> str:
    (row,) = [r for r in rows(body) if f">{subject}</a>" in r]
    return row


def service_cell(row: str) -> str:
    return row.split('class="d-none d-lg-table-cell service-cell">')[1].split("</td>")[0]


def test_rows_show_the_service_in_the_readers_language(agent_client, tickets):
    body = agent_client.get(reverse("tickets:list")).content.decode()
    assert '<th scope="col" class="d-none d-lg-table-cell">Service</th>' in body
    assert service_cell(row_of(body, "Cannot pay")) == "Checkout"
    assert service_cell(row_of(body, "Cannot log in")) == "Customer login"
    assert service_cell(row_of(body, "Question about invoices")) == ""

    with translation.override("de"):
        body = agent_client.get(reverse("tickets:list"), HTTP_ACCEPT_LANGUAGE="de").content
    body = body.decode()
    assert '<html lang="de">' in body and ">Jeder Dienst</option>" in body
    assert service_cell(row_of(body, "Cannot pay")) == "Kasse"
    assert service_cell(row_of(body, "Cannot log in")) == "Kundenanmeldung"


def test_filter_offers_every_service_and_keeps_the_choice(agent_client, tickets, checkout):
    Service.objects.create(name="Retired", is_active=False)
    response = agent_client.get(reverse("tickets:list"), {"service": checkout.pk})
    body = response.content.decode()
    select = body.split('name="service"')[1].split("</select>")[0]
    assert ">Any service</option>" in select
    assert f'<option value="{checkout.pk}" selected>Checkout</option>' in select
    assert ">Customer login</option>" in select
    assert ">Retired</option>" in select  # older tickets still name it
    assert response.context["current_query"] == f"service={checkout.pk}"


def test_filter_lists_only_the_services_tickets(agent_client, tickets, checkout, login):
    def subjects(params: dict) -> set[str]:
        response = agent_client.get(reverse("tickets:list"), params)
        assert response.status_code == 200
        return {
            r.split("data-ticket-link>")[1].split("</a>")[0]
            for r in rows(response.content.decode())
        }

    assert subjects({"service": checkout.pk}) == {"Cannot pay", "Paid twice"}
    assert subjects({"service": login.pk}) == {"Cannot log in"}
    # Combined with the other filters.
    assert subjects({"service": checkout.pk, "status": "closed"}) == {"Paid twice"}
    assert subjects({"service": checkout.pk, "q": "log in"}) == set()
    assert subjects({}) == {"Cannot pay", "Paid twice", "Cannot log in", "Question about invoices"}


@pytest.mark.parametrize("value", ["999999", "abc", "-1", "1.5"])
def test_unknown_service_is_a_form_error(agent_client, tickets, value):
    response = agent_client.get(reverse("tickets:list"), {"service": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="invalid-feedback d-block" id="id_service_error">' in body
    assert "There is no such service; choose one from the list." in body
    with translation.override("de"):
        german = agent_client.get(
            reverse("tickets:list"), {"service": value}, HTTP_ACCEPT_LANGUAGE="de"
        ).content.decode()
    assert "Diesen Dienst gibt es nicht; wählen Sie einen aus der Liste." in german
    assert "service=" not in response.context["current_query"]

    partial = agent_client.get(reverse("tickets:list"), {"service": value}, **HTMX)
    assert partial.status_code == 400  # swapped in by the page's htmx config
    text = partial.content.decode()
    assert 'filter-error" role="alert">There is no such service; choose one from the list.' in text


def test_saved_view_keeps_the_service(agent_client, agent, tickets, checkout):
    view = workspace.saved_view_save(
        user=agent,
        name="Checkout",
        query=f"service={checkout.pk}&status=new&status=open",
        teams=list(selectors.filter_teams()),
        levels=list(selectors.filter_levels()),
    )
    assert view.query == f"status=new&status=open&service={checkout.pk}"
    SavedView.objects.create(user=agent, name="Removed", query="service=999999")
    views = {
        v.name: v
        for v in workspace.workspace_views(
            agent, teams=list(selectors.filter_teams()), levels=list(selectors.filter_levels())
        )
    }
    assert views["Checkout"].count == 1  # "Cannot pay"; "Paid twice" is closed
    assert views["Removed"].count == 0  # not every ticket
    body = agent_client.get(f"{reverse('tickets:list')}?{view.query}").content.decode()
    assert [service_cell(r) for r in rows(body)] == ["Checkout"]


def test_service_column_and_filter_cost_no_query_per_row(
    agent_client, agent, team_a, checkout, login, django_assert_max_num_queries
):
    def render() -> int:
        # 14 with the bulk destinations' permission check (may run major incidents).
        with django_assert_max_num_queries(14) as captured:
            response = agent_client.get(reverse("tickets:list"))
            assert response.status_code == 200
        return len(captured.captured_queries)

    for i in range(3):
        TicketFactory(team=team_a, assignee=agent, service=checkout if i % 2 else None)
    few = render()
    for i in range(30):
        TicketFactory(team=team_a, assignee=agent, service=(checkout, login, None)[i % 3])
    assert render() == few
