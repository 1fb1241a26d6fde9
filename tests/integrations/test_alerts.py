"""Alert intake: both formats, deduplication, resolution, authentication, bad input."""

from __future__ import annotations

import copy
import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from integrations import services
from integrations.alerts import Alert
from integrations.models import AlertGroup, Integration
from tests.api.conftest import client_for
from tests.integrations.conftest import alert_client, make_integration
from tickets.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"
DISK = {
    "dedup_key": "db-1/disk-full",
    "action": "trigger",
    "summary": "Disk full on db-1",
    "description": "/var is at 99 %",
    "severity": "critical",
    "labels": {"instance": "db-1"},
}


def alertmanager(status="firing", alerts=None) -> dict:
    """A notification as Alertmanager 0.25 sends it (version 4)."""
    alerts = alerts or [
        {
            "status": status,
            "labels": {"alertname": "HighLatency", "severity": "warning", "instance": "web-1"},
            "annotations": {"summary": "Latency above 2 s on web-1", "runbook_url": "https://rb/1"},
            "startsAt": "2026-12-07T06:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-07T06:30:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
            "fingerprint": "a1b2c3d4e5f6",
        }
    ]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "helpdesk",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def test_a_generic_alert_opens_a_monitoring_ticket_in_the_team(monitor, integration, team_a):
    account = integration[0].account.user
    response = monitor.post(ALERTS, DISK, format="json")
    assert response.status_code == 200, response.content
    (result,) = response.json()["alerts"]
    ticket = Ticket.objects.get()
    assert result == {
        "dedup_key": "db-1/disk-full",
        "action": "created",
        "ticket": ticket.reference,
        "count": 1,
    }
    assert ticket.channel == Ticket.Channel.MONITORING
    assert ticket.team == team_a
    assert (ticket.impact, ticket.urgency, ticket.priority) == (1, 1, 1)  # critical
    assert ticket.subject == "Disk full on db-1"
    assert "/var is at 99 %" in ticket.description and "instance=db-1" in ticket.description
    assert ticket.created_by == account
    created = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
    assert created.actor == account
    assert created.payload["channel"] == "monitoring"
    group = AlertGroup.objects.get()
    assert (group.ticket, group.count, group.is_open) == (ticket, 1, True)


def test_a_retry_with_the_same_idempotency_key_is_answered_once(monitor):
    first = monitor.post(ALERTS, DISK, format="json", HTTP_IDEMPOTENCY_KEY="am-1")
    again = monitor.post(ALERTS, DISK, format="json", HTTP_IDEMPOTENCY_KEY="am-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert AlertGroup.objects.get().count == 1
    # Without the header the resent alert is a repeat: counted on its ticket.
    repeat = monitor.post(ALERTS, DISK, format="json")
    assert repeat.json()["alerts"][0]["count"] == 2


def test_a_repeat_adds_to_the_open_ticket_instead_of_opening_another(monitor, integration):
    monitor.post(ALERTS, DISK, format="json")
    changed = {**DISK, "description": "/var is at 100 %"}
    response = monitor.post(ALERTS, changed, format="json")
    (result,) = response.json()["alerts"]
    ticket = Ticket.objects.get()
    assert result["action"] == "appended" and result["count"] == 2
    assert result["ticket"] == ticket.reference
    assert AlertGroup.objects.get().count == 2
    message = Message.objects.get(ticket=ticket)
    assert message.kind == Message.Kind.CUSTOMER
    assert message.author_name == "Prometheus"
    assert message.body.startswith("Disk full on db-1") and "100 %" in message.body
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
    assert event.actor == integration[0].account.user


def test_identical_repeats_are_counted_and_noted_at_most_every_interval(integration):
    obj = Integration.objects.select_related("account__user", "team").get(pk=integration[0].pk)
    alert = Alert(dedup_key="k", firing=True, summary="Same")
    start = timezone.now()
    for minutes in (0, 1, 2, 3):
        services.alerts_ingest(
            integration=obj, alerts=[alert], now=start + dt.timedelta(minutes=minutes)
        )
    ticket = Ticket.objects.get()
    assert AlertGroup.objects.get().count == 4
    assert ticket.messages.count() == 0  # the storm is counted, not written out
    later = start + services.REPEAT_NOTE_INTERVAL + dt.timedelta(minutes=1)
    (outcome,) = services.alerts_ingest(integration=obj, alerts=[alert], now=later)
    assert (outcome.action, outcome.count) == ("appended", 5)
    assert ticket.messages.count() == 1
    assert AlertGroup.objects.get().noted_at == later


def test_resolved_resolves_the_ticket_and_a_new_trigger_opens_a_new_one(monitor, integration):
    monitor.post(ALERTS, DISK, format="json")
    resolved = monitor.post(ALERTS, {**DISK, "action": "resolve"}, format="json").json()
    first = Ticket.objects.get()
    assert resolved["alerts"][0]["action"] == "resolved"
    assert first.status == Ticket.Status.RESOLVED
    transition = TicketEvent.objects.get(ticket=first, kind=TicketEvent.Kind.TRANSITIONED)
    assert transition.actor == integration[0].account.user
    assert transition.payload["to"] == "resolved"
    group = AlertGroup.objects.get()
    assert not group.is_open and group.resolved_at is not None
    # Alertmanager resends "resolved": nothing happens.
    again = monitor.post(ALERTS, {**DISK, "action": "resolve"}, format="json").json()
    assert again["alerts"][0] == {
        "dedup_key": DISK["dedup_key"],
        "action": "ignored",
        "ticket": None,
        "count": 0,
    }
    assert first.messages.count() == 1  # the resolution, on the timeline
    # It fires again later: a new incident.
    monitor.post(ALERTS, DISK, format="json")
    assert Ticket.objects.count() == 2
    assert AlertGroup.objects.filter(is_open=True).count() == 1


def test_without_resolve_tickets_a_resolved_alert_only_adds_a_message(team_a):
    _integration, secret = make_integration(team_a, resolve_tickets=False)
    client = alert_client(secret)
    client.post(ALERTS, DISK, format="json")
    body = client.post(ALERTS, {**DISK, "action": "resolve"}, format="json").json()
    ticket = Ticket.objects.get()
    assert body["alerts"][0]["action"] == "noted"
    assert ticket.status == Ticket.Status.NEW
    assert ticket.messages.count() == 1


def test_a_ticket_resolved_by_an_agent_while_the_alert_fires_gets_a_new_ticket(monitor, agent):
    from tickets import services as ticket_services

    monitor.post(ALERTS, DISK, format="json")
    ticket = Ticket.objects.get()
    ticket_services.ticket_transition(ticket=ticket, actor=agent, name="resolve")
    body = monitor.post(ALERTS, DISK, format="json").json()
    assert body["alerts"][0]["action"] == "created"
    assert body["alerts"][0]["ticket"] != ticket.reference
    assert AlertGroup.objects.filter(is_open=False, ticket=ticket).exists()


def test_alertmanager_payload_as_sent(monitor):
    first = monitor.post(ALERTS, alertmanager(), format="json")
    assert first.status_code == 200, first.content
    ticket = Ticket.objects.get()
    assert first.json()["alerts"][0]["dedup_key"] == "a1b2c3d4e5f6"
    assert ticket.subject == "Latency above 2 s on web-1"
    assert (ticket.impact, ticket.urgency) == (3, 2)  # "warning" in the default mapping
    assert "https://rb/1" in ticket.description
    # repeat_interval: the same group again.
    again = monitor.post(ALERTS, alertmanager(), format="json").json()
    assert again["alerts"][0]["action"] == "appended"
    assert again["alerts"][0]["count"] == 2
    done = monitor.post(ALERTS, alertmanager("resolved"), format="json").json()
    assert done["alerts"][0]["action"] == "resolved"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED


def test_alertmanager_group_with_several_alerts_opens_one_ticket_each(monitor):
    payload = alertmanager()
    second = copy.deepcopy(payload["alerts"][0])
    second["fingerprint"] = "ffff"
    second["labels"]["instance"] = "web-2"
    second["labels"]["severity"] = "page-me"  # not in the mapping: the integration's defaults
    del second["annotations"]["summary"]
    payload["alerts"].append(second)
    body = monitor.post(ALERTS, payload, format="json").json()
    assert [a["action"] for a in body["alerts"]] == ["created", "created"]
    unmapped = Ticket.objects.get(reference=body["alerts"][1]["ticket"])
    assert unmapped.subject == "HighLatency web-2"
    assert (unmapped.impact, unmapped.urgency) == (3, 3)


def test_without_fingerprint_the_group_key_and_labels_make_the_key(monitor):
    payload = alertmanager()
    del payload["alerts"][0]["fingerprint"]
    one = monitor.post(ALERTS, payload, format="json").json()["alerts"][0]
    two = monitor.post(ALERTS, payload, format="json").json()["alerts"][0]
    assert len(one["dedup_key"]) == 64
    assert (two["dedup_key"], two["action"]) == (one["dedup_key"], "appended")


def test_the_alert_ticket_follows_the_ticket_rules_for_readers(
    monitor, team_a, team_b, agent, other_agent
):
    reference = monitor.post(ALERTS, DISK, format="json").json()["alerts"][0]["ticket"]
    assert client_for(agent).get(f"/api/v1/tickets/{reference}/").status_code == 200
    assert client_for(other_agent).get(f"/api/v1/tickets/{reference}/").status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "Bearer hdi_wrong", "Bearer", "Bearer a b", "Basic YWdlbnQ6cHc=", "Bearer h\u00e9"],
)
def test_without_a_valid_integration_token_it_is_a_401(integration, header):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    response = client.post(ALERTS, DISK, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert Ticket.objects.count() == 0


def test_a_user_token_is_not_an_integration_token(agent, team_a, integration):
    response = client_for(agent).post(ALERTS, DISK, format="json")
    assert response.status_code == 401
    assert Ticket.objects.count() == 0


def test_inactive_integration_and_rotated_token_are_refused(integration):
    obj, secret = integration
    new_secret = services.integration_rotate_token(integration=obj)
    assert alert_client(secret).post(ALERTS, DISK, format="json").status_code == 401
    assert alert_client(new_secret).post(ALERTS, DISK, format="json").status_code == 200
    obj.refresh_from_db()
    obj.is_active = False  # as the admin does (a save: the cached integrations are read anew)
    obj.save()
    assert alert_client(new_secret).post(ALERTS, DISK, format="json").status_code == 401
    assert Integration.objects.get(pk=obj.pk).token_digest == services.token_digest(new_secret)


def test_only_the_digest_of_the_token_is_stored(integration):
    obj, secret = integration
    obj.refresh_from_db()
    assert secret.startswith("hdi_")
    assert secret not in (obj.token_digest, obj.token_prefix)
    assert obj.token_digest == services.token_digest(secret)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**DISK, "dedup_key": ""}, "dedup_key"),
        ({**DISK, "action": "explode"}, "action"),
        ({**DISK, "summary": ""}, "summary"),
        ({**DISK, "summary": "x" * 201}, "summary"),
        ({**DISK, "labels": {"a\u0000": "b"}}, "labels"),
        ({**DISK, "labels": {"a": {"nested": 1}}}, "labels"),
        ({**DISK, "summary": "nul\u0000"}, "summary"),
        ({"version": "3", "alerts": []}, "version"),
        ({"version": "4", "alerts": [{"status": "burning"}]}, "alerts"),
        ({"version": "4"}, "alerts"),
    ],
)
def test_bad_alerts_are_400_with_field_errors(monitor, payload, field):
    response = monitor.post(ALERTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize("raw", [b"[1, 2]", b"{not json", b'"text"'])
def test_malformed_bodies_are_400(monitor, raw):
    response = monitor.post(ALERTS, raw, content_type="application/json")
    assert response.status_code == 400


def test_an_inactive_team_is_a_400_and_nothing_is_kept(integration, team_a, monitor):
    team_a.is_active = False
    team_a.save()
    response = monitor.post(ALERTS, DISK, format="json")
    assert response.status_code == 400
    assert AlertGroup.objects.count() == 0


def test_a_repeat_costs_a_bounded_number_of_queries(monitor, django_assert_max_num_queries):
    monitor.post(ALERTS, DISK, format="json")
    with django_assert_max_num_queries(40):
        assert monitor.post(ALERTS, DISK, format="json").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_identical_alerts_open_one_ticket(team_a, agent):
    integration, _secret = make_integration(team_a)
    alert = Alert(dedup_key="same", firing=True, summary="Same alert")
    barrier = threading.Barrier(4)
    outcomes, errors = [], []

    def post() -> None:
        try:
            barrier.wait()
            outcomes.append(
                services.alerts_ingest(
                    integration=Integration.objects.get(pk=integration.pk), alerts=[alert]
                )[0]
            )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Ticket.objects.count() == 1
    assert sorted(o.action for o in outcomes) == ["appended", "appended", "appended", "created"]
    assert sorted(o.count for o in outcomes) == [1, 2, 3, 4]
    group = AlertGroup.objects.get()
    assert group.count == 4 and group.ticket == Ticket.objects.get()


def test_an_integration_whose_account_is_deactivated_is_refused(integration):
    obj, secret = integration
    user = obj.account.user
    user.is_active = False
    user.save()
    assert alert_client(secret).post(ALERTS, DISK, format="json").status_code == 401
    assert Ticket.objects.count() == 0


def test_an_admins_personal_token_is_no_integration_token(integration):
    from tests.factories import AdminFactory

    response = client_for(AdminFactory()).post(ALERTS, DISK, format="json")
    assert response.status_code == 401


def test_the_alert_endpoint_takes_only_post(monitor):
    assert monitor.get(ALERTS).status_code == 405


def test_a_huge_body_is_refused_without_a_server_error(monitor):
    huge = {**DISK, "description": "x" * 3_000_000}
    response = monitor.post(ALERTS, huge, format="json")
    assert 400 <= response.status_code < 500
    assert Ticket.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_integration_is_read_once_per_process_and_again_after_a_change(team_a):
    """The token lookup is served from the configuration cache: no statement on the
    integrations once read; a change of the integration or of its account's user is seen at
    the next request."""
    from django.test.utils import CaptureQueriesContext

    integration, secret = make_integration(team_a)
    client = alert_client(secret)
    assert client.post(ALERTS, DISK, format="json").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.post(ALERTS, DISK, format="json").status_code == 200
    table = Integration._meta.db_table
    assert not [q for q in queries.captured_queries if f'FROM "{table}"' in q["sql"]]
    user = integration.account.user
    user.is_active = False
    user.save()
    assert client.post(ALERTS, DISK, format="json").status_code == 401
    user.is_active = True
    user.save()
    assert client.post(ALERTS, DISK, format="json").status_code == 200
    new_secret = services.integration_rotate_token(integration=integration)
    assert client.post(ALERTS, DISK, format="json").status_code == 401
    assert alert_client(new_secret).post(ALERTS, DISK, format="json").status_code == 200
