"""Cursor pagination for every API list: a bounded page size and a total order."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 100


class StrictCursorPagination(CursorPagination):
    """A cursor the API did not hand out (tampered with, truncated, from another list) is a
    400 naming the parameter, not DRF's 404: the list exists, the request is what is wrong."""

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        _("This cursor is not valid; start from the first page.")
                    ]
                }
            ) from None


def cursor(*ordering: str, page_size: int = 50) -> type[CursorPagination]:
    """A CursorPagination class ordered by `ordering` (its last field unique), `page_size`
    rows by default and at most MAX_PAGE_SIZE on request (`page_size`)."""
    return type(
        "Cursor",
        (StrictCursorPagination,),
        {
            "page_size": page_size,
            "page_size_query_param": "page_size",
            "max_page_size": MAX_PAGE_SIZE,
            "ordering": ordering if len(ordering) > 1 else ordering[0],
        },
    )
