"""`helpdesk.db.TextListDumper` gives exactly the bytes of psycopg's own list dumper (it only
escapes in C), and the connections use it."""

from __future__ import annotations

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.adapt import PyFormat
from psycopg.types.array import ListDumper

from helpdesk.db import TextListDumper

texts = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
pytestmark = pytest.mark.postgres  # psycopg's dumpers: PostgreSQL connections only

lists = st.lists(st.one_of(st.none(), texts, st.sampled_from(['{"a": "b\\\\"}', "NULL", ""])))


@pytest.mark.django_db
@settings(max_examples=300, deadline=None)
@given(values=st.one_of(lists, st.lists(lists, min_size=1, max_size=3)))
def test_the_same_bytes_as_psycopg(values):
    connection.ensure_connection()
    raw = connection.connection
    ours = TextListDumper(list, raw).upgrade(values, PyFormat.TEXT)
    theirs = ListDumper(list, raw).upgrade(values, PyFormat.TEXT)
    assert bytes(ours.dump(values)) == bytes(theirs.dump(values))


@pytest.mark.django_db
def test_connections_dump_lists_with_it_and_round_trip():
    connection.ensure_connection()
    assert connection.connection.adapters.get_dumper(list, PyFormat.TEXT) is TextListDumper
    values = ['{"say": "a \\"quoted\\" word"}', "back\\slash", None, "", "NULL", "{braces}"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[]", [values])
        assert cursor.fetchone()[0] == values
