"""Errors as RFC 9457 problem details (`application/problem+json`).

One exception handler for every API view: the services' refusals and DRF's own errors become
`{"type", "title", "status", "detail"}`, and validation errors add `errors`, the messages per
field (`non_field_errors` for the request as a whole). Malformed JSON, wrong types and unknown
fields are 400s here, never 500s.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.response import Response

from tickets.services import StaleRequest

PROBLEM_CONTENT_TYPE = "application/problem+json"


def _messages(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": [str(m) for m in error.messages]}


def _flatten(detail: Any) -> Any:
    """DRF's ErrorDetail tree as plain strings, a list of messages per field."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def _titles() -> dict[int, str]:
    return {
        400: _("Your request is not valid."),
        401: _("Authentication is required."),
        403: _("You may not do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        406: _("This response format is not available."),
        409: _("The ticket's state does not allow this request."),
        413: _("The request is too large."),
        415: _("This content type is not supported."),
        422: _("This request cannot be processed."),
        429: _("Too many requests."),
    }


def problem(
    status_code: int,
    detail: str,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem-details response. `type` is about:blank: the status says what happened."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _titles().get(status_code, _("Error")),
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    # The view's JSON renderer writes the body; the content type marks it as a problem.
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every refusal as a problem, None (a 500) for bugs."""
    if isinstance(exc, DjangoValidationError):  # TicketError, EscalationError, model checks
        return problem(400, _("Your request is not valid."), errors=_messages(exc))
    if isinstance(exc, StaleRequest | TransitionNotAllowed | ConcurrentTransition):
        return problem(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, Http404):
        return problem(404, _("Not found."))
    if isinstance(exc, DjangoPermissionDenied):
        return problem(403, str(exc) or _("You may not do this."))
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem(400, _("Your request is not valid."), errors=_flatten(detail))
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        # Set by APIView for 401s (knox, the first authenticator, names its scheme).
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait))
        return problem(exc.status_code, _flatten(exc.detail), headers=headers)
    return None
