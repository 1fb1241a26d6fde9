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
- `token` and `alerts` with Redis (`WindowCount`): a counter per token or integration and
  fixed window, in one round trip (INCR and EXPIRE in a pipeline) instead of DRF's two (read
  and write back the list of every request's instant in the window, unpickled and pickled
  again on each request). A monitoring system may send hundreds of alerts a second, and the
  list grew with the rate; every token request paid for it too. A fixed window lets a burst
  of up to twice the rate straddle two windows; the rate is a guard against a runaway
  sender, not a quota, so that is accepted. Without Redis (one process on a laptop) DRF's
  way applies;
- `login`: sign-in attempts per address in the browser (`throttled_login` wraps the sign-in
  views), on top of the lock-out per account and address.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from math import ceil
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


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


_redis: list[redis.Redis] = []


def _redis_client() -> redis.Redis | None:
    """A client of the cache's Redis (`REDIS_URL`), one per process; None without Redis."""
    if not settings.REDIS_URL:
        return None
    if not _redis:
        # As the cache (settings.CACHES): a second at most to connect and for a reply.
        _redis.append(
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        )
    return _redis[0]


class WindowCount(SimpleRateThrottle):
    """A rate counted in Redis per fixed window, in one round trip (see the module's
    docstring), for the throttles below."""

    window_end = 0.0

    def counted(self, client: redis.Redis, ident: object) -> bool:
        """Count this request against `ident`'s budget in the current window of the rate
        (`self.scope`, `self.num_requests`, `self.duration` set); whether it is within."""
        now = self.timer()
        window = int(now // self.duration)
        key = f"throttle:{self.scope}:{ident}:{window}"
        try:
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, self.duration + 1)
            count, _set = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError):
            return True  # Redis is away: no rate holds, as with the cache (helpdesk/cache.py)
        self.window_end = (window + 1) * self.duration
        return count <= self.num_requests

    def wait(self) -> float | None:
        if self.window_end:
            return max(1.0, self.window_end - self.timer())
        return super().wait()


class TokenRateThrottle(WindowCount):
    """One budget per API token (requests made with a token only), counted in Redis in one
    round trip; without Redis as DRF counts (the instants of the window's requests)."""

    scope = "token"

    def allow_request(self, request: Request, view: Any) -> bool:
        token_key = getattr(request.auth, "token_key", None)
        client = _redis_client()
        if not token_key or client is None or self.rate is None:
            return super().allow_request(request, view)
        return self.counted(client, token_key)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token_key = getattr(request.auth, "token_key", None)
        if not token_key:
            return None  # not a token request: the per-user rate applies
        return self.cache_format % {"scope": self.scope, "ident": token_key}


class AlertRateThrottle(WindowCount, ScopeRateThrottle):
    """The `alerts` scope per integration, counted in Redis in one round trip (see the
    module's docstring); DRF's scoped throttle for any other caller or without Redis."""

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = getattr(request.auth, "throttle_ident", None)
        client = _redis_client()
        if ident is None or client is None or request.method in SAFE_METHODS:
            return super().allow_request(request, view)
        self.scope = getattr(view, self.scope_attr, None)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True  # no rate set for the scope: not throttled (as DRF's)
        return self.counted(client, ident)


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
