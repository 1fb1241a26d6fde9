"""Importing tickets with their history: the API, the command, re-imports, and the check that
matters most — an imported history gets the escalations the engine raises for it live."""

from __future__ import annotations

import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Min

from escalation.services import escalation_acknowledge
from escalation.sweep import sweep
from integrations.importer import ceil_minute
from integrations.models import ImportedTicket
from tests.api.conftest import client_for
from tests.escalation.test_services import Chain
from tests.factories import AdminFactory
from tickets import services
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/import/tickets/"
BERLIN = ZoneInfo("Europe/Berlin")
MON_9 = dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN)
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


@pytest.fixture
def admin(db):
    return AdminFactory(username="importer")


def history() -> list[dict]:
    """A Sev 3 ticket: a customer chases at 10:00, the first response comes late (15:00,
    after the 13:00 deadline), it is resolved the next morning."""
    return [
        {"at": MON_9 + H, "type": "customer_message", "author_name": "Kim", "body": "Any news?"},
        {"at": MON_9 + 4 * H + 10 * MIN, "type": "acknowledge", "author": "agent2"},
        {"at": MON_9 + 6 * H, "type": "reply", "author": "agent2@example.com", "body": "Fixed?"},
        {"at": MON_9 + 6 * H + dt.timedelta(minutes=5), "type": "note", "body": "Restarted"},
        {"at": MON_9 + 25 * H, "type": "transition", "transition": "resolve"},
    ]


def record(**overrides) -> dict:
    data = {
        "system": "otrs",
        "external_id": "4711",
        "subject": "Checkout fails",
        "description": "500 on pay",
        "team": "L1",
        "impact": 3,
        "urgency": 3,
        "channel": "email",
        "created_at": MON_9,
        "created_by": "agent1",
        "history": history(),
    }
    return {**data, **overrides}


def as_json(value):
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


def sweep_until(until: dt.datetime) -> None:
    """The beat, live: a sweep at every minute where something is due."""
    while True:
        due = Ticket.objects.active().aggregate(first=Min("next_check_at"))["first"]
        if due is None or ceil_minute(due) > until:
            return
        sweep(now=ceil_minute(due))


def drive_live(chain: Chain, admin) -> Ticket:
    """The same history, as it happens: the services at each instant, the sweep between."""
    ticket = services.ticket_create(
        actor=chain.agents[0],
        data=services.NewTicket(subject="Checkout fails", description="500", team=chain.teams[0]),
        now=MON_9,
    )
    for entry in history():
        sweep_until(entry["at"])
        ticket.refresh_from_db()
        at = entry["at"]
        if entry["type"] == "acknowledge":
            escalation_acknowledge(
                escalation=ticket.escalations.get(status="raised"), actor=chain.agents[1], now=at
            )
        elif entry["type"] == "customer_message":
            services.ticket_add_customer_message(ticket=ticket, body=entry["body"], now=at)
        elif entry["type"] == "reply":
            services.ticket_reply(ticket=ticket, actor=chain.agents[1], body=entry["body"], now=at)
        elif entry["type"] == "note":
            services.ticket_add_note(ticket=ticket, actor=admin, body=entry["body"], now=at)
        else:
            services.ticket_transition(ticket=ticket, actor=admin, name="resolve", now=at)
    ticket.refresh_from_db()
    return ticket


def trail(ticket: Ticket) -> dict:
    """What the clock and the engine made of a ticket's history."""
    escalations = [
        (e.kind, e.trigger, e.from_level.rank, e.to_level.rank, e.raised_at, e.status)
        for e in ticket.escalations.order_by("raised_at", "pk").select_related(
            "from_level", "to_level"
        )
    ]
    events = list(ticket.events.order_by("created_at", "pk").values_list("kind", "created_at"))
    fields = [
        "status",
        "team_id",
        "level_id",
        "priority",
        "escalation_cycle",
        "first_responded_at",
        "first_response_due_at",
        "first_response_breached_at",
        "resolution_due_at",
        "resolution_breached_at",
        "resolved_at",
        "last_progress_at",
    ]
    return {
        "escalations": escalations,
        "events": events,
        **{name: getattr(ticket, name) for name in fields},
    }


def test_an_imported_history_gets_the_escalations_the_engine_raises_live(chain, admin):
    live = drive_live(chain, admin)
    response = client_for(admin).post(IMPORT, as_json({"tickets": [record()]}), format="json")
    assert response.status_code == 200, response.content
    (result,) = response.json()["tickets"]
    assert result["errors"] == [] and result["created"] and result["played"] == 5
    imported = Ticket.objects.get(reference=result["ticket"])
    expected = trail(live)
    assert expected["escalations"], "the history must make the engine escalate"
    assert expected["first_response_breached_at"] is not None
    assert trail(imported) == expected


def test_the_import_keeps_original_instants_authors_and_the_external_id(chain, admin):
    body = client_for(admin).post(IMPORT, as_json({"tickets": [record()]}), format="json").json()
    ticket = Ticket.objects.get(reference=body["tickets"][0]["ticket"])
    assert ticket.created_at == MON_9
    assert ticket.created_by == chain.agents[0]
    reply = ticket.messages.get(kind=Message.Kind.REPLY)
    assert (reply.author, reply.created_at) == (chain.agents[1], MON_9 + 6 * H)
    note = ticket.messages.get(kind=Message.Kind.NOTE)
    assert note.author == admin  # no author given: the importing admin
    assert ticket.messages.get(kind=Message.Kind.CUSTOMER).author_name == "Kim"
    assert ticket.first_responded_at == MON_9 + 6 * H
    assert ticket.resolved_at == MON_9 + 25 * H
    link = ImportedTicket.objects.get()
    assert (link.system, link.external_id, link.ticket, link.entries) == ("otrs", "4711", ticket, 5)
    assert link.last_entry_at == MON_9 + 25 * H


def test_reimporting_adds_new_entries_instead_of_duplicating(chain, admin):
    client = client_for(admin)
    first = record(history=history()[:2])
    client.post(IMPORT, as_json({"tickets": [first]}), format="json")
    again = client.post(IMPORT, as_json({"tickets": [record()]}), format="json").json()
    (result,) = again["tickets"]
    assert (result["created"], result["played"]) == (False, 3)
    assert Ticket.objects.count() == 1
    ticket = Ticket.objects.get()
    assert ticket.messages.count() == 3
    assert ticket.status == Ticket.Status.RESOLVED
    same = client.post(IMPORT, as_json({"tickets": [record()]}), format="json").json()
    assert same["tickets"][0]["played"] == 0
    assert ticket.messages.count() == 3
    assert ImportedTicket.objects.get().entries == 5


def test_a_refused_entry_keeps_nothing_of_that_ticket_and_says_why(chain, admin):
    bad = record(
        external_id="1", history=[{"at": MON_9 + H, "type": "transition", "transition": "close"}]
    )
    good = record(external_id="2")
    body = client_for(admin).post(IMPORT, as_json({"tickets": [bad, good]}), format="json").json()
    first, second = body["tickets"]
    assert first["ticket"] is None and first["errors"]
    assert second["errors"] == [] and second["ticket"]
    assert list(ImportedTicket.objects.values_list("external_id", flat=True)) == ["2"]
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"team": "Nobody"}, "team"),
        ({"customer": "Nobody Inc"}, "customer"),
        ({"created_at": "2999-01-01T00:00:00Z"}, "created_at"),
        ({"history": [{"at": "2020-01-01T00:00:00Z", "type": "note", "body": "x"}]}, "history"),
        ({"history": [{"at": "2026-03-02T10:00:00Z", "type": "note", "body": ""}]}, "history"),
        ({"history": [{"at": "2026-03-02T10:00:00Z", "type": "transition"}]}, "history"),
        ({"impact": 9}, "impact"),
        ({"system": "no spaces"}, "system"),
        ({"subject": "s\u0000"}, "subject"),
    ],
)
def test_invalid_records_are_a_400_and_nothing_is_imported(chain, admin, change, field):
    response = client_for(admin).post(
        IMPORT, as_json({"tickets": [record(**change)]}), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json()["errors"])
    assert Ticket.objects.count() == 0


def test_only_admins_import(chain, agent, team_a):
    payload = as_json({"tickets": [record()]})
    assert client_for(chain.agents[0]).post(IMPORT, payload, format="json").status_code == 403
    lead = chain.teams[0].lead
    assert client_for(lead).post(IMPORT, payload, format="json").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().post(IMPORT, payload, format="json").status_code == 401
    assert Ticket.objects.count() == 0


def test_the_command_reads_json_lines_and_arrays_and_reports_progress(chain, admin, tmp_path):
    lines = tmp_path / "tickets.jsonl"
    lines.write_text(
        "\n".join(json.dumps(as_json(record(external_id=str(n)))) for n in range(3)) + "\n"
    )
    err, out = io.StringIO(), io.StringIO()
    call_command("import_tickets", str(lines), "--as", "importer", stdout=out, stderr=err)
    assert Ticket.objects.count() == 3
    assert "3 records, 3 new tickets, 0 failed" in err.getvalue()
    assert "Imported 3 of 3 records" in out.getvalue()
    array = tmp_path / "tickets.json"
    array.write_text(json.dumps(as_json([record(external_id="0"), record(external_id="9")])))
    call_command("import_tickets", str(array), "--as", "importer", stdout=out, stderr=err)
    assert Ticket.objects.count() == 4  # "0" again added to the ticket it became


def test_the_command_fails_loudly_on_bad_records_and_non_admins(chain, admin, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(as_json(record(team="Nobody"))) + "\n{broken\n")
    with pytest.raises(CommandError, match="2 records were not imported"):
        call_command(
            "import_tickets",
            str(path),
            "--as",
            "importer",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="No active admin"):
        call_command("import_tickets", str(path), "--as", "agent1")
    assert Ticket.objects.count() == 0


def test_imported_history_sends_no_notifications(chain, admin):
    from notifications.models import Delivery

    client_for(admin).post(IMPORT, as_json({"tickets": [record()]}), format="json")
    assert Delivery.objects.count() == 0
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.ESCALATED).exists()


def test_an_admins_revoked_token_and_a_deactivated_admin_cannot_import(chain, admin):
    from integrations import services as integration_services

    payload = as_json({"tickets": [record()]})
    token, secret = integration_services.token_create(user=admin, name="migration", days=1)
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    integration_services.token_revoke(actor=admin, key=token.token_key)
    assert client.post(IMPORT, payload, format="json").status_code == 401
    other = client_for(admin)
    admin.is_active = False
    admin.save()
    assert other.post(IMPORT, payload, format="json").status_code == 401
    assert Ticket.objects.count() == 0


def test_an_import_batch_is_bounded(chain, admin):
    payload = as_json({"tickets": [record(external_id=str(n)) for n in range(101)]})
    response = client_for(admin).post(IMPORT, payload, format="json")
    assert response.status_code == 400
    assert client_for(admin).post(IMPORT, {"tickets": []}, format="json").status_code == 400
    assert Ticket.objects.count() == 0


def test_acknowledging_when_nothing_was_escalated_is_refused(chain, admin):
    early = record(history=[{"at": MON_9 + H, "type": "acknowledge", "author": "agent2"}])
    body = client_for(admin).post(IMPORT, as_json({"tickets": [early]}), format="json").json()
    (result,) = body["tickets"]
    assert result["ticket"] is None
    assert result["errors"] == ["There is no escalation to acknowledge then."]
    assert Ticket.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_imports_of_one_external_id_make_one_ticket():
    import threading

    from django.db import connection

    from integrations.api import ImportRecordSerializer, import_one

    Chain()
    admin = AdminFactory(username="importer")
    form = ImportRecordSerializer(data=as_json(record()))
    assert form.is_valid(), form.errors
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(import_one(admin, dict(form.validated_data), {}))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["errors"] for r in results] == [[], []]
    assert Ticket.objects.count() == 1
    assert sorted(r["created"] for r in results) == [False, True]
    assert ImportedTicket.objects.get().entries == 5
