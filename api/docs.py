"""The interactive API reference at /api/v1/docs/: Swagger UI over the live schema.

Swagger UI is vendored under static/vendor/swagger-ui (no CDN) and started by
static/js/api-docs.js, so the page needs no inline script under the CSP. "Try it out" sends
the browser's session cookie and its CSRF token; a token holder can authorise with
"Token <key>" instead.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """The reference is public, like the schema it renders: it holds no data, only shapes."""
    return render(
        request,
        "api/docs.html",
        {"schema_url": reverse("api:schema") + "?format=json"},
    )


@csrf_exempt  # it changes nothing; a POST to a wrong address must get the same JSON 404
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any /api/v1/ address no route matches (a malformed reference, a typo): a 404 problem
    in JSON like every other API error, not the HTML page the site shows."""
    from django.http import JsonResponse
    from django.utils.translation import gettext as _

    from api.problems import PROBLEM_CONTENT_TYPE

    body = {
        "type": "about:blank",
        "title": _("Not found"),
        "status": 404,
        "detail": _("Not found."),
    }
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
