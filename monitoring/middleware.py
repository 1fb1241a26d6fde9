"""The request id and the request's latency (first in the middleware list, so that every log
line of the request carries the id and the latency covers the whole stack)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from helpdesk import logcontext
from monitoring.metrics import REQUEST_LATENCY

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the proxy or the client is kept when it is plainly an id; anything else is replaced.
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# Label values stay a closed set, whatever a client sends.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_for(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _ACCEPTED_ID.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives each request an id (kept from `X-Request-ID` when it looks like one), puts it and
    the ticket reference of the URL in the log context, answers with the id in
    `X-Request-ID`, and counts the time per view in `helpdesk_http_request_duration_seconds`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        ident = request_id_for(request)
        request.request_id = ident  # type: ignore[attr-defined]
        with logcontext.bind(request_id=ident, ticket=None):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = ident
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unresolved"
        REQUEST_LATENCY.labels(
            view=view,
            method=request.method if request.method in _METHODS else "other",
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - started)
        return response

    def process_view(
        self, request: HttpRequest, view_func: object, view_args: object, view_kwargs: dict
    ) -> None:
        reference = view_kwargs.get("reference")
        if isinstance(reference, str):
            logcontext.ticket.set(reference)
