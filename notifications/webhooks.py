"""Webhooks: typed events from the ticket timeline, signed per Standard Webhooks, posted only
to public addresses.

Payload (stable; new keys may be added, none are renamed or removed)::

    {
      "id": "evt_3f2a…",                 # the event id; also the webhook-id header
      "type": "escalation.raised",        # one of `EventType`
      "timestamp": "2026-03-02T08:15:00.000000+00:00",   # when it happened (UTC, ISO 8601)
      "data": {
        "ticket": {                       # the API's ticket (GET /api/v1/tickets/{reference}/,
                                          # without `transitions`, `version` and
                                          # `escalation.open_escalation`), plus these keys:
          "reference": "HD-2026-000123", "subject": "…", "status": "open",
          "priority": 1,                  # 1 = Sev 1 … 4 = Sev 4
          "team": "L2", "level": 2,       # support level rank
          "assignee": "jdoe" | null,      # username
          "major_incident": false,
          "url": "https://helpdesk.example.com/tickets/HD-2026-000123/"
        },
        "actor": "jdoe" | null,           # who caused it; null for the system
        …event specifics, by type:
      }
    }

Event specifics:

- ``ticket.created``: ``channel``.
- ``ticket.updated``: ``field`` (``assignee`` | ``team`` | ``level`` | ``priority`` |
  ``major_incident``), ``from``, ``to``, ``reason``. Priority values are objects
  ``{"priority", "impact", "urgency"}``; assignee values are display names or null.
- ``ticket.transitioned``: ``from``, ``to`` (statuses), ``transition`` (name or null),
  ``automatic`` (true when a customer message moved the ticket).
- ``ticket.message``: ``message`` {``id``, ``kind`` (``reply`` | ``customer``), ``author``,
  ``body``, ``created_at``}. Internal notes are never sent.
- ``sla.warning``, ``sla.breached``: ``sla`` {``target`` (``first_response`` |
  ``next_update`` | ``resolution``), ``due_at``, ``at``}.
- ``escalation.raised``: ``escalation`` {``id``, ``kind``, ``trigger``, ``rule``, ``reason``,
  ``from_team``, ``to_team``, ``from_level``, ``to_level``}.
- ``escalation.acknowledged``: ``escalation`` {``id``, ``team``}.
- ``escalation.deescalated``: ``escalation`` {``id``, ``from_team``, ``to_team``, ``reason``}.

Events of major incidents and services (published by ``incidents``, without ``data.ticket``;
see docs/incidents.md): ``incident.declared``, ``incident.updated`` (``incident``,
``update``), ``incident.resolved`` (``incident``), ``service.status_changed`` (``service``,
``from``, ``to``, ``incident``).

Headers on every POST: ``webhook-id`` (the event id, the same on every retry),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``:
``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) where the key is the base64
part of the endpoint's ``whsec_`` secret. Receivers answer 2xx to accept; 410 Gone
unsubscribes (the endpoint is disabled); anything else, or no answer within
``WEBHOOKS_TIMEOUT_SECONDS``, is retried with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from helpdesk import configcache
from notifications.addresses import is_forbidden_target
from notifications.models import Delivery, EventType, WebhookEndpoint
from tickets.models import Ticket, TicketEvent

E = TicketEvent.Kind

# Timeline kinds that are `ticket.updated`, with the field they change.
UPDATED_FIELDS = {
    E.ASSIGNED: "assignee",
    E.TEAM_CHANGED: "team",
    E.LEVEL_CHANGED: "level",
    E.PRIORITY_CHANGED: "priority",
    E.MAJOR_INCIDENT: "major_incident",
}
EVENT_TYPES = {
    E.CREATED: EventType.TICKET_CREATED,
    **dict.fromkeys(UPDATED_FIELDS, EventType.TICKET_UPDATED),
    E.TRANSITIONED: EventType.TICKET_TRANSITIONED,
    E.REPLIED: EventType.TICKET_MESSAGE,
    E.CUSTOMER_MESSAGE: EventType.TICKET_MESSAGE,
    E.SLA_WARNING: EventType.SLA_WARNING,
    E.SLA_BREACH: EventType.SLA_BREACHED,
    E.ESCALATED: EventType.ESCALATION_RAISED,
    E.ACKNOWLEDGED: EventType.ESCALATION_ACKNOWLEDGED,
    E.DE_ESCALATED: EventType.ESCALATION_DEESCALATED,
}

# Event types that are not timeline entries of a ticket (`incidents.services.publish`).
OTHER_EVENT_TYPES = frozenset(
    {
        EventType.INCIDENT_DECLARED,
        EventType.INCIDENT_UPDATED,
        EventType.INCIDENT_RESOLVED,
        EventType.SERVICE_STATUS_CHANGED,
    }
)

USER_AGENT = "Helpdesk-Webhooks/1"
MAX_ERROR_BODY = 500


def event_type_for(event: TicketEvent) -> str | None:
    """The webhook event type of a timeline entry, or None when it is not published
    (internal notes, following, recomputations)."""
    return EVENT_TYPES.get(event.kind)


# The API's ticket representation (`api.serializers.ticket_representation`), registered by
# the api app in its ready(): notifications does not import the API above it.
TicketRepresentation = Callable[[Ticket], dict[str, Any]]
_ticket_representations: list[TicketRepresentation] = []


def register_ticket_representation(representation: TicketRepresentation) -> None:
    """Make `representation` the `ticket` of every webhook payload (the last one wins)."""
    _ticket_representations[:] = [representation]


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    """The payload's `ticket`: the API's representation of the ticket when the API is
    installed, with `url`, and the flat keys of the first payload version (`team`, `level`,
    `assignee`, `major_incident`) that receivers written against it still read."""
    data = _ticket_representations[0](ticket) if _ticket_representations else {}
    return {
        **data,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "team": ticket.team.name,
        "level": ticket.level.rank,
        "assignee": ticket.assignee.get_username() if ticket.assignee_id else None,
        "major_incident": ticket.is_major_incident,
        "url": settings.SITE_URL + ticket.get_absolute_url(),
    }


def _specifics(event: TicketEvent, event_type: str) -> dict[str, Any]:
    p = event.payload
    match event_type:
        case EventType.TICKET_CREATED:
            return {"channel": event.ticket.channel}
        case EventType.TICKET_UPDATED:
            if event.kind == E.MAJOR_INCIDENT:
                change = {"from": False, "to": True}
            else:
                change = {"from": p.get("from"), "to": p.get("to")}
            return {"field": UPDATED_FIELDS[event.kind], **change, "reason": p.get("reason", "")}
        case EventType.TICKET_TRANSITIONED:
            return {
                "from": p.get("from"),
                "to": p.get("to"),
                "transition": p.get("transition"),
                "automatic": bool(p.get("automatic")),
            }
        case EventType.TICKET_MESSAGE:
            message = event.message
            if message is None or not message.is_public:
                return {"message": None}
            return {
                "message": {
                    "id": message.pk,
                    "kind": message.kind,
                    "author": message.display_author,
                    "body": message.body,
                    "created_at": message.created_at.isoformat(),
                }
            }
        case EventType.SLA_WARNING | EventType.SLA_BREACHED:
            return {
                "sla": {"target": p.get("target"), "due_at": p.get("due_at"), "at": p.get("at")}
            }
        case EventType.ESCALATION_RAISED:
            keys = ("kind", "trigger", "rule", "reason", "from_team", "to_team")
            return {
                "escalation": {
                    "id": p.get("escalation"),
                    **{key: p.get(key) for key in keys},
                    "from_level": p.get("from_level"),
                    "to_level": p.get("to_level"),
                }
            }
        case EventType.ESCALATION_ACKNOWLEDGED:
            return {"escalation": {"id": p.get("escalation"), "team": p.get("team")}}
        case EventType.ESCALATION_DEESCALATED:
            return {
                "escalation": {
                    "id": p.get("escalation"),
                    "from_team": p.get("from_team"),
                    "to_team": p.get("to_team"),
                    "reason": p.get("reason", ""),
                }
            }
    return {}


def build_payload(event: TicketEvent, event_type: str, event_id: str) -> dict[str, Any]:
    """The JSON document for `event` (schema in the module docstring)."""
    return {
        "id": event_id,
        "type": event_type,
        "timestamp": event.created_at.astimezone(UTC).isoformat(),
        "data": {
            "ticket": ticket_data(event.ticket),
            "actor": event.actor.get_username() if event.actor_id else None,
            **_specifics(event, event_type),
        },
    }


def active_endpoints() -> list[WebhookEndpoint]:
    """The active endpoints, read once per process and kept until the configuration changes
    (`helpdesk.configcache`, watched in `NotificationsConfig.ready`). Shared: read only."""
    return list(
        configcache.cached(
            "notifications.endpoints", lambda: list(WebhookEndpoint.objects.filter(is_active=True))
        )
    )


@dataclass(frozen=True)
class WebhookEvent:
    """A timeline entry as published: its type, id and payload (taken when it happened) and
    the endpoints that subscribe to it."""

    event_type: str
    event_id: str
    payload: dict[str, Any]
    endpoints: list[WebhookEndpoint]

    def deliveries(self, event: TicketEvent) -> list[Delivery]:
        """One unsaved delivery per endpoint, for the saved `event`."""
        return [
            Delivery(
                channel=Delivery.Channel.WEBHOOK,
                kind=self.event_type,
                endpoint=endpoint,
                ticket=event.ticket,
                ticket_event=event,
                event_id=self.event_id,
                payload=self.payload,
                next_attempt_at=event.created_at,
                created_at=event.created_at,
            )
            for endpoint in self.endpoints
        ]


def publish(event: TicketEvent, endpoints: list[WebhookEndpoint]) -> WebhookEvent | None:
    """What `event` is published as, to which of the active `endpoints`; None when it is not
    published or nobody subscribes. The payload shows the ticket as it is now."""
    event_type = event_type_for(event)
    if event_type is None:
        return None
    subscribed = [e for e in endpoints if e.subscribes_to(event_type)]
    if not subscribed:
        return None
    event_id = f"evt_{uuid.uuid4().hex}"
    return WebhookEvent(
        event_type, event_id, build_payload(event, event_type, event_id), subscribed
    )


def publish_all(
    events: Sequence[TicketEvent], endpoints: list[WebhookEndpoint]
) -> list[WebhookEvent | None]:
    """`publish` for each of `events` (one list entry per event), building what their
    payloads share once: the subscribed endpoints per event type, the timestamp and actor
    per (time, actor), and the event type's own part per message (an incident update's
    thousand replies are one message body per language). Each payload is still its own
    dict with its own ticket and event id, equal to what `publish` gives."""
    subscribed: dict[str, list[WebhookEndpoint]] = {}
    stamps: dict[tuple[datetime, int | None], tuple[str, str | None]] = {}
    specifics: dict[tuple[str, int | None], dict[str, Any]] = {}
    published: list[WebhookEvent | None] = []
    for event in events:
        event_type = event_type_for(event)
        if event_type is None:
            published.append(None)
            continue
        if event_type not in subscribed:
            subscribed[event_type] = [e for e in endpoints if e.subscribes_to(event_type)]
        if not subscribed[event_type]:
            published.append(None)
            continue
        stamp_key = (event.created_at, event.actor_id)
        if stamp_key not in stamps:
            stamps[stamp_key] = (
                event.created_at.astimezone(UTC).isoformat(),
                event.actor.get_username() if event.actor_id else None,
            )
        timestamp, actor = stamps[stamp_key]
        shared = event_type == EventType.TICKET_MESSAGE and event.message is not None
        # A message's part depends on the message alone; the same text at the same time
        # by the same author is the same part, whichever ticket it is on.
        if shared:
            m = event.message
            key = (m.body, m.author_id, m.author_name, m.kind, m.created_at)
            if key not in specifics:
                specifics[key] = _specifics(event, event_type)
            part = {**specifics[key]}
            if part["message"] is not None:
                part["message"] = {**part["message"], "id": m.pk}
        else:
            part = _specifics(event, event_type)
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = {
            "id": event_id,
            "type": event_type,
            "timestamp": timestamp,
            "data": {"ticket": ticket_data(event.ticket), "actor": actor, **part},
        }
        published.append(WebhookEvent(event_type, event_id, payload, subscribed[event_type]))
    return published


def deliveries_for_event(event: TicketEvent) -> list[Delivery]:
    """Write one delivery per active endpoint subscribed to `event`'s type (caller's
    transaction). All share one event id; a retry or resend reuses it."""
    if event_type_for(event) is None:
        return []
    published = publish(event, active_endpoints())
    if published is None:
        return []
    return Delivery.objects.bulk_create(published.deliveries(event))


# --- Signing (Standard Webhooks) ---------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted and signed; deterministic, so every retry sends the same body."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for one attempt."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# --- Sending -----------------------------------------------------------------------------------


class TargetRefused(Exception):
    """The endpoint resolves to an address we do not post to."""


def resolve_target(host: str, port: int) -> list[str]:
    """The addresses to connect to for `host`. Raises TargetRefused when any of them lies in
    a private, loopback, link-local or otherwise non-public range (unless allowed by
    WEBHOOKS_ALLOW_PRIVATE_TARGETS), or when the name does not resolve.

    Called on every attempt and the connection is made to the checked address itself, so a
    name that re-resolves to an internal address later (DNS rebinding) is still refused.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise TargetRefused(f"{host} has no address")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        bad = [a for a in addresses if is_forbidden_target(ipaddress.ip_address(a))]
        if bad:
            raise TargetRefused(
                f"{host} resolves to a private, loopback or link-local address ({bad[0]}); "
                "refused (WEBHOOKS_ALLOW_PRIVATE_TARGETS is off)"
            )
    return addresses


class Deadline:
    """The instant (monotonic clock) by which a whole request must be done: connect, TLS
    handshake, sending and every read share it. A socket timeout alone bounds each read, so a
    receiver trickling a byte a second could hold a sender for minutes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises TimeoutError when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out: the receiver took longer than {self.seconds:g} s")
        return left


class _DeadlineMixin:
    """A socket that sets its timeout to what is left of its deadline before each read and
    write, and refuses to start one when the deadline has passed."""

    deadline: Deadline | None = None

    def _arm(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.remaining())  # type: ignore[attr-defined]

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        self._arm()
        return super().recv(*args, **kwargs)  # type: ignore[misc]

    def recv_into(self, *args: Any, **kwargs: Any) -> Any:
        self._arm()
        return super().recv_into(*args, **kwargs)  # type: ignore[misc]

    def send(self, *args: Any, **kwargs: Any) -> Any:
        self._arm()
        return super().send(*args, **kwargs)  # type: ignore[misc]

    def sendall(self, *args: Any, **kwargs: Any) -> Any:
        self._arm()
        return super().sendall(*args, **kwargs)  # type: ignore[misc]


class DeadlineSocket(_DeadlineMixin, socket.socket):
    """A plain TCP socket bound to a `Deadline`."""


class DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    """A TLS socket bound to a `Deadline` (its reads decrypt from the raw descriptor, so the
    plain socket's timeouts do not reach them)."""


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a checked address within a deadline; the Host header keeps the name."""

    def __init__(self, host: str, port: int, *, address: str, deadline: Deadline) -> None:
        super().__init__(host, port, timeout=deadline.seconds)
        self.address = address
        self.deadline = deadline

    def open_socket(self) -> DeadlineSocket:
        """Connect to the checked address (never to the name: it could resolve elsewhere)."""
        raw = socket.create_connection((self.address, self.port), self.deadline.remaining())
        sock = DeadlineSocket(fileno=raw.detach())
        sock.settimeout(self.deadline.remaining())  # a descriptor taken over starts non-blocking
        sock.deadline = self.deadline
        return sock

    def connect(self) -> None:
        self.sock = self.open_socket()


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """HTTPS to a checked address within a deadline; SNI and certificate verification use
    the name."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, host: str, port: int, *, address: str, deadline: Deadline) -> None:
        super().__init__(host, port, address=address, deadline=deadline)
        self.context = ssl.create_default_context()
        self.context.sslsocket_class = DeadlineSSLSocket

    def connect(self) -> None:
        sock = self.open_socket()
        sock.deadline = None
        sock.settimeout(self.deadline.remaining())  # the handshake
        tls = self.context.wrap_socket(sock, server_hostname=self.host)
        assert isinstance(tls, DeadlineSSLSocket)
        tls.deadline = self.deadline
        self.sock = tls


@dataclass(frozen=True)
class PostResult:
    status: int | None
    error: str = ""
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(endpoint: WebhookEndpoint, delivery: Delivery, now: datetime | None = None) -> PostResult:
    """POST the delivery's payload to its endpoint once, signed for this attempt."""
    now = now or timezone.now()
    parts = urlsplit(endpoint.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return PostResult(status=None, error=f"not an http(s) URL: {endpoint.url}", refused=True)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # WEBHOOKS_TIMEOUT_SECONDS bounds the whole attempt; it starts before the name lookup.
    deadline = Deadline(settings.WEBHOOKS_TIMEOUT_SECONDS)
    try:
        addresses = resolve_target(parts.hostname, port)
    except TargetRefused as exc:
        return PostResult(status=None, error=str(exc), refused=True)
    body = body_bytes(delivery.payload)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, delivery.event_id, timestamp, body),
    }
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = PinnedHTTPSConnection if parts.scheme == "https" else PinnedHTTPConnection
    connection = connection_class(parts.hostname, port, address=addresses[0], deadline=deadline)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        snippet = response.read(MAX_ERROR_BODY).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return PostResult(status=None, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return PostResult(status=response.status)
    return PostResult(
        status=response.status, error=f"HTTP {response.status} {response.reason}: {snippet}"
    )
