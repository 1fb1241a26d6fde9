"""Webhook transport: which addresses may be reached (also when an IPv6 form wraps a private
IPv4 address) and the one deadline for a whole request, however slowly a receiver answers."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from notifications import outbox, webhooks
from notifications.addresses import embedded_ipv4, is_forbidden_target
from notifications.models import Delivery, WebhookEndpoint
from tests.notifications.test_outbox import webhook_delivery

REFUSED = [
    # The usual ranges.
    "127.0.0.1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "0.0.0.0",  # noqa: S104 - an address refused, not bound
    "192.0.2.1",  # documentation
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",  # site-local (deprecated)
    "ff02::1",
    "2001:db8::1",
    "100::1",  # discard-only
    # 6to4 (2002::/16) embedding 169.254.169.254, 127.0.0.1, 10.0.0.1, 192.168.0.1.
    "2002:a9fe:a9fe::1",
    "2002:7f00:1::1",
    "2002:a00:1::",
    "2002:c0a8:1:1::1",
    # NAT64, well-known prefix (64:ff9b::/96) with private IPv4, and the local-use prefix.
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::127.0.0.1",
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::8.8.8.8",
    # IPv4-mapped (::ffff:0:0/96).
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    # IPv4-compatible (::/96, deprecated).
    "::127.0.0.1",
    "::169.254.169.254",
    "::10.0.0.1",
    "::8.8.8.8",
    # Teredo (2001::/32): server 65.54.227.120, obfuscated client 192.0.2.45 / 127.0.0.1,
    # and a private server with a public client.
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",
]
ALLOWED = [
    "8.8.8.8",
    "93.184.215.14",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::8.8.8.8",  # NAT64 of 8.8.8.8
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_and_their_ipv6_wrappings_are_refused(address):
    assert is_forbidden_target(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_and_their_ipv6_wrappings_pass(address):
    assert not is_forbidden_target(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("2002:a9fe:a9fe::1", ["169.254.169.254"]),
        ("64:ff9b::a9fe:a9fe", ["169.254.169.254"]),
        ("::ffff:a9fe:a9fe", ["169.254.169.254"]),
        ("::a9fe:a9fe", ["169.254.169.254"]),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", ["65.54.227.120", "192.0.2.45"]),
        ("2606:4700:4700::1111", []),
    ],
)
def test_embedded_ipv4_unwraps_every_form(address, embedded):
    assert [str(a) for a in embedded_ipv4(ipaddress.ip_address(address))] == embedded


def test_a_6to4_name_for_the_metadata_address_is_refused_when_sending(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **kw: [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2002:a9fe:a9fe::1", 443, 0, 0))
        ],
    )
    with pytest.raises(webhooks.TargetRefused):
        webhooks.resolve_target("hooks.example.com", 443)


@pytest.mark.django_db
def test_the_admin_form_refuses_a_literal_6to4_url():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        WebhookEndpoint(url="http://[2002:a9fe:a9fe::1]/hook").full_clean()


class Trickler:
    """A receiver on 127.0.0.1 that reads the request, then answers a valid response one byte
    every `pause` seconds; counts what it got out before the client hung up."""

    RESPONSE = b"HTTP/1.1 204 No Content\r\nX-Pad: " + b"a" * 60 + b"\r\nContent-Length: 0\r\n\r\n"

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.sent = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            for i in range(len(self.RESPONSE)):
                try:
                    conn.sendall(self.RESPONSE[i : i + 1])
                except OSError:
                    return  # the client hung up
                self.sent += 1
                time.sleep(self.pause)

    def close(self) -> None:
        self.thread.join(30)
        self.listener.close()


@pytest.mark.django_db
def test_a_trickling_receiver_is_cut_off_at_the_deadline(settings):
    # Each byte comes well within the 1 s deadline, so a per-read timeout would wait for all
    # of them (16 s); the deadline covers the whole request.
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    trickler = Trickler(pause=0.2)
    try:
        endpoint = WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{trickler.port}/hook")
        delivery = webhook_delivery(endpoint)
        outcome = outbox.deliver(delivery.pk)
    finally:
        trickler.close()
    assert outcome.status == Delivery.Status.PENDING  # retried later
    delivery.refresh_from_db()
    assert "timed out" in delivery.last_error
    assert delivery.attempt_log.get().ok is False
    assert trickler.sent < len(Trickler.RESPONSE) // 2


def test_a_passed_deadline_refuses_to_read_again():
    deadline = webhooks.Deadline(0.0)
    with pytest.raises(TimeoutError, match="timed out"):
        deadline.remaining()
