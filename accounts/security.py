"""Request facts that sign-in throttling relies on, settings-driven and free of views."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address a login attempt came from, for django-axes' per-IP lock-out.

    Behind the reverse proxy (BEHIND_PROXY=true) every request comes from the proxy, so the
    client is the last address the proxy appended to X-Forwarded-For; helpdesk.proxy has
    already dropped that header from any sender that is not a trusted proxy. Without a proxy
    the header is ignored: clients could write anything into it.
    """
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
