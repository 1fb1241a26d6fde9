"""Request rates for the API (DRF throttles; the rates are in REST_FRAMEWORK, from the
environment: see .env.example). A throttled request is a 429 problem with Retry-After
(`api.problems`).

- per user (`user`, DRF's UserRateThrottle; an anonymous caller per address);
- per token (`token`): each API token has its own budget, so one leaked or runaway script
  does not use up its owner's other tokens' — nor can it hide among them;
- stricter scopes by `throttle_scope`: `token_create` (making and revoking tokens), `alerts`
  (per integration, keyed by the integration rather than by its service account). A scope
  counts the requests that change something (not GET, HEAD, OPTIONS): listing one's tokens
  is not making them.
"""

from __future__ import annotations

from typing import Any

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
