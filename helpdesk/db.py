"""Database helpers that the ORM does not offer in the shape the hot paths need."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence

from django.db import connection, models

# Field types whose Python value the driver takes as it is (no `get_db_prep_save` needed).
PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "ForeignKey",
        "IntegerField",
        "OneToOneField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write `fields` of every object in `objs` (saved rows of `model`) in one statement.

    Django's `bulk_update` builds a CASE expression per field and row, which costs more than
    the rows themselves for a few hundred; on PostgreSQL this joins the rows to arrays of the
    new values instead (`UPDATE … FROM UNNEST(…)`). Elsewhere it is `bulk_update`.
    """
    if not objs or not fields:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    meta = model._meta
    pk = meta.pk
    columns = [pk, *(meta.get_field(name) for name in fields)]
    arrays = []
    for field in columns:
        attname = field.attname
        if field.get_internal_type() in PLAIN_TYPES:
            arrays.append([getattr(obj, attname) for obj in objs])
        else:
            prep = field.get_db_prep_save
            arrays.append([prep(getattr(obj, attname), connection) for obj in objs])
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = ", ".join(quote(f"v_{i}") for i in range(len(columns)))
    unnest = ", ".join(
        f"%s::{field.rel_db_type(connection) if field.is_relation else field.db_type(connection)}[]"
        for field in columns
    )
    assignments = ", ".join(
        f"{quote(field.column)} = v.{quote(f'v_{i}')}" for i, field in enumerate(columns) if i
    )
    # Identifiers come from the model's metadata; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {assignments} FROM UNNEST({unnest}) AS v({names}) "  # noqa: S608
        f"WHERE {table}.{quote(pk.column)} = v.{quote('v_0')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def insert_rows(model: type[models.Model], objs: Sequence[models.Model]) -> list[models.Model]:
    """Insert `objs` (new rows of `model`, built as for `bulk_create`) and give each its
    primary key; returns `objs`.

    On PostgreSQL the keys are taken from the table's sequence in one statement and the rows
    written with `COPY … FROM STDIN`: Django's `bulk_create` prepares every field of every
    row through the field's own methods (`pre_save`, `get_db_prep_save`), which cost more
    than the rows for a thousand of them, and the server parses one array literal per column.
    Here a plain value goes as it is, a JSON value is dumped once, and a foreign key whose
    object was saved after the row was built (a reply's timeline entry built with its unsaved
    reply) takes that object's key, as `bulk_create` does. The COPY passes through the
    connection's execute wrappers and query log, so statement counts see it. Elsewhere it is
    `bulk_create`. Fields with `auto_now`, database defaults or expressions are not supported
    (none of the callers' models have them).
    """
    objs = list(objs)
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(objs)],
        )
        keys = [row[0] for row in cursor.fetchall()]
        columns = [pk, *fields]
        getters = [_copy_value(field) for field in fields]
        rows = []
        for key, obj in zip(keys, objs, strict=True):
            obj.pk = key
            rows.append((key, *(get(obj) for get in getters)))
        names = ", ".join(quote(field.column) for field in columns)
        sql = f"COPY {table} ({names}) FROM STDIN"

        def copy(sql: str, params: object, many: bool, context: dict) -> None:
            with cursor.cursor.copy(sql) as stream:
                for row in rows:
                    stream.write_row(row)

        _through_wrappers(copy)(sql, None, False, {"connection": connection, "cursor": cursor})
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def _copy_value(field: models.Field):  # type: ignore[no-untyped-def]
    """How `insert_rows` reads `field` of a row: what the COPY writes."""
    attname = field.attname
    if field.is_relation:

        def related(obj: models.Model) -> object:
            value = getattr(obj, attname)
            if value is None and field.is_cached(obj):
                target = field.get_cached_value(obj)
                if target is not None:
                    value = target.pk
                    setattr(obj, attname, value)
            return value

        return related
    if isinstance(field, models.JSONField):
        encoder = field.encoder

        def as_json(obj: models.Model) -> object:
            value = getattr(obj, attname)
            return None if value is None else json.dumps(value, cls=encoder)

        return as_json
    if field.get_internal_type() in PLAIN_TYPES:
        return lambda obj: getattr(obj, attname)
    prep = field.get_db_prep_save
    return lambda obj: prep(getattr(obj, attname), connection)


def _through_wrappers(executor):  # type: ignore[no-untyped-def]
    """`executor` called through the connection's execute wrappers (as Django calls a
    cursor's `execute`), recorded in the query log when queries are logged."""

    def logged(sql: str, params: object, many: bool, context: dict) -> None:
        started = time.monotonic()
        try:
            executor(sql, params, many, context)
        finally:
            if connection.queries_logged:
                duration = time.monotonic() - started
                connection.queries_log.append({"sql": sql, "time": f"{duration:.3f}"})

    call = logged
    for wrapper in reversed(connection.execute_wrappers):
        call = functools.partial(wrapper, call)
    return call


# --- Arrays of text, escaped in C rather than by a regular expression ----------------------------

try:
    from psycopg.types.array import ListDumper
except ImportError:  # pragma: no cover - psycopg is the project's driver
    ListDumper = None


if ListDumper is not None:

    class TextListDumper(ListDumper):
        """psycopg's text dumper of a list (the bulk inserts' `UNNEST(%s::jsonb[])` arrays),
        giving the same bytes faster. psycopg escapes each quoted element with
        `re.sub(rb'(["\\\\])', rb"\\\\\\1", …)`, a Python call per double quote or backslash:
        a thousand webhook payloads of JSON are some 200,000 of them, half the time of the
        insert that writes an incident update's deliveries. `bytes.replace` does the same in C.
        """

        def _dump_list(self, obj, tokens, needs_quotes):  # type: ignore[no-untyped-def]
            if not obj:
                tokens.append(b"{}")
                return
            dump = self.sub_dumper.dump if self.sub_dumper else self._dump_item
            delimiter = self.delimiter
            tokens.append(b"{")
            for item in obj:
                if item is None:
                    tokens.append(b"NULL")
                elif isinstance(item, list):
                    self._dump_list(item, tokens, needs_quotes)
                elif (ad := dump(item)) is None:
                    tokens.append(b"NULL")
                else:
                    if needs_quotes(ad):
                        escaped = bytes(ad).replace(b"\\", b"\\\\").replace(b'"', b'\\"')
                        ad = b'"' + escaped + b'"'
                    tokens.append(ad)
                tokens.append(delimiter)
            tokens[-1] = b"}"


def use_text_list_dumper(sender: object, connection: object, **kwargs: object) -> None:
    """`connection_created` receiver: dump lists with `TextListDumper` on a PostgreSQL
    connection made by psycopg 3 (connected in `TicketsConfig.ready`)."""
    raw = getattr(connection, "connection", None)
    adapters = getattr(raw, "adapters", None)
    if ListDumper is not None and adapters is not None:
        adapters.register_dumper(list, TextListDumper)
