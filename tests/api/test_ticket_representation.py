"""A differential test of the ticket representation: the list, the detail and the webhook
payloads are written by `api.representation.TicketWriter` (the list from rows, without model
objects); DRF's serializer of the declared fields (`TicketSerializer`, the schema) is the
reference. Random tickets in every state, each reader role, both languages: every item must
equal the reference field by field and key by key, in the same order."""

from __future__ import annotations

import json
import random
from datetime import time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework import serializers

from api.representation import TICKET_COLUMNS
from api.serializers import (
    TicketDetailSerializer,
    TicketSerializer,
    for_representation,
    ticket_representation,
)
from api.tickets import row_transitions
from escalation.models import Escalation
from sla.models import BusinessCalendar, OpeningHours, SLAPolicy
from tests.api.conftest import client_for
from tests.factories import (
    AdminFactory,
    CustomerFactory,
    SupportLevelFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import NO_DEADLINE, Contact, Service, Ticket
from tickets.services import available_transitions, can_move

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
STATUSES = [s for s, _label in Ticket.Status.choices]


def policies() -> list[SLAPolicy | None]:
    """No policy, one on an always-open calendar, one on Berlin office hours."""
    always = BusinessCalendar.objects.create(name="Around the clock", always_open=True)
    office = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    for weekday in range(5):
        OpeningHours.objects.create(calendar=office, weekday=weekday, start=time(9), end=time(17))
    return [
        None,
        SLAPolicy.objects.create(name="Flat", calendar=always),
        SLAPolicy.objects.create(name="Office", calendar=office),
    ]


def random_tickets(rng: random.Random, teams: list, count: int) -> list[Ticket]:
    """`count` tickets of `teams` in random states: every status; with or without a policy,
    an assignee (with or without a name), a customer, a service, a requester; paused, warned,
    breached, met or overdue targets, far-off deadlines; risk reasons; a major incident;
    raised (waiting) escalations, sometimes two, and acknowledged ones (not waiting)."""
    now = timezone.now()
    choices = policies()
    people = [
        UserFactory(first_name="Ann", last_name="Lee"),
        UserFactory(first_name="", last_name=""),
    ]
    services = [Service.objects.create(name=f"Checkout {i}") for i in range(2)]
    customers = [CustomerFactory(), CustomerFactory()]
    requesters = [
        Contact.objects.create(customer=customers[0], name="Jo", email="jo@acme.example"),
        Contact.objects.create(customer=customers[1], name="", email="kim@example.com"),
    ]

    def instant() -> object:
        return rng.choice(
            [
                None,
                now - timedelta(minutes=rng.randint(1, 5000)),
                now + timedelta(minutes=rng.randint(1, 5000)),
            ]
        )

    tickets = []
    for i in range(count):
        team = rng.choice(teams)
        ticket = TicketFactory(
            team=team,
            status=Ticket.Status.OPEN if i == 1 else rng.choice(STATUSES),
            customer=rng.choice([None, *customers]),
            created_at=now - timedelta(minutes=rng.randint(0, 3) * 7),  # equal instants too
        )
        ticket.assignee = rng.choice([None, *people])
        ticket.service = rng.choice([None, *services])
        ticket.requester = rng.choice([None, *requesters])
        # The second ticket runs on office hours, open, with two escalations waiting.
        ticket.sla_policy = choices[2] if i == 1 else rng.choice(choices)
        ticket.is_major_incident = rng.random() < 0.2
        ticket.version = rng.randint(0, 9)
        ticket.escalation_cycle = rng.randint(0, 2)
        ticket.risk_score = rng.randint(0, 100)
        ticket.risk_reasons = rng.choice(
            [[], [{"code": "reopened", "count": 2}], [{"code": "sla_warned"}, {"code": "vip"}]]
        )
        ticket.first_responded_at = rng.choice([None, now - timedelta(hours=1)])
        ticket.sla_paused_at = rng.choice([None, None, now - timedelta(minutes=rng.randint(1, 90))])
        for target in ("first_response", "next_update", "resolution"):
            due = rng.choice([None, instant(), instant(), NO_DEADLINE])
            setattr(ticket, f"{target}_due_at", due)
            setattr(ticket, f"{target}_warning_at", instant())
            setattr(ticket, f"{target}_warned_at", instant())
            setattr(ticket, f"{target}_breached_at", instant())
        ticket.save()
        for _ in range(2 if i == 1 else rng.choice([0, 0, 1, 2])):
            upper = rng.choice(teams)
            Escalation.objects.create(
                ticket=ticket,
                kind=rng.choice(["hierarchical", "functional"]),
                status="raised" if i == 1 else rng.choice(["raised", "raised", "acknowledged"]),
                from_team=team,
                to_team=upper,
                from_level=team.level,
                to_level=upper.level,
                # Equal instants too (the id settles which one waits).
                raised_at=now - timedelta(minutes=5 if i == 1 else rng.choice([5, 5, 30])),
                ack_due_at=rng.choice([None, now + timedelta(minutes=30)]),
                cycle=0,
            )
        tickets.append(ticket)
    return tickets


def with_transitions(tickets: list[Ticket], user) -> list[Ticket]:
    """The transitions `user` may run on each ticket, asked ticket by ticket."""
    for ticket in tickets:
        ticket.api_transitions = (
            [{"name": n, "label": label} for n, label in available_transitions(ticket, user)]
            if can_move(ticket, user)
            else []
        )
    return tickets


def reference(ticket: Ticket, now, serializer_class=TicketSerializer) -> dict:
    """What DRF makes of the serializer's declared fields, field by field."""
    serializer = serializer_class(context={"now": now})
    return serializers.ModelSerializer.to_representation(serializer, ticket)


def assert_same(item: dict, expected: dict, where: str) -> None:
    for key, value in expected.items():
        assert item.get(key) == value, (where, key)
    # Nothing more, nothing less, in the same order (the JSON text).
    assert json.dumps(item) == json.dumps(expected), where


@pytest.fixture
def readers(db):
    """An agent of level 1, the lead of a level-2 team, an admin; and the teams they work in."""
    level1, level2 = SupportLevelFactory(rank=1), SupportLevelFactory(rank=2)
    agent, lead = UserFactory(username="agent-1"), UserFactory(username="lead-2")
    first = TeamFactory(name="First line", level=level1, members=[agent])
    second = TeamFactory(name="Experts", level=level2, lead=lead)
    elsewhere = TeamFactory(name="Elsewhere", level=level1)
    return {"agent": agent, "lead": lead, "admin": AdminFactory(username="root")}, [
        first,
        second,
        elsewhere,
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_list_and_the_detail_equal_the_declared_serializer(readers, seed):
    users, teams = readers
    rng = random.Random(seed)
    tickets = random_tickets(rng, teams, 24)
    # A ticket the agent follows in a team they do not work in: readable, not movable.
    tickets[0].watchers.add(users["agent"])
    now = timezone.now()
    clients = {role: client_for(user) for role, user in users.items()}
    seen = set()
    with time_machine.travel(now, tick=False):
        for role, user in users.items():
            for language in ("en", "de"):
                body = clients[role].get(TICKETS, {"page_size": 100}, HTTP_ACCEPT_LANGUAGE=language)
                assert body.status_code == 200
                items = body.json()["results"]
                visible = Ticket.objects.visible_to(user).order_by("-created_at", "-id")
                loaded = with_transitions(list(for_representation(visible)), user)
                assert [i["reference"] for i in items] == [t.reference for t in loaded]
                with translation.override(language):
                    for item, ticket in zip(items, loaded, strict=True):
                        assert_same(item, reference(ticket, now), f"{role} {language} list")
                        seen.add(ticket.status)
                for ticket in rng.sample(loaded, 3):
                    detail = clients[role].get(
                        f"{TICKETS}{ticket.reference}/", HTTP_ACCEPT_LANGUAGE=language
                    )
                    with translation.override(language):
                        expected = reference(ticket, now, TicketDetailSerializer)
                    assert_same(detail.json(), expected, f"{role} {language} detail")
    assert seen == set(STATUSES)
    # The states the test meant to cover did occur.
    assert any(t.escalations.filter(status="raised").count() > 1 for t in tickets)
    assert any(t.sla_policy and t.sla_policy.calendar.always_open is False for t in tickets)


def test_each_state_is_written_as_declared_in_german_labels(readers):
    users, teams = readers
    random_tickets(random.Random(9), teams, 12)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        body = client_for(users["admin"]).get(TICKETS, HTTP_ACCEPT_LANGUAGE="de").json()
    labels = {t["label"] for item in body["results"] for t in item["transitions"]}
    with translation.override("de"):
        expected = {
            label
            for ticket in Ticket.objects.all()
            for _name, label in available_transitions(ticket, users["admin"])
        }
    assert labels == expected and "Resolve" not in labels  # the reader's language


def test_a_webhooks_ticket_is_the_declared_one_without_what_depends_on_the_reader(readers):
    _users, teams = readers
    tickets = random_tickets(random.Random(4), teams, 12)
    for ticket in tickets:
        # As a service holds it: with its related rows and its waiting escalation, which a
        # webhook's ticket leaves out.
        loaded = for_representation(Ticket.objects.filter(pk=ticket.pk)).get()
        payload = ticket_representation(loaded)
        expected = serializers.ModelSerializer.to_representation(
            TicketSerializer(context={"business_time": False}), loaded
        )
        del expected["transitions"], expected["version"]
        del expected["escalation"]["open_escalation"]
        for target in ("first_response", "next_update", "resolution"):
            assert "business_left" not in expected["sla"][target]
        assert_same(payload, expected, ticket.reference)


def test_transitions_read_whole_tickets_once_they_depend_on_more_than_the_status(
    readers, monkeypatch
):
    import api.tickets

    users, teams = readers
    random_tickets(random.Random(5), teams, 10)
    rows = list(Ticket.objects.values(*TICKET_COLUMNS))
    for user in users.values():
        by_status = row_transitions(rows, user)
        monkeypatch.setattr(api.tickets, "transitions_follow_status", lambda: False)
        with CaptureQueriesContext(connection) as queries:
            one_by_one = row_transitions(rows, user)
        monkeypatch.undo()
        assert one_by_one == by_status
        assert len(queries) <= 2
