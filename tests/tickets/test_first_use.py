"""What a new user noticed first: where you are in the list, the default team of a new ticket,
a readable "Set pending" button, a favicon, and the escalation checklist's wording."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.factories import TeamFactory, TicketFactory
from tickets import services


@pytest.fixture
def agent_client(client, agent, team_a):
    client.force_login(agent)
    return client


def header(body: str) -> str:
    match = re.search(
        r'<div class="card-header[^"]*">\s*<span class="fw-medium">(.*?)</span>', body, re.S
    )
    assert match, "the result header is missing"
    return " ".join(match.group(1).split())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "of", "total"), [("en", "of", "1,204"), ("de", "von", "1.204")]
)
def test_list_says_where_you_are(agent_client, team_a, settings, monkeypatch, language, of, total):
    settings.TICKETS_PER_PAGE = 50
    monkeypatch.setattr("tickets.selectors.COUNT_CAP", 5000)
    TicketFactory.create_batch(1204, team=team_a)
    agent_client.cookies["django_language"] = language
    first = agent_client.get(reverse("tickets:list"))
    assert header(first.content.decode()) == f"1–50 {of} {total}"
    second = agent_client.get(reverse("tickets:list"), {"after": first.context["page"].next_cursor})
    assert header(second.content.decode()) == f"51–100 {of} {total}"
    back = agent_client.get(reverse("tickets:list"), {"before": second.context["page"].prev_cursor})
    assert header(back.content.decode()) == f"1–50 {of} {total}"


@pytest.mark.django_db
def test_a_single_page_still_says_how_many(agent_client, team_a):
    TicketFactory.create_batch(2, team=team_a)
    assert header(agent_client.get(reverse("tickets:list")).content.decode()) == "2 tickets"


@pytest.mark.django_db
def test_new_ticket_form_defaults_to_the_agents_team(client, agent, team_a):
    TeamFactory(name="Aardvarks")  # listed before Team A, but the agent is not in it
    client.force_login(agent)
    response = client.get(reverse("tickets:create"))
    assert response.context["form"]["team"].value() == team_a.pk
    assert re.search(
        rf'<option value="{team_a.pk}" selected>Team A</option>', response.content.decode()
    )


@pytest.mark.django_db
def test_set_pending_button_is_readable(agent_client, agent, team_a):
    ticket = services.ticket_create(
        actor=agent, data=services.NewTicket(subject="s", description="", team=team_a)
    )
    services.ticket_transition(ticket=ticket, actor=agent, name="open")
    body = agent_client.get(ticket.get_absolute_url()).content.decode()
    buttons = re.findall(r'<button type="submit" class="btn btn-sm ([^"]*)">([^<]*)</button>', body)
    pending = [css for css, label in buttons if label == "Set pending"]
    assert pending, buttons
    # Yellow text on white has a contrast of about 1.6:1; a dark outline reads.
    assert all("warning" not in css for css in pending)


@pytest.mark.django_db
def test_pages_link_a_favicon(agent_client):
    body = agent_client.get(reverse("tickets:list")).content.decode()
    href = re.search(r'<link rel="icon"[^>]*href="([^"]+)"', body).group(1)
    assert href.endswith("favicon.svg")
    assert finders.find("img/favicon.svg")


def test_checklist_points_up_to_the_impact_field():
    from escalation.forms import CHECKLIST

    labels = [str(label) for _name, label in CHECKLIST]
    assert not any("described below" in label for label in labels)
    assert any("described in the package above" in label for label in labels)
