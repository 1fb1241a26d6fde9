"""One request of the generated checks, observed: status, body, and the writes it made."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)

# Tables a request may write without changing anything of the product's data, each for a
# reason that holds on every route:
WRITES_ALLOWED = {
    # The session row is saved when the session changed: a flash message (kept in the
    # session), the language chosen, a sign-in or sign-out.
    "django_session",
    # django-axes records a failed sign-in to count towards the lock-out; only the sign-in
    # pages write it (see test_lockout).
    "axes_accessattempt",
    "axes_accessfailurelog",
    "axes_accesslog",
}


@dataclass
class Seen:
    status: int
    body: str
    location: str
    writes: list[str]
    error: str = ""


def rows_written() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per table.

    On PostgreSQL the statistics of the open transaction count the rows a statement really
    touched, so a `DELETE … WHERE user = me` that matched nothing is no write. SQLite only
    counts rows for the whole connection (under one name)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
            )
            return {name: count for name, count in cursor.fetchall() if count}
    connection.ensure_connection()
    return {"(any table)": connection.connection.total_changes}


def observe(
    client: Client, method: str, url: str, data: dict | None = None, *, json: bool = False
) -> Seen:
    """Send one request; return what came back and which tables it wrote (allowed ones
    left out). An exception in the view is an `error` (a 500 to the user), not a crash of
    the whole sweep."""
    before = rows_written()
    with CaptureQueriesContext(connection) as queries:
        try:
            if method == "get":
                response = client.get(url)
            elif method == "post" and not json:
                response = client.post(url, data or {})
            else:
                response = getattr(client, method)(url, data or {}, content_type="application/json")
        except Exception as exc:  # reported as the 500 it would be, not a crash of the sweep
            return Seen(500, "", "", [], error=f"{type(exc).__name__}: {exc}")
    after = rows_written()
    changed = {name for name, count in after.items() if count != before.get(name, 0)}
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    statements = []
    for query in queries.captured_queries:
        match = _WRITE.match(query["sql"])
        if match and match.group(2) not in WRITES_ALLOWED:
            statements.append(f"{match.group(1).split()[0].upper()} {match.group(2)}")
    if connection.vendor == "postgresql":
        writes = sorted(changed - WRITES_ALLOWED)
    else:
        writes = statements if changed else []
    return Seen(
        status=response.status_code,
        body=body.decode("utf-8", "replace"),
        location=response.get("Location", ""),
        writes=writes,
    )
