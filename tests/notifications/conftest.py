"""Fixtures for the notification tests: a real webhook receiver on 127.0.0.1, a verifier
written from the Standard Webhooks spec (not from our code), and a record of queued tasks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notifications import outbox


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server that answers POSTs with the queued status codes (then `default`)."""

    server: ThreadingHTTPServer
    responses: list[int] = field(default_factory=list)
    default: int = 204
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def answer(self) -> int:
        with self.lock:
            return self.responses.pop(0) if self.responses else self.default


def start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver = holder["r"]
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = holder["r"] = Receiver(server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def allow_private(settings):
    """The receiver listens on loopback, which production refuses."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True


def verify_standard_webhook(
    secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300
) -> bool:
    """Verify a request per https://www.standardwebhooks.com: HMAC-SHA256 over
    "{webhook-id}.{webhook-timestamp}.{body}" with the base64 key after "whsec_", compared in
    constant time with each space-separated "v1,<base64>" signature; stale timestamps fail."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for part in headers["webhook-signature"].split(" "):
        version, _, signature = part.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


@pytest.fixture
def queued(monkeypatch) -> list[tuple[int, object]]:
    """Stand-in for the broker: what would have been queued, as (delivery id, eta)."""
    calls: list[tuple[int, object]] = []

    def fake(delivery_id: int, *, eta=None, priority=outbox.NORMAL_PRIORITY) -> bool:
        calls.append((delivery_id, eta))
        return True

    monkeypatch.setattr(outbox, "enqueue", fake)
    return calls


@pytest.fixture(autouse=True)
def _broker_pause_forgotten():
    outbox.reset_broker_pause()
    yield
    outbox.reset_broker_pause()
