"""Whatever a client sends, the answer is a 4xx problem, never a 500; and every endpoint
refuses callers without valid credentials."""

from __future__ import annotations

import pytest

from escalation.models import EscalationRule
from sla.models import BusinessCalendar, SLAPolicy
from tests.api.conftest import assert_refused_without_valid_credentials, client_for
from tests.factories import CustomerFactory, TicketFactory

pytestmark = pytest.mark.django_db

CONF = "/api/v1/configuration/"
ODD_VALUES = [[1, 2], {"a": 1}, [{"a": 1}], "x" * 100_000, "a\x00b", -1, 10**30, True, None]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ("customers", "name"),
        ("teams", "level"),
        ("teams", "members"),
        ("configuration/calendars", "timezone"),
        ("configuration/calendars", "opening_hours"),
        ("configuration/sla-policies", "valid_from"),
        ("configuration/sla-policies", "targets"),
        ("configuration/escalation-rules", "threshold"),
        ("configuration/escalation-rules", "customer_tiers"),
        ("configuration/webhook-endpoints", "url"),
    ],
)
def test_admin_writes_never_fail_with_a_500(admin_user, resource, field, value):
    client = client_for(admin_user)
    client.raise_request_exception = False
    response = client.post(f"/api/v1/{resource}/", {"name": "n", field: value}, format="json")
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_inline_rows_with_odd_values_are_refused(admin_user, value):
    calendar = BusinessCalendar.objects.create(name="Cal", always_open=True)
    client = client_for(admin_user)
    client.raise_request_exception = False
    body = {
        "name": "P",
        "calendar": calendar.pk,
        "targets": [{"priority": value, "first_response": value, "resolution": "1 h"}],
    }
    response = client.post(f"{CONF}sla-policies/", body, format="json")
    assert response.status_code == 400, response.content
    assert not SLAPolicy.objects.filter(name="P").exists()


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_ticket_writes_never_fail_with_a_500(api, team_a, value):
    ticket = TicketFactory(team=team_a, open=True)
    api.raise_request_exception = False
    for method, url, field in (
        ("patch", f"/api/v1/tickets/{ticket.reference}/", "subject"),
        ("patch", f"/api/v1/tickets/{ticket.reference}/", "assignee"),
        ("post", f"/api/v1/tickets/{ticket.reference}/escalations/", "to_team"),
        ("post", "/api/v1/tickets/", "customer"),
        ("patch", "/api/v1/me/notification-preferences/", "calendar"),
        ("patch", "/api/v1/me/notification-preferences/", "channels"),
    ):
        response = getattr(api, method)(url, {field: value}, format="json")
        assert response.status_code < 500, (url, field, response.content)


def test_query_parameters_never_fail_with_a_500(api, team_a):
    api.raise_request_exception = False
    for params in (
        {"updated_since": "yesterday"},
        {"level": "top"},
        {"status": "lost"},
        {"q": "a\x00b"},
        {"cursor": "garbage"},
        {"page_size": "-5"},
        {"ordering": "team__lead__password"},
    ):
        response = api.get("/api/v1/tickets/", params)
        assert response.status_code in (200, 400, 404), (params, response.content)
    for params in ({"overdue": "x"}, {"state": "lost"}, {"team": "x"}):
        assert api.get("/api/v1/escalations/", params).status_code in (200, 400), params


ENDPOINTS = [
    ("get", "/api/v1/tickets/"),
    ("post", "/api/v1/tickets/"),
    ("get", "/api/v1/escalations/"),
    ("get", "/api/v1/levels/"),
    ("get", "/api/v1/teams/"),
    ("get", "/api/v1/customers/"),
    ("get", "/api/v1/contacts/"),
    ("get", "/api/v1/services/"),
    ("get", "/api/v1/users/"),
    ("get", f"{CONF}calendars/"),
    ("post", f"{CONF}calendars/"),
    ("get", f"{CONF}sla-policies/"),
    ("get", f"{CONF}tier-targets/"),
    ("get", f"{CONF}severity-matrices/"),
    ("get", f"{CONF}escalation-rules/"),
    ("get", f"{CONF}webhook-endpoints/"),
    ("get", f"{CONF}message-templates/"),
    ("get", "/api/v1/me/notifications/"),
    ("post", "/api/v1/me/notifications/read/"),
    ("get", "/api/v1/me/notification-preferences/"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_refuses_missing_expired_and_deactivated_credentials(
    admin_user, method, url
):
    assert_refused_without_valid_credentials(admin_user, method, url, {})


def test_the_rule_preview_and_ticket_subresources_refuse_anonymous(admin_user, team_a):
    rule = EscalationRule.objects.create(name="R", trigger="sla_breach")
    ticket = TicketFactory(team=team_a)
    CustomerFactory()
    for url in (
        f"{CONF}escalation-rules/{rule.pk}/preview/",
        f"/api/v1/tickets/{ticket.reference}/messages/",
        f"/api/v1/tickets/{ticket.reference}/escalations/",
        f"/api/v1/tickets/{ticket.reference}/events/",
    ):
        assert_refused_without_valid_credentials(admin_user, "get", url)
