"""The `<ref:…>` URL converter: only the characters a ticket reference can have.

Anything else (a NUL byte, which PostgreSQL refuses in text with a DataError, control or
bidirectional characters, an overlong value) does not match the route and is a plain 404,
before a view or the database sees it. Imported by every urls module that takes a reference.
"""

from __future__ import annotations

from django.urls import register_converter


class ReferenceConverter:
    """Ticket references such as HD-2026-000123 (at most 32 characters, the column's size):
    ASCII letters, digits, dot, dash and underscore."""

    regex = r"[A-Za-z0-9._-]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReferenceConverter, "ref")
