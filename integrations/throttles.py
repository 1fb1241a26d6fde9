"""Request rates for the API (DRF throttles; the rates are in REST_FRAMEWORK, from the
environment: see .env.example). A throttled request is a 429 problem with Retry-After
(`api.problems`).

- per user (`user`, DRF's UserRateThrottle; an anonymous caller per address);
- per token (`token`): each API token has its own budget, so one leaked or runaway script
  does not use up its owner's other tokens' — nor can it hide among them;
- stricter scopes by `throttle_scope`: `token_create` (making and revoking tokens), `alerts`
  (per integration, keyed by the integration rather than by its service account). A scope
  counts the requests that change something (not GET, HEAD, OPTIONS): listing one's tokens
  is not making them;
- `login`: sign-in attempts per address in the browser (`throttled_login` wraps the sign-in
  views), on top of the lock-out per account and address.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from math import ceil
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (requests made with a token only)."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token_key = getattr(request.auth, "token_key", None)
        if not token_key:
            return None  # not a token request: the per-user rate applies
        return self.cache_format % {"scope": self.scope, "ident": token_key}


class ScopeRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, keyed by the integration for alert intake (every integration's
    requests count against its own budget), else by user or address as DRF does."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = getattr(request.auth, "throttle_ident", None)  # an integration
        if ident is not None:
            return self.cache_format % {"scope": self.scope, "ident": ident}
        return super().get_cache_key(request, view)


class LoginRateThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address (`login`), right or wrong: the lock-out (axes)
    stops guessing one account's password; this caps how fast one address may try at all,
    spread over many accounts."""

    scope = "login"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled_login(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a sign-in view: a POST past the `login` rate is a 429 page with Retry-After."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            throttle = LoginRateThrottle()
            if not throttle.allow_request(request, None):
                wait = max(1, int(throttle.wait() or 1))
                response = render(
                    request,
                    "integrations/login_throttled.html",
                    {"minutes": max(1, ceil(wait / 60))},
                    status=429,
                )
                response["Retry-After"] = str(wait)
                return response
        return view(request, *args, **kwargs)

    return wrapper
