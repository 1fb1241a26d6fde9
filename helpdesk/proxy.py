"""Trust forwarded headers only from the reverse proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class TrustedProxyMiddleware:
    """Drop X-Forwarded-Proto/-For unless the request comes from a trusted proxy address.

    Django trusts X-Forwarded-Proto for "is this HTTPS?" (SECURE_PROXY_SSL_HEADER, on with
    BEHIND_PROXY=true) and the sign-in lock-out reads the client from X-Forwarded-For. Both
    are only believable when the proxy wrote them: FORWARDED_ALLOW_IPS (the same variable
    gunicorn reads) lists the proxy's addresses or networks. Runs first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.networks = [
            ipaddress.ip_network(item, strict=False) for item in settings.FORWARDED_ALLOW_IPS
        ]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._trusted(request.META.get("REMOTE_ADDR", "")):
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
            request.META.pop("HTTP_X_FORWARDED_FOR", None)
        return self.get_response(request)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)
