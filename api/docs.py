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


def api_docs(request: HttpRequest) -> HttpResponse:
    """The reference is public, like the schema it renders: it holds no data, only shapes."""
    return render(
        request,
        "api/docs.html",
        {"schema_url": reverse("api:schema") + "?format=json"},
    )
