"""The ticket list's speed without changing what it says (test_ticket_representation.py holds
its items to the declared serializer): the queries stay flat whatever the rows hold, and the
ordering is total (a page boundary inside a run of equal instants loses no ticket and repeats
none)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import Escalation
from sla.models import BusinessCalendar, OpeningHours, SLAPolicy
from tests.api.conftest import client_for
from tests.factories import SupportLevelFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Contact, Service, Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def flat_policy(name: str) -> SLAPolicy:
    """A policy whose calendar is always open (business time is wall-clock time)."""
    calendar = BusinessCalendar.objects.create(name=name, always_open=True)
    return SLAPolicy.objects.create(name=name, calendar=calendar)


def varied_tickets(team, count: int) -> list[Ticket]:
    """`count` tickets of `team` that use every part of the representation: with and without
    an assignee, a service, a requester, an open escalation, a breached, warned or paused
    clock and risk reasons."""
    now = timezone.now()
    upper = TeamFactory(name=f"Upper {count}", level=SupportLevelFactory(rank=2))
    assignee = UserFactory(first_name="Ann", last_name="Lee")
    service = Service.objects.create(name=f"Checkout {count}")
    policy = flat_policy(f"Flat {count}")
    tickets = []
    for i in range(count):
        ticket = TicketFactory(team=team, open=i % 3 != 0, pending=i % 3 == 0)
        if i % 2:
            ticket.assignee = assignee
            ticket.service = service
            ticket.requester = Contact.objects.create(
                customer=ticket.customer, name=f"Jo {i}", email=f"jo{i}.{upper.pk}@acme.example"
            )
            ticket.first_response_due_at = now + timedelta(hours=1)
            ticket.first_response_warning_at = now
            ticket.first_response_warned_at = now
            ticket.resolution_breached_at = now - timedelta(minutes=i)
            ticket.risk_score = 40 + i
            ticket.risk_reasons = [{"code": "reopened", "count": i}]
            ticket.sla_policy = policy
        if i % 4 == 0:
            ticket.sla_paused_at = now - timedelta(minutes=5)
        ticket.save()
        if i % 5 == 0:
            Escalation.objects.create(
                ticket=ticket,
                kind="hierarchical",
                from_team=team,
                to_team=upper,
                from_level=team.level,
                to_level=upper.level,
                raised_at=now - timedelta(minutes=i),
                ack_due_at=now + timedelta(minutes=30),
                cycle=0,
            )
        tickets.append(ticket)
    return tickets


def test_the_list_shows_what_a_ticket_holds(agent, team_a):
    ticket = varied_tickets(team_a, 2)[1]
    item = client_for(agent).get(TICKETS).json()["results"][0]
    assert item["reference"] == ticket.reference
    assert item["escalation"]["assignee"]["name"] == "Ann Lee"
    assert item["requester"] == {
        "id": ticket.requester_id,
        "name": "Jo 1",
        "email": ticket.requester.email,
    }
    assert item["sla"]["first_response"]["warned"] is True
    assert item["sla"]["resolution"]["breached"] is True
    assert item["escalation"]["risk_reasons"] == [{"code": "reopened", "count": 1}]
    assert "description" not in item


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": ["open", "pending"], "customer": 0},
        {"ordering": "priority"},
        {"ordering": "-updated_at", "escalated": "true"},
        {"q": "HD-", "breached": "false"},
    ],
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_list_takes_the_same_queries_for_3_tickets_as_for_60(agent, team_a, query):
    """Committed data: the process keeps the configuration rows the items name, as a serving
    process does; the first request after a configuration change reads them again."""
    api = client_for(agent)
    varied_tickets(team_a, 3)
    api.get(TICKETS, {**query, "page_size": 100})  # the configuration, the token's first use
    with CaptureQueriesContext(connection) as few:
        first = api.get(TICKETS, {**query, "page_size": 100})
    varied_tickets(team_a, 57)  # with new teams, services and policies
    api.get(TICKETS, {**query, "page_size": 100})
    with CaptureQueriesContext(connection) as many:
        second = api.get(TICKETS, {**query, "page_size": 100})
    assert first.status_code == second.status_code == 200
    if "customer" not in query:
        assert len(second.json()["results"]) > len(first.json()["results"])
    assert len(many) == len(few) <= 7, [q["sql"][:120] for q in many.captured_queries]


def joined_columns(statement: str) -> set[str]:
    """The ticket's columns on which `statement` joins another table (not in subqueries)."""
    return set(re.findall(r'JOIN "\w+" ON \("tickets_ticket"\."(\w+)"', statement))


def test_the_list_and_the_detail_join_no_configuration_rows(agent, team_a):
    """The page's statement joins the rows without number only (assignee, customer,
    requester): each further table made PostgreSQL's planning of it slower than its run. The
    team, level, service and policy come from the process's configuration."""
    ticket = varied_tickets(team_a, 2)[1]
    api = client_for(agent)
    for url in (TICKETS, f"{TICKETS}{ticket.reference}/"):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        (statement,) = [
            q["sql"] for q in queries.captured_queries if '"tickets_ticket"."subject"' in q["sql"]
        ]
        assert joined_columns(statement) == {"assignee_id", "customer_id", "requester_id"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_configuration_rows_are_read_again_after_a_change(agent, team_a):
    """The kept configuration follows a change saved in the admin at once, and a row this
    process has not heard of yet (written without signals, as another process's change
    before its news arrives) is read from the database."""
    api = client_for(agent)
    ticket = varied_tickets(team_a, 2)[1]
    assert api.get(TICKETS).json()["results"][0]["escalation"]["team"]["name"] == team_a.name
    team_a.name = "Renamed desk"
    team_a.save()
    item = api.get(TICKETS).json()["results"][0]
    assert item["escalation"]["team"] == {"id": team_a.pk, "name": "Renamed desk"}
    (unheard,) = Service.objects.bulk_create([Service(name="Unheard of")])
    Ticket.objects.filter(pk=ticket.pk).update(service=unheard)
    item = api.get(f"{TICKETS}{ticket.reference}/").json()
    assert item["service"] == {"id": unheard.pk, "name": "Unheard of"}


def test_a_status_filter_returns_each_ticket_once_without_distinct(agent, team_a):
    api = client_for(agent)
    tickets = varied_tickets(team_a, 6)
    with CaptureQueriesContext(connection) as queries:
        body = api.get(TICKETS, {"status": ["open", "pending"], "page_size": 100}).json()
    assert sorted(t["reference"] for t in body["results"]) == sorted(t.reference for t in tickets)
    assert not any("DISTINCT" in q["sql"] for q in queries.captured_queries)


def test_pages_cut_through_equal_instants_without_losing_or_repeating_a_ticket(agent, team_a):
    api = client_for(agent)
    same = timezone.now() - timedelta(hours=1)
    tickets = TicketFactory.create_batch(7, team=team_a, created_at=same, updated_at=same)
    for ordering in ("-created_at", "created_at", "updated_at", "priority", "-priority"):
        seen, url = [], TICKETS
        params = {"page_size": 2, "ordering": ordering}
        while url:
            body = api.get(url, params).json()
            seen += [t["reference"] for t in body["results"]]
            url, params = body["next"], None
        assert sorted(seen) == sorted(t.reference for t in tickets), ordering
        assert len(seen) == len(set(seen)), ordering


def test_priority_ordering_is_most_severe_first_then_newest(agent, team_a):
    api = client_for(agent)
    now = timezone.now()
    low_old = TicketFactory(team=team_a, impact=4, urgency=4, created_at=now - timedelta(days=2))
    low_new = TicketFactory(team=team_a, impact=4, urgency=4, created_at=now)
    high = TicketFactory(team=team_a, critical=True, created_at=now - timedelta(days=5))
    body = api.get(TICKETS, {"ordering": "priority"}).json()
    assert [t["reference"] for t in body["results"]] == [
        high.reference,
        low_new.reference,
        low_old.reference,
    ]


def test_each_ticket_on_a_page_has_the_transitions_of_its_own_status(agent, team_a, team_b):
    from tickets import services

    api = client_for(agent)
    mine = [
        TicketFactory(team=team_a, open=True),
        TicketFactory(team=team_a, pending=True),
        TicketFactory(team=team_a, resolved=True),
        TicketFactory(team=team_a),
    ]
    followed = TicketFactory(team=team_b, open=True)
    followed.watchers.add(agent)  # readable, not movable: no transitions
    body = api.get(TICKETS, {"page_size": 100}).json()
    shown = {t["reference"]: [x["name"] for x in t["transitions"]] for t in body["results"]}
    for ticket in mine:
        expected = [name for name, _label in services.available_transitions(ticket, agent)]
        assert expected and shown[ticket.reference] == expected, ticket.status
    assert shown[followed.reference] == []


def office_policy() -> SLAPolicy:
    """A policy on a Berlin office calendar: Monday to Friday, 9:00 to 17:00."""
    office = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    for weekday in range(5):
        OpeningHours.objects.create(calendar=office, weekday=weekday, start=time(9), end=time(17))
    return SLAPolicy.objects.create(name="Office", calendar=office)


def sla_of(api, ticket) -> dict:
    return api.get(f"{TICKETS}{ticket.reference}/").json()["sla"]


def test_business_time_left_counts_open_hours_only(agent, team_a):
    api = client_for(agent)
    berlin = ZoneInfo("Europe/Berlin")
    # Paused on a Friday at 16:00 with the resolution due on Monday at 10:00: two business
    # hours are left (Friday 16-17, Monday 9-10), whatever the time now.
    ticket = TicketFactory(
        team=team_a,
        pending=True,
        sla_policy=office_policy(),
        sla_paused_at=datetime(2026, 12, 4, 16, tzinfo=berlin),
        resolution_due_at=datetime(2026, 12, 7, 10, tzinfo=berlin),
    )
    sla = sla_of(api, ticket)
    assert sla["resolution"]["business_left"] == 2 * 3600
    assert sla["first_response"]["business_left"] is None  # no due instant


def test_business_time_left_runs_from_now_and_goes_negative_when_overdue(agent, team_a):
    api = client_for(agent)
    now = timezone.now()
    ticket = TicketFactory(
        team=team_a,
        open=True,
        sla_policy=flat_policy("Flat"),
        first_response_due_at=now - timedelta(minutes=30),
        resolution_due_at=now + timedelta(hours=2),
    )
    sla = sla_of(api, ticket)
    assert -1800 - 60 < sla["first_response"]["business_left"] <= -1800
    assert 7200 - 60 < sla["resolution"]["business_left"] <= 7200
    Ticket.objects.filter(pk=ticket.pk).update(
        first_responded_at=now, next_update_due_at=now + timedelta(hours=1)
    )
    sla = sla_of(api, ticket)
    assert sla["first_response"]["business_left"] is None  # met
    assert 3600 - 60 < sla["next_update"]["business_left"] <= 3600
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.RESOLVED)
    assert sla_of(api, ticket)["resolution"]["business_left"] is None
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN, sla_policy=None)
    assert sla_of(api, ticket)["resolution"]["business_left"] is None  # no calendar


def test_a_webhooks_ticket_leaves_out_business_time_left(agent, team_a):
    from drf_spectacular.generators import SchemaGenerator

    from api.serializers import ticket_representation

    ticket = varied_tickets(team_a, 2)[1]
    fresh = Ticket.objects.select_related(
        "team", "level", "assignee", "customer", "service", "requester"
    ).get(pk=ticket.pk)
    with CaptureQueriesContext(connection) as queries:
        payload = ticket_representation(fresh)
    assert len(queries) == 0
    assert "business_left" not in payload["sla"]["resolution"]
    assert payload["sla"]["resolution"]["breached"] is True
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    assert "business_left" in components["SlaTarget"]["properties"]
    assert "business_left" not in components["WebhookTicketSlaTarget"]["properties"]


def test_the_filter_set_is_built_only_when_a_filter_is_asked_for(agent, team_a, monkeypatch):
    """Without a filter parameter the filter set cannot change the list, so it is not built
    (a sixth of an unfiltered page's CPU); with one it filters and validates as before."""
    from api.tickets import TicketFilter

    built = []
    build = TicketFilter.__init__

    def counted(self, *args, **kwargs):
        built.append(kwargs.get("data"))
        build(self, *args, **kwargs)

    monkeypatch.setattr(TicketFilter, "__init__", counted)
    open_ticket = TicketFactory(team=team_a, open=True)
    TicketFactory(team=team_a, pending=True)
    api = client_for(agent)
    assert len(api.get(TICKETS, {"page_size": 10, "ordering": "priority"}).json()["results"]) == 2
    assert built == []
    body = api.get(TICKETS, {"page_size": 10, "status": "open"}).json()
    assert [t["reference"] for t in body["results"]] == [open_ticket.reference]
    assert api.get(TICKETS, {"priority": 9}).status_code == 400
    assert len(built) == 2
