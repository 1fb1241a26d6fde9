"""Alert integrations name the affected service of the tickets they open: the service an
alert label names (by name or slug, case-insensitive), else the integration's default."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations import services
from integrations.alerts import Alert
from integrations.models import AlertGroup, Integration
from tests.factories import AdminFactory, TeamFactory
from tests.integrations.conftest import alert_client, make_integration
from tickets.models import Service, Ticket

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"


@pytest.fixture
def catalogue() -> dict[str, Service]:
    return {
        "checkout": Service.objects.create(name="Checkout", name_de="Kasse"),
        "login": Service.objects.create(name="Customer login", name_de="Kundenanmeldung"),
        "invoicing": Service.objects.create(name="Invoicing API", name_de="Rechnungs-API"),
        "retired": Service.objects.create(name="Old portal", is_active=False),
    }


def generic(key: str, service: str | None = None, action: str = "trigger") -> dict:
    labels = {"instance": key} if service is None else {"instance": key, "service": service}
    return {"dedup_key": key, "action": action, "summary": f"{key} is down", "labels": labels}


def test_the_service_label_names_the_service_and_unknown_values_fall_back(team_a, catalogue):
    _integration, secret = make_integration(
        team_a, service=catalogue["invoicing"], service_label="service"
    )
    client = alert_client(secret)
    sent = {
        "by-name": "CHECKOUT",  # the English name, any case
        "by-slug": "customer-login",  # the name's slug
        "by-german-name": " kasse ",  # the German name, trimmed
        "retired": "Old portal",  # an inactive service names none
        "unknown": "payments",
        "no-label": None,
        "empty": "",
    }
    for key, value in sent.items():
        response = client.post(ALERTS, generic(key, value), format="json")
        assert response.status_code == 200, response.content
    expected = {
        "by-name": ("Checkout", ""),
        "by-slug": ("Customer login", ""),
        "by-german-name": ("Checkout", ""),
        "retired": ("Invoicing API", "Old portal"),
        "unknown": ("Invoicing API", "payments"),
        "no-label": ("Invoicing API", ""),
        "empty": ("Invoicing API", ""),
    }
    got = {
        group.dedup_key: (group.ticket.service.name, group.service_unmatched)
        for group in AlertGroup.objects.select_related("ticket__service")
    }
    assert got == expected


def test_without_a_default_an_unknown_value_leaves_the_ticket_without_service(team_a, catalogue):
    _integration, secret = make_integration(team_a, service_label="service")
    alert_client(secret).post(ALERTS, generic("x", "payments"), format="json")
    group = AlertGroup.objects.select_related("ticket").get()
    assert group.ticket.service is None and group.service_unmatched == "payments"


def test_without_a_service_label_the_label_is_ignored(team_a, catalogue):
    _integration, secret = make_integration(team_a, service=catalogue["login"])
    alert_client(secret).post(ALERTS, generic("x", "checkout"), format="json")
    group = AlertGroup.objects.select_related("ticket").get()
    assert group.ticket.service == catalogue["login"] and group.service_unmatched == ""


def test_repeats_do_not_change_the_service_but_a_new_incident_takes_its_own(
    team_a, catalogue, agent
):
    from tickets import services as ticket_services

    _integration, secret = make_integration(team_a, service_label="service")
    client = alert_client(secret)
    client.post(ALERTS, generic("x", "checkout"), format="json")
    repeat = client.post(ALERTS, generic("x", "customer-login"), format="json")
    assert repeat.json()["alerts"][0]["action"] == "appended"
    ticket = Ticket.objects.get()
    assert ticket.service == catalogue["checkout"]
    assert AlertGroup.objects.get().service_unmatched == ""
    ticket_services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    again = client.post(ALERTS, generic("x", "nowhere"), format="json")
    assert again.json()["alerts"][0]["action"] == "created"
    new = AlertGroup.objects.select_related("ticket").get(is_open=True)
    assert new.ticket != ticket and new.ticket.service is None
    assert new.service_unmatched == "nowhere"
    ticket.refresh_from_db()
    assert ticket.service == catalogue["checkout"]


def test_the_alertmanager_label_names_the_service(team_a, catalogue):
    _integration, secret = make_integration(team_a, service_label="service")
    payload = {
        "version": "4",
        "groupKey": "{}:{}",
        "status": "firing",
        "receiver": "helpdesk",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Errors", "service": "Invoicing-API"},
                "annotations": {"summary": "5xx on invoicing"},
                "startsAt": "2026-12-07T06:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f1",
            }
        ],
    }
    response = alert_client(secret).post(ALERTS, payload, format="json")
    assert response.status_code == 200, response.content
    assert Ticket.objects.get().service == catalogue["invoicing"]


def test_the_admin_takes_the_label_and_refuses_an_inactive_service(client, team_a, catalogue):
    client.force_login(AdminFactory(username="root"))
    url = reverse("admin:integrations_integration_add")
    assert "Service label" in client.get(url).content.decode()
    data = {
        "name": "Grafana",
        "team": team_a.pk,
        "service": catalogue["retired"].pk,
        "service_label": "  service ",
        "severity_label": "severity",
        "severity_map": '{"critical": [1, 1]}',
        "default_impact": 3,
        "default_urgency": 3,
        "resolve_tickets": "on",
        "is_active": "on",
    }
    bad = client.post(url, data)
    assert bad.status_code == 200 and "This service is not active." in bad.content.decode()
    assert not Integration.objects.exists()
    client.post(url, {**data, "service": catalogue["checkout"].pk})
    saved = Integration.objects.get(name="Grafana")
    assert (saved.service, saved.service_label) == (catalogue["checkout"], "service")


def fire(key: str, service: str) -> Alert:
    return Alert(dedup_key=key, firing=True, summary=f"{key} is down", labels={"service": service})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_service_names_cost_no_statement_per_ticket():
    """Ten new alerts naming services run as many statements as ten taking the default
    service (a ticket with a service costs its own hooks either way): the names are resolved
    once per request, from the per-process catalogue, without reading the services."""
    checkout = Service.objects.create(name="Checkout")
    Service.objects.create(name="Customer login")
    integration, _secret = make_integration(
        TeamFactory(name="On call"), service=checkout, service_label="service"
    )
    obj = Integration.objects.select_related("account__user", "team", "service").get(
        pk=integration.pk
    )
    now = timezone.now()
    services.alerts_ingest(integration=obj, alerts=[fire("warm", "checkout")], now=now)
    with CaptureQueriesContext(connection) as default:
        services.alerts_ingest(
            integration=obj,
            alerts=[Alert(dedup_key=f"d-{n}", firing=True, summary="down") for n in range(10)],
            now=now,
        )
    with CaptureQueriesContext(connection) as named:
        services.alerts_ingest(
            integration=obj,
            alerts=[fire(f"n-{n}", "CHECKOUT" if n % 2 else "payments") for n in range(10)],
            now=now,
        )
    assert len(named) == len(default)
    service_table = Service._meta.db_table
    assert not [q for q in named.captured_queries if f'FROM "{service_table}"' in q["sql"]]
    groups = AlertGroup.objects.filter(dedup_key__startswith="n-").select_related("ticket")
    assert sorted((g.ticket.service_id, g.service_unmatched) for g in groups) == sorted(
        [(checkout.pk, "")] * 5 + [(checkout.pk, "payments")] * 5
    )
