"""The schema's error responses: every operation documents the problem details it can answer.

drf-spectacular documents what a view returns on success; the refusals come from one exception
handler (`api.problems`) and apply across the API, so they are added here, once, by a
postprocessing hook — which codes depend on the operation: 404 where the path names an object,
400 where there is input to reject, 409/413/415/422 where a write can conflict, be too large,
have the wrong media type or reuse an idempotency key with another body.
"""

from __future__ import annotations

from typing import Any

from api.problems import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Conflict"},
        "status": {"type": "integer", "example": 409},
        "detail": {
            "description": "What went wrong, in the caller's language.",
            "oneOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}],
        },
        "errors": {
            "type": "object",
            "description": "Messages per field (non_field_errors for the request as a whole).",
            "additionalProperties": True,
        },
    },
    "required": ["type", "title", "status", "detail"],
}

DESCRIPTIONS = {
    "400": "The request is not valid (field messages in `errors`).",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such object, or one the caller may not see.",
    "406": "The Accept header asks for a format the API does not produce.",
    "409": "Not allowed in the object's current state, or it changed since it was read.",
    "413": "The request body is too large.",
    "415": "The request body's media type is not accepted.",
    "422": "The Idempotency-Key was used before with a different request.",
    "429": "Too many requests; Retry-After says when to try again.",
}
WRITES = {"post", "put", "patch", "delete"}


def error_codes(method: str, operation: dict[str, Any], path: str) -> list[str]:
    """The problem statuses `operation` can answer with (a pure function of its shape)."""
    codes = ["401", "403", "406", "429"]
    if "{" in path:
        codes.append("404")
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if has_query or "requestBody" in operation or method in WRITES:
        codes.append("400")
    if method in WRITES:
        codes += ["409", "413", "415"]
    if method == "post":
        codes.append("422")
    return sorted(codes)


def _blank_emails(schema: Any) -> None:
    """Formats as our values have them. Email columns the API reads out may be empty (a team
    or customer without an address): a read-only email property is "an email address, or
    empty". Times of day have no UTC offset."""
    if isinstance(schema, list):
        for item in schema:
            _blank_emails(item)
        return
    if not isinstance(schema, dict):
        return
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and prop.get("format") == "email" and prop.get("readOnly"):
            schema["properties"][name] = {
                key: value for key, value in prop.items() if key not in {"type", "format"}
            } | {
                "anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]
            }
        elif isinstance(prop, dict) and prop.get("format") == "time":
            # A time of day on the calendar's clock ("08:00:00"): JSON Schema's "time" format
            # is RFC 3339's full-time, which demands a UTC offset opening hours do not have.
            schema["properties"][name] = {k: v for k, v in prop.items() if k != "format"} | {
                "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
            }
    for value in schema.values():
        if isinstance(value, dict | list):
            _blank_emails(value)


def add_problem_responses(result: dict[str, Any], generator: Any, request: Any, public: bool):
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: add the shared problem responses (and
    let read-only email properties be empty)."""
    _blank_emails(result.get("components", {}).get("schemas", {}))
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    reference = {"$ref": "#/components/schemas/Problem"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in error_codes(method, operation, path):
                responses.setdefault(
                    code,
                    {
                        "description": DESCRIPTIONS[code],
                        "content": {PROBLEM_CONTENT_TYPE: {"schema": reference}},
                    },
                )
    return result
