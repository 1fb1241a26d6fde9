"""Idempotency-Key on every POST: a retry replays the first answer, another body with the
same key is a 422, keys expire, and two identical requests at once have one effect."""

from __future__ import annotations

import base64
import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from api import idempotency
from api.idempotency import Idempotent
from api.models import IdempotencyKey
from api.tasks import purge_idempotency_keys
from tests.api.conftest import client_for
from tests.factories import TeamFactory, TicketFactory, UserFactory
from tickets.models import Ticket, TicketEvent

TICKETS = "/api/v1/tickets/"


def new_ticket_body(team, subject: str = "Printer on fire") -> dict:
    return {"subject": subject, "team": team.pk, "impact": 1, "urgency": 1}


@pytest.mark.django_db
def test_a_retry_replays_the_first_answer_and_creates_one_ticket(api, team_a, agent):
    body = new_ticket_body(team_a)
    first = api.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = api.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.CREATED).count() == 1
    stored = IdempotencyKey.objects.get(user=agent, key="create-1")
    assert (stored.method, stored.path, stored.status) == ("POST", TICKETS, 201)
    assert stored.body["reference"] == first.json()["reference"]


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(api, team_a):
    api.post(TICKETS, new_ticket_body(team_a), format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = api.post(
        TICKETS, new_ticket_body(team_a, "Other"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert other.status_code == 422
    assert other["Content-Type"] == "application/problem+json"
    assert "another request" in other.json()["detail"]
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_a_422(api, team_a):
    ticket = TicketFactory(team=team_a, open=True)
    api.post(TICKETS, new_ticket_body(team_a), format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = api.post(
        f"{TICKETS}{ticket.reference}/transitions/pend/",
        {},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 422
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


@pytest.mark.django_db
def test_keys_are_per_user(team_a, agent):
    colleague = UserFactory(username="colleague")
    team_a.members.add(colleague)
    body = new_ticket_body(team_a)
    client_for(agent).post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = client_for(colleague).post(
        TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_a_refusal_is_replayed_too(api, team_a):
    # A 4xx is an answer: the retry gets it again without running the request again.
    ticket = TicketFactory(team=team_a, resolved=True)
    url = f"{TICKETS}{ticket.reference}/transitions/pend/"
    first = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN)
    again = api.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN


@pytest.mark.django_db
def test_an_expired_key_runs_again_and_the_task_purges_old_keys(api, team_a, agent):
    body = new_ticket_body(team_a)
    api.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    response = api.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Ticket.objects.count() == 2
    IdempotencyKey.objects.create(
        user=agent,
        key="stale",
        method="POST",
        path="/x/",
        fingerprint="f",
        status=201,
        created_at=timezone.now() - dt.timedelta(days=2),
    )
    assert purge_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["old"]


@pytest.mark.django_db
def test_a_server_error_is_not_stored(api, team_a, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("tickets.services.ticket_create", boom)
    api.raise_request_exception = False
    response = api.post(TICKETS, new_ticket_body(team_a), format="json", HTTP_IDEMPOTENCY_KEY="e")
    assert response.status_code == 500
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_the_fingerprint_ignores_key_order_and_whitespace(rf):
    from rest_framework.parsers import JSONParser
    from rest_framework.request import Request

    def fingerprint(raw: bytes) -> str:
        request = rf.post("/", data=raw, content_type="application/json")
        return idempotency.fingerprint(Request(request, parsers=[JSONParser()]))

    assert fingerprint(b'{"a": 1, "b": [1, 2]}') == fingerprint(b'{"b":[1,2],"a":1}')
    assert fingerprint(b'{"a": 1}') != fingerprint(b'{"a": 2}')


def _views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_every_api_view_that_takes_posts_is_idempotent():
    checked = 0
    for route, callback in _views(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if not route.startswith("api/v1/") or view is None:
            continue
        if hasattr(view, "post") and "post" in getattr(view, "http_method_names", ["post"]):
            assert issubclass(view, Idempotent), route
            checked += 1
    assert checked >= 10


# --- Concurrent replays on PostgreSQL ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_identical_requests_have_one_effect():
    agent = UserFactory(username="racer")
    team = TeamFactory(name="Race team", members=[agent])
    body = new_ticket_body(team, "Twice at once")
    clients = [client_for(agent), client_for(agent)]
    barrier = threading.Barrier(2)
    responses: list = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait()
            responses[i] = clients[i].post(
                TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="race-1"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json()["reference"] == responses[1].json()["reference"]
    assert sorted("Idempotent-Replayed" in r for r in responses) == [False, True]
    assert Ticket.objects.filter(subject="Twice at once").count() == 1
    assert IdempotencyKey.objects.filter(key="race-1").count() == 1


@pytest.mark.django_db
def test_a_new_tokens_secret_is_never_stored_for_a_replay(agent, team_a):
    from rest_framework.test import APIClient

    agent.set_password("pw")
    agent.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"agent:pw").decode())
    first = client.post(
        "/api/v1/auth/tokens/", {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="t1"
    )
    assert first.status_code == 201 and first.json()["token"]
    again = client.post(
        "/api/v1/auth/tokens/", {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="t1"
    )
    assert again.status_code == 201 and again.json()["token"] is None
    assert again.json()["id"] == first.json()["id"]
    stored = IdempotencyKey.objects.get(key="t1")
    assert stored.body["token"] is None
    assert first.json()["token"] not in str(stored.body)


def test_an_answer_that_echoes_a_nul_or_a_lone_surrogate_is_kept(admin_user):
    """A problem detail may name what the client sent (an unknown field): jsonb holds no NUL
    and no lone surrogate, so the stored answer replaces them instead of failing with a 500."""
    api = client_for(admin_user)
    # As raw JSON: the escapes reach the server as a NUL and a lone surrogate.
    body = '{"name": "Sev 3", "cell_1_1": 4, "bad\\u0000field\\ud961": 1}'
    answers = [
        api.post(
            "/api/v1/configuration/severity-matrices/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="nul-echo-1",
        )
        for _ in range(2)
    ]
    first, again = answers
    assert first.status_code == 400
    assert again.status_code == 400
    assert again.headers.get(idempotency.REPLAYED_HEADER) == "true"
    assert idempotency.storable({"a\x00": ["b\ud961"]}) == {"a\ufffd": ["b?"]}


@pytest.mark.django_db
def test_a_new_key_costs_two_statements_and_a_replay_two_reads(api, team_a):
    """A new key: its insert (which returns the row and holds its lock) and the answer's
    update, in a savepoint; a replay: the insert that finds the key, the locked read."""
    api.post(TICKETS, new_ticket_body(team_a, "Warm-up"), format="json")
    with CaptureQueriesContext(connection) as plain:
        api.post(TICKETS, new_ticket_body(team_a, "Plain"), format="json")
    with CaptureQueriesContext(connection) as keyed:
        api.post(TICKETS, new_ticket_body(team_a, "Keyed"), format="json", HTTP_IDEMPOTENCY_KEY="n")
    with CaptureQueriesContext(connection) as replay:
        again = api.post(
            TICKETS, new_ticket_body(team_a, "Keyed"), format="json", HTTP_IDEMPOTENCY_KEY="n"
        )
    assert again["Idempotent-Replayed"] == "true"
    writes = [q["sql"] for q in keyed.captured_queries if "api_idempotencykey" in q["sql"]]
    assert len(writes) == 2 and writes[0].startswith("INSERT") and writes[1].startswith("UPDATE")
    # Besides: the savepoint of the request's transaction and its release.
    assert len(keyed) == len(plain) + 2 + 2
    reads = [q["sql"] for q in replay.captured_queries if "api_idempotencykey" in q["sql"]]
    assert [sql.split()[0] for sql in reads] == ["INSERT", "SELECT"]
