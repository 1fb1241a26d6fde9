"""`/healthz` for load balancers and health checks, `/metrics` for Prometheus."""

from __future__ import annotations

import hmac
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring import health
from monitoring.metrics import exposition

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
# The database is restarting or dropped our connection (OperationalError covers both).
DB_OUTAGE = (OperationalError, InterfaceError)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """No login. 200 while the database and the broker answer (`status` "ok", or "degraded"
    when the sweep or the outbox lag behind); 503 when either does not answer."""
    report = health.check()
    return JsonResponse(report.as_dict(), status=503 if report.status == health.ERROR else 200)


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value, token)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a scraper with `Authorization: Bearer METRICS_TOKEN`, or an
    active superuser's session (to look at it in the browser)."""
    user = request.user
    if not (_bearer_ok(request) or (user.is_active and user.is_superuser)):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=PROMETHEUS_TEXT)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: an uncaught exception anywhere in the request (a view or a middleware).

    When the database went away (a restart, a dropped connection), the answer is a clean 503
    with `Retry-After` — nothing was committed and the client may try again (API POSTs with the
    same Idempotency-Key) — as a problem detail for the API. Anything else is Django's 500 page.
    Nothing here touches the database. Found by `bench/chaos.py`."""
    error = sys.exc_info()[1]
    if not isinstance(error, DB_OUTAGE):
        return defaults.server_error(request)
    title = _("The service is briefly unavailable. Please try again in a few seconds.")
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"type": "about:blank", "title": str(title), "status": 503},
            status=503,
            content_type="application/problem+json",
        )
    else:
        response = HttpResponse(title, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "5"
    return response
