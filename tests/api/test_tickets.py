"""Tickets over the API: visibility, writes through the services, problems for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import client_for
from tests.factories import AdminFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def test_the_list_shows_only_visible_tickets_with_sla_and_escalation_state(api, team_a, team_b):
    mine = TicketFactory(team=team_a)
    TicketFactory(team=team_b)
    body = api.get(TICKETS).json()
    assert [t["reference"] for t in body["results"]] == [mine.reference]
    item = body["results"][0]
    assert item["version"] == mine.version
    assert item["escalation"]["team"] == {"id": team_a.pk, "name": team_a.name}
    assert item["escalation"]["open_escalation"] is None
    assert set(item["sla"]) == {
        "first_response",
        "next_update",
        "resolution",
        "paused",
        "paused_since",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("count", [5, 50])
def test_the_list_takes_a_flat_number_of_queries(api, team_a, count, django_assert_max_num_queries):
    """The team is committed: its process then keeps the configuration rows the items name
    (`api.representation.ticket_configuration`), as a serving process does."""
    TicketFactory.create_batch(count, team=team_a)
    api.get(TICKETS, {"page_size": 100})
    with django_assert_max_num_queries(5):
        response = api.get(TICKETS, {"page_size": 100})
    assert len(response.json()["results"]) == count


def test_the_page_size_is_bounded_and_ordering_comes_from_an_allowlist(api, team_a):
    TicketFactory.create_batch(3, team=team_a)
    assert len(api.get(TICKETS, {"page_size": 1000}).json()["results"]) == 3
    assert api.get(TICKETS, {"ordering": "updated_at"}).status_code == 200
    response = api.get(TICKETS, {"ordering": "subject"})
    assert response.status_code == 400
    assert "ordering" in response.json()["errors"]


def test_filters(api, team_a):
    TicketFactory(team=team_a, open=True)
    pending = TicketFactory(team=team_a, pending=True)
    body = api.get(TICKETS, {"status": "pending"}).json()
    assert [t["reference"] for t in body["results"]] == [pending.reference]
    assert api.get(TICKETS, {"updated_since": "not a date"}).status_code == 400


def test_another_teams_ticket_is_a_404(api, team_b):
    other = TicketFactory(team=team_b, open=True)
    base = f"{TICKETS}{other.reference}/"
    assert api.get(base).status_code == 404
    assert api.get(f"{base}events/").status_code == 404
    response = api.post(f"{base}transitions/resolve/", {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert api.post(f"{base}messages/", {"body": "hi"}, format="json").status_code == 404
    other.refresh_from_db()
    assert other.status == Ticket.Status.OPEN


def test_detail_lists_the_transitions_the_caller_may_run(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    body = api.get(f"{TICKETS}{ticket.reference}/").json()
    assert {t["name"] for t in body["transitions"]} == {"pend", "resolve"}


def test_create_goes_through_the_service_and_writes_the_audit_event(api, team_a, agent):
    response = api.post(
        TICKETS, {"subject": "Printer on fire", "team": team_a.pk, "impact": 1}, format="json"
    )
    assert response.status_code == 201
    ticket = Ticket.objects.get(reference=response.json()["reference"])
    assert ticket.subject == "Printer on fire" and ticket.created_by == agent
    assert ticket.channel == Ticket.Channel.API
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.CREATED).exists()


def test_the_create_answers_what_the_detail_shows(api, team_a):
    """The 201 reads the new ticket back by key (its creator may read it): the same body and
    ETag as a GET of it right after."""
    created = api.post(
        TICKETS,
        {"subject": "Disk full", "team": team_a.pk, "impact": 1, "urgency": 2},
        format="json",
    )
    assert created.status_code == 201
    detail = api.get(f"{TICKETS}{created.json()['reference']}/")
    assert created.json() == detail.json()
    assert created["ETag"] == detail["ETag"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_create_runs_a_fixed_list_of_statements():
    """Pinned, so that a change to the create path shows in its statement count. The team and
    its agent are committed first: the configuration (policies, rules, matrix) is then cached
    per process, as in a serving process (`helpdesk.configcache`)."""
    agent = UserFactory(username="creator")
    team = TeamFactory(name="Creators", members=[agent])
    api = client_for(agent)
    body = {"subject": "Checkout down", "team": team.pk, "impact": 2, "urgency": 2}
    assert api.post(TICKETS, body, format="json").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = api.post(TICKETS, body, format="json")
    assert response.status_code == 201
    # The token (`api.authentication`: its key prefix only, not the user's other tokens), the
    # agent check, the team; BEGIN, the reference, the ticket, its `created` entry, its clock
    # segments, its SLA columns, its next check, COMMIT; the ticket read back with its open
    # escalations, the transitions' permission check, its CCs. It was 18: reading it back
    # through `visible_to` cost two permission queries and the heaviest statement; then 16,
    # with knox reading every token of the user.
    assert len(queries) == 15, [q["sql"][:70] for q in queries.captured_queries]


def test_create_in_an_inactive_team_or_by_a_non_agent_is_refused(api, team_a):
    closed = TeamFactory(is_active=False)
    response = api.post(TICKETS, {"subject": "x", "team": closed.pk}, format="json")
    assert response.status_code == 400 and "team" in response.json()["errors"]
    outsider = client_for(UserFactory(username="customer"))
    response = outsider.post(TICKETS, {"subject": "x", "team": team_a.pk}, format="json")
    assert response.status_code == 403
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "x", "team": "abc"}, "team"),
        ({"subject": ["x"], "team": 1}, "subject"),
        ({"subject": "x\x00y", "team": 1}, "subject"),
        ({"subject": "x", "team": 1, "colour": "red"}, "colour"),
        ({"subject": "x" * 10_000, "team": 1}, "subject"),
        ({"team": 1}, "subject"),
    ],
)
def test_bad_input_is_a_400_problem_with_field_errors(api, payload, field):
    response = api.post(TICKETS, payload, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_malformed_json_is_a_400_problem(api):
    response = api.generic("POST", TICKETS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status"] == 400
    response = api.generic("POST", TICKETS, "[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_a_transition_runs_through_the_service(api, team_a, agent):
    ticket = TicketFactory(team=team_a, open=True)
    url = f"{TICKETS}{ticket.reference}/transitions/resolve/"
    response = api.post(url, {"version": ticket.version}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.TRANSITIONED)
    assert event.actor == agent and event.payload["to"] == "resolved"


def test_a_stale_version_is_a_409(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    url = f"{TICKETS}{ticket.reference}/transitions/resolve/"
    assert api.post(url, {"version": ticket.version + 1}, format="json").status_code == 409
    response = api.post(url, {}, format="json", HTTP_IF_MATCH=f'"{ticket.version + 1}"')
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


def test_a_transition_not_allowed_now_is_a_409(api, team_a):
    ticket = TicketFactory(team=team_a, closed=True)
    response = api.post(f"{TICKETS}{ticket.reference}/transitions/pend/", {}, format="json")
    assert response.status_code == 409


def test_a_lead_and_an_admin_may_move_the_ticket(team_a):
    lead = UserFactory(username="lead")
    team_a.lead = lead
    team_a.save()
    for user in (lead, AdminFactory(username="boss")):
        ticket = TicketFactory(team=team_a, open=True)
        response = client_for(user).post(
            f"{TICKETS}{ticket.reference}/transitions/pend/", {}, format="json"
        )
        assert response.status_code == 200, response.json()


def test_a_reply_is_idempotent_with_an_idempotency_key(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    url = f"{TICKETS}{ticket.reference}/messages/"
    first = api.post(url, {"body": "On it"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201 and first.json()["kind"] == Message.Kind.REPLY
    again = api.post(url, {"body": "On it"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # The stored answer is replayed (api.idempotency), not a second message.
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.REPLIED).count() == 1


def test_an_internal_note(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    url = f"{TICKETS}{ticket.reference}/messages/"
    response = api.post(url, {"body": "psst", "internal": True}, format="json")
    assert response.status_code == 201
    assert Message.objects.get(ticket=ticket).kind == Message.Kind.NOTE
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.NOTE_ADDED).exists()


def test_an_empty_message_is_a_400(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    response = api.post(f"{TICKETS}{ticket.reference}/messages/", {"body": " "}, format="json")
    assert response.status_code == 400


def test_the_timeline_is_paginated(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    for _ in range(3):
        api.post(
            f"{TICKETS}{ticket.reference}/messages/", {"body": "x", "internal": True}, format="json"
        )
    body = api.get(f"{TICKETS}{ticket.reference}/events/", {"page_size": 2}).json()
    assert len(body["results"]) == 2 and body["next"]
    assert body["results"][0]["kind"] == TicketEvent.Kind.NOTE_ADDED


def test_the_schema_validates_without_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`, as a deployment would run it."""
    env = {**os.environ, "DEMO": "true"}
    target = tmp_path / "schema.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(target),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    schema = target.read_text()
    assert "/api/v1/tickets/{reference}/transitions/{name}/" in schema
    assert schema.count("description:") >= 9


def test_the_schema_is_served(api):
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200


def test_an_open_escalation_shows_its_ack_deadline_in_list_and_detail(api, team_a, team_b):
    from datetime import timedelta

    from django.utils import timezone

    from escalation.models import Escalation

    ticket = TicketFactory(team=team_a, open=True, risk_score=70, risk_reasons=["no progress"])
    due = timezone.now() + timedelta(minutes=30)
    escalation = Escalation.objects.create(
        ticket=ticket,
        kind="hierarchical",
        cycle=1,
        trigger="sla_breach",
        from_team=team_a,
        to_team=team_b,
        from_level=ticket.level,
        to_level=ticket.level,
        ack_due_at=due,
    )
    listed = api.get(TICKETS).json()["results"][0]["escalation"]
    detail = api.get(f"{TICKETS}{ticket.reference}/").json()["escalation"]
    for state in (listed, detail):
        assert state["open_escalation"]["id"] == escalation.pk
        assert state["open_escalation"]["to_team"]["name"] == team_b.name
        assert state["open_escalation"]["ack_due_at"] is not None
        assert state["risk_score"] == 70 and state["risk_reasons"] == ["no progress"]


def test_the_sla_state_shows_each_targets_instants_and_flags(api, team_a):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ticket = TicketFactory(
        team=team_a,
        pending=True,
        first_response_due_at=now,
        first_response_warning_at=now - timedelta(minutes=10),
        first_response_warned_at=now - timedelta(minutes=10),
        first_response_breached_at=now,
        resolution_due_at=now + timedelta(hours=8),
        sla_paused_at=now,
    )
    sla = api.get(f"{TICKETS}{ticket.reference}/").json()["sla"]
    assert sla["first_response"]["warned"] and sla["first_response"]["breached"]
    assert sla["first_response"]["due_at"] and sla["first_response"]["warning_at"]
    assert sla["resolution"]["due_at"] and not sla["resolution"]["breached"]
    assert sla["next_update"] == {
        "due_at": None,
        "warning_at": None,
        "warned": False,
        "breached": False,
        "breached_at": None,
        "business_left": None,
    }
    assert sla["paused"] is True and sla["paused_since"]
