"""`/healthz` for load balancers and health checks, `/metrics` for Prometheus."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring import health
from monitoring.metrics import exposition

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


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
