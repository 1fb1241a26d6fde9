"""Crafted input that used to raise a 500: list cursors whose instant overflows in UTC, and
references with characters no reference has (a NUL byte is a DataError on PostgreSQL)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.tickets.test_views import new_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def tickets(agent, team_a) -> list[Ticket]:
    return [new_ticket(agent, team_a, subject=f"Ticket {n}") for n in range(3)]


def cursor(sort: str, values: list) -> str:
    raw = json.dumps({"s": sort, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "instant",
    [
        "9999-12-31T23:59:00-12:00",  # after year 9999 in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    ],
)
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_cursor_at_the_edge_of_time_gives_the_first_page(
    agent_client, tickets, settings, instant, direction
):
    settings.TICKETS_PER_PAGE = 2
    response = agent_client.get(
        "/tickets/", {"sort": "-created", direction: cursor("-created", [instant, 1])}
    )
    assert response.status_code == 200
    # The first page: the newest two tickets.
    assert "Ticket 2" in response.text and "Ticket 1" in response.text
    assert "Ticket 0" not in response.text


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1, 10**40])
def test_a_cursor_with_an_id_beyond_bigint_gives_the_first_page(agent_client, tickets, key):
    now = tickets[0].created_at.isoformat()
    response = agent_client.get(
        "/tickets/", {"sort": "-created", "after": cursor("-created", [now, key])}
    )
    assert response.status_code == 200
    assert "Ticket 2" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/tickets/HD%00/",
        "/tickets/HD-2026%00-000001/messages/",
        "/tickets/HD%00/transitions/resolve/",
        "/tickets/HD%00/assign/",
        "/tickets/HD%00/priority/",
        "/tickets/HD%00/follow/",
        "/tickets/HD%00/attachments/1/",
        "/escalations/tickets/HD%00/raise/",
        "/escalations/tickets/HD%00/de-escalate/",
        "/tickets/%E2%80%AE%20x/",
        "/tickets/" + "A" * 40 + "/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_reference_with_foreign_characters_is_a_404(agent_client, tickets, path, method):
    # The route does not match (a 404 for GET and POST alike) before any view or query runs.
    response = getattr(agent_client, method)(path)
    assert response.status_code == 404


def test_real_references_still_resolve(agent_client, tickets):
    ticket = tickets[0]
    assert agent_client.get(f"/tickets/{ticket.reference}/").status_code == 200
    assert ticket.get_absolute_url() == f"/tickets/{ticket.reference}/"
