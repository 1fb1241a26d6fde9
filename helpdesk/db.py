"""Database helpers that the ORM does not offer in the shape the hot paths need."""

from __future__ import annotations

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
