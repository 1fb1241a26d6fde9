"""The reports in the REST API: the page's figures and definitions, for leads and admins only,
a period that cannot be read as a 400 problem with the field's error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.api.conftest import client_for
from tests.reporting.test_kpis import Data
from tickets.models import Ticket

KPIS = reverse("api:report_kpis")
TABLES = reverse("api:report_tables")
THE_WEEK = {"preset": "custom", "start": "2026-11-02", "end": "2026-11-08"}


@pytest.fixture
def data(db) -> Data:
    return Data()


def test_the_kpis_with_their_definitions(data):
    response = client_for(data.lead).get(KPIS, THE_WEEK)
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"first_day": "2026-11-02", "last_day": "2026-11-08"}
    cards = {card["key"]: card for card in body["kpis"]}
    first = cards["first_response"]
    assert first["definition"].startswith("The clock starts when the ticket is created")
    # A 30, B 90, C 10 minutes (test_kpis): mean 43.3; the week before F's 60.
    mean = first["figures"][0]
    assert (mean["label"], mean["unit"], mean["current"], mean["previous"]) == (
        "Mean",
        "minutes",
        43.3,
        60.0,
    )
    assert mean["change"] == pytest.approx(-16.7)
    rate = cards["escalation_rate"]["figures"][0]
    assert (rate["unit"], rate["current"]) == ("percent", 50.0)
    closing = cards["closing_reports"]
    assert closing["definition"].startswith("Of the tickets resolved in the period that reached")
    assert [f["unit"] for f in closing["figures"]] == ["percent", "count", "count"]


def test_the_tables_link_the_tickets(data):
    body = client_for(data.lead).get(TABLES, THE_WEEK).json()
    tables = {t["key"]: t for t in body["tables"]}
    handbacks = tables["handbacks"]
    assert handbacks["headers"][0] == "Ticket"
    assert [row[0] for row in handbacks["rows"]] == [data.c.reference]
    assert handbacks["links"][0][0] == reverse("api:ticket", args=[data.c.reference])
    assert handbacks["links"][0][1] is None


def test_agents_may_not_and_a_bad_period_is_a_400(data):
    assert client_for(data.chain.agents[0]).get(KPIS, THE_WEEK).status_code == 403
    response = client_for(data.lead).get(KPIS, {"preset": "custom", "start": "2026-11-09"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "Give both the first and the last day." in str(response.json())


def test_the_rows_behind_a_figure_paginated_within_the_readers_sight(data):
    """The drill lists: the same rows as the page's, a page at a time, only visible tickets."""
    lead = client_for(data.lead)
    page = lead.get(reverse("api:report_tickets", args=["created"]), THE_WEEK).json()
    cards = {c["key"]: c for c in lead.get(KPIS, THE_WEEK).json()["kpis"]}
    created = next(f for f in cards["escalation_rate"]["figures"] if f["unit"] == "count")
    assert page["key"] == "created" and page["count"] == created["current"] > 1
    assert page["period"] == {"first_day": "2026-11-02", "last_day": "2026-11-08"}
    assert page["title"] == "Tickets created in the period"
    references = [row["reference"] for row in page["results"]]
    assert len(references) == page["count"] and page["next"] is None
    first = page["results"][0]
    assert first["url"] == reverse("api:ticket", args=[first["reference"]])
    # One row a page: the cursor walks the same rows, newest first, each once.
    walked, url, params = [], reverse("api:report_tickets", args=["created"]), {**THE_WEEK}
    params["page_size"] = 1
    for _ in range(page["count"] + 1):
        body = lead.get(url, params).json()
        walked += [row["reference"] for row in body["results"]]
        if body["next"] is None:
            break
        url, params = body["next"], {}
    assert walked == references
    visible = set(Ticket.objects.visible_to(data.lead).values_list("reference", flat=True))
    assert set(references) <= visible


def test_escalations_and_ratings_behind_their_figures(data):
    lead = client_for(data.lead)
    body = lead.get(reverse("api:report_escalations", args=["handbacks"]), THE_WEEK).json()
    assert [row["ticket"] for row in body["results"]] == [data.c.reference]
    assert body["results"][0]["kind"] == "de_escalation"
    assert body["results"][0]["ticket_url"] == reverse("api:ticket", args=[data.c.reference])
    ratings = lead.get(reverse("api:report_ratings", args=["ratings"]), THE_WEEK).json()
    assert ratings["count"] == len(ratings["results"]) > 0
    assert {"score", "comment", "escalated"} <= set(ratings["results"][0])


def test_bad_drill_requests_are_problems(data):
    lead = client_for(data.lead)
    wrong_kind = lead.get(reverse("api:report_tickets", args=["handbacks"]), THE_WEEK)
    assert wrong_kind.status_code == 404
    assert wrong_kind["Content-Type"].startswith("application/problem+json")
    assert lead.get(reverse("api:report_tickets", args=["nothing"]), THE_WEEK).status_code == 404
    bad = lead.get(
        reverse("api:report_tickets", args=["created"]), {"preset": "custom", "start": "x"}
    )
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    assert "start" in bad.json()["errors"]
    cursor = lead.get(
        reverse("api:report_tickets", args=["created"]), {**THE_WEEK, "cursor": "nonsense"}
    )
    assert cursor.status_code == 400 and "cursor" in cursor.json()["errors"]
    agent = client_for(data.chain.agents[0])
    assert agent.get(reverse("api:report_ratings", args=["ratings"]), THE_WEEK).status_code == 403
