"""Refusals and bad input as RFC 9457 problems: never a 500."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from tests.factories import TicketFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    if field is not None:
        assert field in body["errors"], body
    return body


def test_too_many_requests_is_a_429_problem_with_retry_after(api, monkeypatch):
    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "rate", "2/min", raising=False)
    api.get(TICKETS)
    api.get(TICKETS)
    response = api.get(TICKETS)
    assert_problem(response, 429)
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_a_wrong_version_type_is_a_400(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    url = f"{TICKETS}{ticket.reference}/transitions/resolve/"
    assert_problem(api.post(url, {"version": "abc"}, format="json"), 400, "version")
    assert_problem(api.post(url, {}, format="json", HTTP_IF_MATCH="abc"), 400, "If-Match")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


def test_an_unknown_transition_is_a_409(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    assert_problem(
        api.post(f"{TICKETS}{ticket.reference}/transitions/fly/", {}, format="json"), 409
    )


@pytest.mark.parametrize(
    ("payload", "headers", "field"),
    [
        ({"body": "x" * 100_001}, {}, "body"),
        ({"body": "a\x00b"}, {}, "body"),
        ({"body": 42, "internal": "maybe"}, {}, "internal"),
        ({"body": "x", "cc": "boss"}, {}, "cc"),
        ({"body": "x"}, {"HTTP_IDEMPOTENCY_KEY": "k" * 256}, "Idempotency-Key"),
        ({"body": "x"}, {"HTTP_IDEMPOTENCY_KEY": "a\tb"}, "Idempotency-Key"),
    ],
)
def test_bad_messages_are_400_problems(api, team_a, payload, headers, field):
    ticket = TicketFactory(team=team_a, open=True)
    response = api.post(f"{TICKETS}{ticket.reference}/messages/", payload, format="json", **headers)
    assert_problem(response, 400, field)
    assert not Message.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    response = api.generic(
        "POST", f"{TICKETS}{ticket.reference}/messages/", '"hi"', content_type="application/json"
    )
    assert_problem(response, 400)


def test_a_session_write_needs_the_csrf_token(agent, team_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.get(TICKETS).status_code == 200
    response = client.post(TICKETS, {"subject": "x", "team": team_a.pk}, format="json")
    assert_problem(response, 403)
    assert not Ticket.objects.exists()


def test_a_form_encoded_body_is_a_415_problem(api):
    assert_problem(api.post(TICKETS, {"subject": "x"}), 415)


def test_a_method_not_allowed_is_a_405_problem(api):
    assert_problem(api.put(TICKETS, {}, format="json"), 405)
