"""Webhooks: typed events with a stable payload, Standard Webhooks signatures, 410 unsubscribes,
private targets refused (also after DNS resolution)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading

import pytest
from django.core.exceptions import ValidationError

from escalation import services as esc
from escalation import sweep as sweeping
from notifications import outbox, webhooks
from notifications.models import Delivery, EventType, WebhookEndpoint
from tests.escalation.test_services import MON_9, Chain, package
from tests.notifications.conftest import verify_standard_webhook
from tickets import services

S = Delivery.Status
T1 = MON_9 + dt.timedelta(minutes=5)
pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db) -> Chain:
    return Chain()


def events_of(type_: str) -> list[dict]:
    return [d.payload for d in Delivery.objects.filter(kind=type_).order_by("pk")]


@pytest.fixture
def everything(db) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(url="https://crm.example.com/hooks")


class TestPayload:
    def test_ticket_lifecycle_maps_to_typed_events(self, chain, everything):
        ticket = chain.ticket()
        agent, lead = chain.agents[0], chain.leads[0]
        services.ticket_assign(ticket=ticket, actor=lead, assignee=agent, reason="yours", now=T1)
        services.ticket_reply(ticket=ticket, actor=agent, body="We are on it.", now=T1)
        services.ticket_add_note(ticket=ticket, actor=agent, body="SECRET internal guess", now=T1)
        services.ticket_transition(ticket=ticket, actor=agent, name="resolve", now=T1)

        types = list(
            Delivery.objects.filter(channel="webhook").order_by("pk").values_list("kind", flat=True)
        )
        assert types == [
            "ticket.created",
            "ticket.updated",
            "ticket.message",
            "ticket.transitioned",
        ]
        created = events_of("ticket.created")[0]
        assert set(created) == {"id", "type", "timestamp", "data"}
        assert created["type"] == "ticket.created"
        # The API's ticket (api.serializers) with the keys of the first payload version.
        assert (
            created["data"]["ticket"].items()
            >= {
                "reference": ticket.reference,
                "subject": "Checkout fails",
                "status": "new",
                "priority": 3,
                "team": "L1",
                "level": 1,
                "assignee": None,
                "major_incident": False,
                "url": f"http://127.0.0.1:8000/tickets/{ticket.reference}/",
            }.items()
        )
        assert {"sla", "escalation", "impact", "urgency", "customer"} <= set(
            created["data"]["ticket"]
        )
        assert created["data"]["actor"] == "agent1"
        updated = events_of("ticket.updated")[0]["data"]
        assert (updated["field"], updated["to"], updated["reason"]) == (
            "assignee",
            agent.get_full_name(),
            "yours",
        )
        assert updated["ticket"]["assignee"] == "agent1"
        message = events_of("ticket.message")[0]["data"]["message"]
        assert (message["kind"], message["body"]) == ("reply", "We are on it.")
        transitioned = events_of("ticket.transitioned")[0]["data"]
        assert (transitioned["from"], transitioned["to"]) == ("new", "resolved")
        # Internal notes are never published, not even their existence.
        assert "SECRET" not in json.dumps([d.payload for d in Delivery.objects.all()])

    def test_escalation_events_carry_the_hand_off(self, chain, everything):
        ticket = chain.ticket()
        escalation = esc.escalation_raise(
            ticket=ticket, actor=chain.agents[0], kind="hierarchical", package=package(), now=T1
        )
        esc.escalation_acknowledge(escalation=escalation, actor=chain.agents[1], now=T1)
        ticket.refresh_from_db()
        esc.escalation_deescalate(
            ticket=ticket, actor=chain.leads[1], to_team=chain.teams[0], reason="Back", now=T1
        )
        raised = events_of("escalation.raised")[0]["data"]["escalation"]
        assert raised == {
            "id": escalation.pk,
            "kind": "hierarchical",
            "trigger": "manual",
            "rule": None,
            "reason": "manual escalation",
            "from_team": "L1",
            "to_team": "L2",
            "from_level": 1,
            "to_level": 2,
        }
        acknowledged = events_of("escalation.acknowledged")[0]["data"]
        assert acknowledged["escalation"] == {"id": escalation.pk, "team": "L2"}
        assert acknowledged["actor"] == "agent2"
        back = events_of("escalation.deescalated")[0]["data"]["escalation"]
        assert (back["from_team"], back["to_team"], back["reason"]) == ("L2", "L1", "Back")

    def test_sla_events_are_published(self, chain, everything):
        chain.ticket()
        sweeping.sweep(now=MON_9 + dt.timedelta(hours=3, minutes=1))  # 75 % of the 4 h response
        warning = events_of("sla.warning")[0]["data"]["sla"]
        assert warning["target"] == "first_response"
        assert warning["due_at"].startswith("2026-03-02T12:00:00")  # 13:00 Berlin, in UTC

    def test_event_types_cover_the_documented_list(self):
        published = set(webhooks.EVENT_TYPES.values()) | webhooks.OTHER_EVENT_TYPES
        assert published == set(EventType.values)
        assert not set(webhooks.EVENT_TYPES.values()) & webhooks.OTHER_EVENT_TYPES


class TestSigning:
    def test_signature_verifies_per_standard_webhooks(self, agent, team_a, receiver, allow_private):
        endpoint = WebhookEndpoint.objects.create(url=receiver.url)
        services.ticket_create(
            actor=agent, data=services.NewTicket(subject="Hello", description="", team=team_a)
        )
        delivery = Delivery.objects.get()
        assert outbox.deliver(delivery.pk).status == S.SENT
        (request,) = receiver.received
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"] == delivery.event_id
        assert verify_standard_webhook(endpoint.secret, request.headers, request.body)
        assert json.loads(request.body) == delivery.payload
        # Another secret, or a changed body, does not verify.
        other = WebhookEndpoint(url=receiver.url).secret
        assert not verify_standard_webhook(other, request.headers, request.body)
        assert not verify_standard_webhook(endpoint.secret, request.headers, request.body + b" ")

    def test_known_answer(self):
        # Computed independently: HMAC-SHA256(key=b"0"*32, b"msg_1.1700000000.{}")
        secret = "whsec_MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="
        assert webhooks.sign(secret, "msg_1", 1700000000, b"{}") == (
            "v1,9DY6+WdH9pdf4TOuH8p/6He6iTUAg0yiM5huvGJWsUY="
        )

    def test_secrets_are_whsec_base64(self):
        endpoint = WebhookEndpoint(url="https://example.com/")
        assert endpoint.secret.startswith("whsec_")
        assert endpoint.secret != WebhookEndpoint(url="https://example.com/").secret
        endpoint.secret = "whsec_tooshort"
        with pytest.raises(ValidationError):
            endpoint.full_clean()


class TestReceiverAnswers:
    def test_410_gone_disables_the_endpoint_and_cancels_what_waits(
        self, receiver, allow_private, db
    ):
        from tests.notifications.test_outbox import webhook_delivery

        receiver.responses = [410]
        endpoint = WebhookEndpoint.objects.create(url=receiver.url)
        first = webhook_delivery(endpoint)
        waiting = webhook_delivery(endpoint)
        assert outbox.deliver(first.pk).status == S.FAILED
        endpoint.refresh_from_db()
        assert not endpoint.is_active
        assert "410" in endpoint.disabled_reason
        assert Delivery.objects.get(pk=waiting.pk).status == S.CANCELLED
        assert outbox.deliver(waiting.pk).status == "skipped"
        assert len(receiver.received) == 1

    def test_a_timeout_is_retried(self, allow_private, settings, db):
        from tests.notifications.test_outbox import webhook_delivery

        settings.WEBHOOKS_TIMEOUT_SECONDS = 0.3
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        try:
            port = silent.getsockname()[1]
            endpoint = WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{port}/")
            delivery = webhook_delivery(endpoint)
            assert outbox.deliver(delivery.pk).status == S.PENDING
        finally:
            silent.close()
        delivery.refresh_from_db()
        assert "timed out" in delivery.last_error.lower()


def loopback_connection(port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to 127.0.0.1 that asks no resolver (getaddrinfo is faked here)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


class TestPrivateTargets:
    def test_loopback_is_refused_without_the_setting_and_nothing_is_sent(self, receiver, db):
        from tests.notifications.test_outbox import webhook_delivery

        endpoint = WebhookEndpoint.objects.create(url=receiver.url)
        delivery = webhook_delivery(endpoint)
        assert outbox.deliver(delivery.pk).status == S.FAILED  # no retry: it stays refused
        delivery.refresh_from_db()
        assert "refused" in delivery.last_error
        assert receiver.received == []

    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.5",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",  # noqa: S104 - an address refused, not bound
            "100.64.0.1",
        ],
    )
    def test_names_resolving_to_internal_addresses_are_refused(self, monkeypatch, address):
        # DNS rebinding: a public-looking name that resolves to an internal address at send
        # time is refused, whatever it resolved to when the endpoint was saved.
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        monkeypatch.setattr(
            socket,
            "getaddrinfo",
            lambda *a, **kw: [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)),
                (family, socket.SOCK_STREAM, 6, "", (address, 443)),
            ],
        )
        with pytest.raises(webhooks.TargetRefused):
            webhooks.resolve_target("hooks.example.com", 443)

    def test_public_addresses_pass(self, monkeypatch):
        monkeypatch.setattr(
            socket,
            "getaddrinfo",
            lambda *a, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))],
        )
        assert webhooks.resolve_target("hooks.example.com", 443) == ["93.184.215.14"]

    def test_the_connection_goes_to_the_checked_address(self, monkeypatch, receiver):
        # DNS rebinding: the name first resolves to a public address (which passes the check),
        # then to 127.0.0.1. The socket must connect to the checked address, never look the
        # name up again; the Host header still carries the name.
        answers = iter(["93.184.215.14", "127.0.0.1"])
        lookups: list[str] = []

        def getaddrinfo(host, port, *args, **kwargs):
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

        port = receiver.server.server_address[1]
        connected_to: list[tuple[str, int]] = []

        def create_connection(address, timeout=None, *args, **kwargs):
            # The network stand-in: "93.184.215.14" is the receiver; a name is looked up
            # (the second answer, 127.0.0.1, is the receiver too, so only this record tells).
            host, port = address
            connected_to.append((host, port))
            if host != "93.184.215.14":
                getaddrinfo(host, port)
            return loopback_connection(port, timeout)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)
        endpoint = WebhookEndpoint(
            url=f"http://hooks.example.com:{port}/in", secret=WebhookEndpoint().secret
        )
        delivery = Delivery(event_id="evt_x", payload={"a": 1})
        result = webhooks.post(endpoint, delivery)
        assert result.ok
        assert connected_to == [("93.184.215.14", port)]
        assert lookups == ["hooks.example.com"]
        assert receiver.received[0].headers["host"] == f"hooks.example.com:{port}"

    def test_tls_goes_to_the_checked_address_with_the_name_in_sni(self, monkeypatch):
        # A TCP listener records the TLS ClientHello (SNI is in clear text) and hangs up.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        hello: list[bytes] = []

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                hello.append(conn.recv(4096))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        monkeypatch.setattr(
            socket,
            "getaddrinfo",
            lambda *a, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))],
        )
        connected_to: list[str] = []

        def create_connection(address, timeout=None, *args, **kwargs):
            connected_to.append(address[0])
            return loopback_connection(port, timeout)

        monkeypatch.setattr(socket, "create_connection", create_connection)
        endpoint = WebhookEndpoint(
            url=f"https://hooks.example.com:{port}/in", secret=WebhookEndpoint().secret
        )
        try:
            result = webhooks.post(endpoint, Delivery(event_id="evt_x", payload={"a": 1}))
        finally:
            thread.join(5)
            listener.close()
        assert not result.ok
        assert connected_to == ["93.184.215.14"]
        assert b"hooks.example.com" in hello[0]

    def test_the_admin_form_refuses_literal_private_urls(self, settings):
        endpoint = WebhookEndpoint(url="http://192.168.0.10/hook")
        with pytest.raises(ValidationError) as error:
            endpoint.full_clean()
        assert "url" in error.value.message_dict
        settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
        endpoint.full_clean()

    def test_unknown_event_types_are_refused(self):
        endpoint = WebhookEndpoint(url="https://example.com/", event_types=["ticket.exploded"])
        with pytest.raises(ValidationError):
            endpoint.full_clean()
