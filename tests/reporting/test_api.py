"""The reports in the REST API: the page's figures and definitions, for leads and admins only,
a period that cannot be read as a 400 problem with the field's error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.api.conftest import client_for
from tests.reporting.test_kpis import Data

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
