"""The API's JSON renderer."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import JSONRenderer


class AsciiJSONRenderer(JSONRenderer):
    ensure_ascii = True


class SafeJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, which writes UTF-8 — except for an answer that holds a lone
    surrogate (an error message may name what a client sent, and JSON can carry `\\ud961`,
    which UTF-8 cannot): that one is written with ASCII escapes, still valid JSON, instead of
    failing with a 500 (the schema fuzzer found it)."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return AsciiJSONRenderer().render(data, accepted_media_type, renderer_context)
