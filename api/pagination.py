"""Cursor pagination for every API list: a bounded page size and a total order."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination

MAX_PAGE_SIZE = 100


def cursor(*ordering: str, page_size: int = 50) -> type[CursorPagination]:
    """A CursorPagination class ordered by `ordering` (its last field unique), `page_size`
    rows by default and at most MAX_PAGE_SIZE on request (`page_size`)."""
    return type(
        "Cursor",
        (CursorPagination,),
        {
            "page_size": page_size,
            "page_size_query_param": "page_size",
            "max_page_size": MAX_PAGE_SIZE,
            "ordering": ordering if len(ordering) > 1 else ordering[0],
        },
    )
