"""The reports page and its CSV: who may open them, the rendered figures and definitions, the
period and slices in the URL, a flat query count, and cells a spreadsheet will not run."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalation.models import Escalation
from tests.factories import SupportLevelFactory, TicketFactory, UserFactory
from tests.reporting.test_kpis import Data, H, M, T
from tickets.models import Ticket

URL = reverse("reporting:index")
CSV_URL = reverse("reporting:kpi_csv")
THE_WEEK = {"preset": "custom", "start": "2026-11-02", "end": "2026-11-08"}


@pytest.fixture
def data(db) -> Data:
    return Data()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def test_who_may_open_the_reports(data, client):
    assert client.get(URL).status_code == 302  # to the login
    assert client_for(data.chain.agents[0]).get(URL).status_code == 403
    assert client_for(data.chain.agents[0]).get(CSV_URL).status_code == 403
    assert client_for(data.lead).get(URL).status_code == 200
    admin = UserFactory(username="boss", is_superuser=True)
    assert client_for(admin).get(CSV_URL).status_code == 200


def test_nav_link_for_leads_only(data):
    dashboard = reverse("dashboard:index")
    assert f'href="{URL}"' in text(client_for(data.lead).get(dashboard))
    assert f'href="{URL}"' not in text(client_for(data.chain.agents[0]).get(dashboard))


def test_the_page_shows_the_figures_their_change_and_definitions(data):
    page = text(client_for(data.lead).get(URL, THE_WEEK))
    assert "Time to first response (MTTA)" in page
    assert "The clock starts when the ticket is created and stops at the first response" in page
    assert "Time to acknowledge an escalation" in page
    assert "Time to resolution (MTTR)" in page
    assert "Bounce-back rate" in page and "Escalation rate" in page
    assert "Customer satisfaction (CSAT)" in page
    # Mean time to first response 43.3 min against F's 60 min the week before: −16.7.
    assert "43.3 min" in page and "60.0 min" in page and "-16.7 min" in page
    # Resolution compliance 66.7 % this week.
    assert "66.7 %" in page
    assert "11/02/2026 to 11/08/2026 (7 days)" in page
    assert "compared with 10/26/2026 to 11/01/2026" in page
    # The CSV link keeps the period.
    assert f"{CSV_URL}?end=2026-11-08&amp;preset=custom&amp;start=2026-11-02" in page


def test_the_lead_does_not_see_the_other_teams_figures(data):
    admin = UserFactory(username="boss", is_superuser=True)
    assert "62.5 min" in text(client_for(admin).get(URL, THE_WEEK))  # with E's 120 min
    assert "62.5 min" not in text(client_for(data.lead).get(URL, THE_WEEK))


def test_slices_stay_in_the_url(data):
    params = {**THE_WEEK, "channel": "email"}
    page = text(client_for(data.lead).get(URL, params))
    assert "30.0 min" in page and "43.3 min" not in page
    assert 'value="email" selected' in page
    assert "channel=email" in page  # in the CSV link


def test_presets_and_the_default_period(data):
    today = timezone.localdate()
    page = text(client_for(data.lead).get(URL))
    assert '<option value="30d" selected>' in page
    assert "(30 days)" in page
    week = text(client_for(data.lead).get(URL, {"preset": "week"}))
    assert f"({today.weekday() + 1} day" in week
    quarter = client_for(data.lead).get(URL, {"preset": "quarter"})
    first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    assert quarter.context["first_day"] == first and quarter.context["last_day"] == today


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"preset": "custom", "start": "2026-11-08", "end": "2026-11-02"}, "after the last day"),
        ({"preset": "custom", "start": "2026-11-02"}, "Give both the first and the last day"),
        ({"preset": "custom", "start": "2020-01-01", "end": "2026-01-01"}, "at most 732 days"),
        ({"start": "yesterday", "end": "2026-11-02"}, "Enter a valid date"),
    ],
)
def test_a_period_that_cannot_be_read_is_a_400_with_the_reason(data, params, message):
    response = client_for(data.lead).get(URL, params)
    assert response.status_code == 400
    assert message in text(response)
    assert client_for(data.lead).get(CSV_URL, params).status_code == 400


def test_query_count_is_flat_as_data_grows(data, django_assert_max_num_queries):
    client = client_for(data.lead)
    client.get(URL, THE_WEEK)  # session, language and the like warmed up
    # Two periods of twenty queries at most, the six tables' sixteen (a list is two: its
    # keys, then its rows by key), and the page's own.
    with django_assert_max_num_queries(63) as before:
        assert client.get(URL, THE_WEEK).status_code == 200
    l1, l2 = data.chain.teams[0], data.chain.teams[1]
    for n in range(20):
        ticket = TicketFactory(
            team=l1,
            created_at=T + n * H,
            first_responded_at=T + (n + 1) * H,
            resolved_at=T + (n + 2) * H,
            status=Ticket.Status.RESOLVED,
        )
        for kind, source, target in (("hierarchical", l1, l2), ("de_escalation", l2, l1)):
            Escalation.objects.create(
                ticket=ticket,
                kind=kind,
                cycle=n,
                from_team=source,
                to_team=target,
                from_level=source.level,
                to_level=target.level,
                raised_at=T + (n + 1) * H,
                acknowledged_at=T + (n + 1) * H + 5 * M if kind == "hierarchical" else None,
                raised_by=data.lead,
                reason="Back to you",
            )
    with django_assert_max_num_queries(len(before.captured_queries)):
        assert client.get(URL, THE_WEEK).status_code == 200


def test_csv_has_every_figure_and_neutralised_cells(data):
    level = SupportLevelFactory(rank=3)
    level.name = "=HYPERLINK(1)"
    level.save()
    response = client_for(data.lead).get(CSV_URL, THE_WEEK)
    assert response["Content-Disposition"] == (
        'attachment; filename="kpis-2026-11-02-2026-11-08.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["KPI", "Figure", "Unit", "This period", "Previous period", "Change"]
    by_figure = {(r[0], r[1]): r[2:] for r in rows[1:]}
    assert by_figure[("Time to first response (MTTA)", "Mean")] == [
        "minutes",
        "43.3",
        "60.0",
        "-16.7",
    ]
    assert by_figure[("Escalation rate", "Escalation rate")] == ["percent", "50.0", "0.0", "50.0"]
    # The level's name starts with "=": the cell is text, not a formula.
    assert by_figure[("Escalations per level", "'=HYPERLINK(1)")] == ["count", "1", "0", "1"]


def test_the_page_in_german(data):
    page = text(client_for(data.lead).get(URL, THE_WEEK, HTTP_ACCEPT_LANGUAGE="de"))
    assert "Zeit bis zur Erstreaktion (MTTA)" in page
    assert "Die Uhr läuft ab der Erstellung des Tickets" in page
    assert "Kennzahlentabelle als CSV herunterladen" in page


def test_the_escalation_tables_and_cards_are_on_the_page(data):
    Escalation.objects.filter(kind="de_escalation").update(reason="Runbook covers it")
    page = client_for(data.lead).get(URL, THE_WEEK).content.decode()
    for title in (
        "Escalations by trigger",
        "First-contact resolution at the 1st level",
        "Tier target: acknowledgement",
        "Escalations per level over time",
        "Time in tier",
        "Hand-backs and their reasons",
        "Mean in business time",
        "Recurrence within 30 days",
        "Documentation quality",
        "Closing reports of level-3+ escalations",
        "Self-service deflections",
        "Load per level",
        "Customer comments",
        "Low ratings",
    ):
        assert title in page, title
    # The hand-back of C, with its reason and a link to the ticket.
    detail = reverse("tickets:detail", args=[data.c.reference])
    assert f'<a href="{detail}">{data.c.reference}</a>' in page
    assert "Runbook covers it" in page


def test_every_table_as_xlsx_and_one_as_csv(data):
    from tests.reporting.test_xlsx import read

    Escalation.objects.filter(kind="de_escalation").update(reason="=cmd|' /C calc'!A0")
    client = client_for(data.lead)
    response = client.get(reverse("reporting:xlsx"), THE_WEEK)
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="report-2026-11-02-2026-11-08.xlsx"'
    )
    names, sheets = read(response.content)
    assert names[:2] == ["KPIs", "Escalations per level over time"]
    assert "Hand-backs and their reasons" in names
    handbacks = sheets[names.index("Hand-backs and their reasons")]
    cells = [text for row in handbacks for _, _, text in row]
    assert data.c.reference in cells
    assert "'=cmd|' /C calc'!A0" in cells  # neutralised
    one = client.get(reverse("reporting:table_csv", args=["handbacks"]), THE_WEEK)
    rows = list(csv.reader(io.StringIO(one.content.decode())))
    assert rows[0][0] == "Ticket" and rows[1][0] == data.c.reference
    assert rows[1][4] == "'=cmd|' /C calc'!A0"
    assert client.get(reverse("reporting:table_csv", args=["nope"]), THE_WEEK).status_code == 404
    bad = client.get(reverse("reporting:xlsx"), {"preset": "custom", "start": "2026-11-09"})
    assert bad.status_code == 400


def test_trend_charts_carry_their_figures_in_the_page(data):
    import json
    import re

    page = client_for(data.lead).get(URL, THE_WEEK).content.decode()
    assert 'data-chart="chart-data-escalations_over_time"' in page
    found = re.search(
        r'<script id="chart-data-escalations_over_time" type="application/json">(.*?)</script>',
        page,
    )
    chart = json.loads(found.group(1))
    # Seven days; C to the 2nd level on Monday, D to the 3rd on Tuesday (test_kpis).
    assert len(chart["labels"]) == 7
    assert [(s["label"], s["values"][:2]) for s in chart["series"]] == [
        (data.chain.teams[1].level.display_name, [1, 0]),
        (data.chain.teams[2].level.display_name, [0, 1]),
    ]
    assert "js/reports.js" in page
