"""Set-based SQL for the dispatch path: multi-row ``INSERT ... ON CONFLICT DO NOTHING`` (``COPY`` on PostgreSQL)
and ``IN`` lists of thousands of ids. Plumbing only: no business rule lives here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections, models, router
from django.db.models.expressions import RawSQL

OUTBOX_INSERT_BATCH = 1000


COPY_THRESHOLD = 200  # rows: below it, one multi-row INSERT beats COPY's staging table on PostgreSQL


IN_CHUNK = 2000  # ids per ``IN (...)`` list (SQLite's bound-parameter limit)


def in_values(values: list, *, db_type: str = "bigint"):
    """The right-hand side of an ``__in`` filter for many values: on PostgreSQL one array parameter
    (``IN (SELECT unnest(%s::bigint[]))``), elsewhere the list itself. A list of thousands of ids costs
    psycopg's client-side binding several times more than one array."""
    if connection.vendor == "postgresql":
        values = list(values)
        if db_type == "bigint" and all(type(v) is int for v in values):
            # An integer array as its text literal ('{1,2,3}'): psycopg dumps a list element by element in Python.
            return RawSQL("SELECT unnest(%s::bigint[])", ["{" + ",".join(map(str, values)) + "}"])
        return RawSQL(f"SELECT unnest(%s::{db_type}[])", [values])  # noqa: S611 - fixed type name
    return values


def chunks(values: list, size: int = IN_CHUNK):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def id_chunks(ids: list, size: int = 900):
    """Slices of ``ids`` for ``IN`` lists of at most ``size`` (SQLite's bound-parameter limit); one slice on
    PostgreSQL, where :func:`in_values` sends them as one array parameter (an emergency chunk's 2,500 devices:
    one query, not three)."""
    size = max(len(ids), 1) if connection.vendor == "postgresql" else size
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def insert_values(
    model, columns: list[str], values: list[tuple], *, unique: tuple[str, ...] = (), returning: bool = True
) -> list[int]:
    """Insert rows of database-ready ``values`` (in ``columns`` order) into ``model``'s table. With ``unique``,
    a row whose key exists already is skipped (ON CONFLICT DO NOTHING) and nothing is returned; without, the
    new primary keys are returned in row order (unless ``returning`` is false: rows that cannot conflict).
    PostgreSQL: COPY (into a transaction-scoped staging table when conflicts are possible; with ids drawn from
    the table's sequence first when they are returned). SQLite: multi-row INSERTs (``RETURNING`` the ids)."""
    returning = returning and not unique
    if not values:
        return []
    connection = connections[router.db_for_write(model)]
    qn = connection.ops.quote_name
    opts = model._meta
    table = qn(opts.db_table)
    conflict = f" ON CONFLICT ({', '.join(qn(c) for c in unique)}) DO NOTHING" if unique else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(values) >= COPY_THRESHOLD:
            if not unique and not returning:
                cols = ", ".join(qn(c) for c in columns)
                with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
                return []
            if not unique:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [opts.db_table, opts.pk.column, len(values)],
                )
                ids = [r[0] for r in cursor.fetchall()]
                cols = ", ".join(qn(c) for c in [opts.pk.column, *columns])
                with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for pk, row in zip(ids, values, strict=True):
                        copy.write_row((pk, *row))
                return ids
            cols = ", ".join(qn(c) for c in columns)
            load = qn(f"{opts.db_table}_load")
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {load} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {cols} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {load}")
            with cursor.copy(f"COPY {load} ({cols}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {load}{conflict}")  # noqa: S608
            return []
        cols = ", ".join(qn(c) for c in columns)
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        returning_sql = f" RETURNING {qn(opts.pk.column)}" if returning else ""
        # SQLite allows 32,766 bound parameters per statement.
        batch_size = max(1, min(OUTBOX_INSERT_BATCH, 30000 // len(columns)))
        ids: list[int] = []
        for i in range(0, len(values), batch_size):
            batch = values[i : i + batch_size]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(batch))}{conflict}{returning_sql}",  # noqa: S608
                [v for row in batch for v in row],
            )
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
        return ids


def _plain_types(f, connection) -> tuple[type, ...]:
    """The Python types a field's database value is the value itself for, on PostgreSQL (the backend adapts them
    as they are: Django's ``get_db_prep_save`` returns an equal value, or a typed integer wrapper psycopg needs only
    for server-side binding): exact built-in field classes only (a subclass may prepare its values its own way).
    Empty elsewhere, and for any other field (JSON, UUID...): those values go through the field."""
    if connection.vendor != "postgresql":
        return ()
    kind = type(f)
    if kind in (models.ForeignKey, models.OneToOneField):
        return (int, type(None)) if type(f.target_field) in (models.AutoField, models.BigAutoField) else ()
    return _PLAIN.get(kind, ())


_PLAIN: dict[type, tuple[type, ...]] = {
    **dict.fromkeys(
        (
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveSmallIntegerField,
            models.PositiveBigIntegerField,
        ),
        (int, type(None)),
    ),
    models.CharField: (str, type(None)),
    models.TextField: (str, type(None)),
    models.DecimalField: (Decimal, type(None)),
    models.DateField: (date, type(None)),  # exactly a date: a datetime is converted by the field
    models.BooleanField: (bool, type(None)),
}


def _prepared(fields, connection, n: int, column, now: datetime) -> list:
    """One column's database-ready values: each distinct value prepared once by its field; on PostgreSQL a column
    of plain values the backend takes as they are (ints, strings, decimals, dates, aware datetimes) is used as it
    is (``_plain_types``: 10,000 device commands were 50,000 field preparations)."""
    out: list = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            out.append([f.get_db_prep_save(now, connection)] * n)
            continue
        values = column(f)
        plain = _plain_types(f, connection)
        # The set of the column's value types (one C-level pass), not a Python test per value.
        types = set(map(type, values)) if plain or type(f) is models.DateTimeField else None
        if plain and types <= set(plain):
            out.append(values)
            continue
        if (
            connection.vendor == "postgresql"
            and settings.USE_TZ
            and type(f) is models.DateTimeField
            and types <= {datetime, type(None)}
            and all(v.tzinfo is not None for v in set(values) - {None})
        ):
            out.append(values)  # aware datetimes (a naive one goes through the field: its warning and time zone)
            continue
        cache: dict = {}
        col = []
        for v in values:
            try:
                col.append(cache[v])
            except (KeyError, TypeError):
                p = f.get_db_prep_save(v, connection)
                try:
                    cache[v] = p
                except TypeError:  # unhashable (a JSON payload)
                    pass
                col.append(p)
        out.append(col)
    return out


def insert_instances(objs: list, *, now: datetime, unique: tuple[str, ...] = (), returning: bool = True) -> None:
    """``bulk_create`` for the dispatch path without the ORM's per-value compilation: every concrete field's
    value is prepared once per distinct value (``auto_now``/``auto_now_add`` fields get ``now``); without
    ``unique`` the instances get their primary keys. Signals and events are written this way."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for o in objs:
                setattr(o, f.attname, now)
    prepared = _prepared(fields, connection, len(objs), lambda f: [getattr(o, f.attname) for o in objs], now)
    values = list(zip(*prepared, strict=True))
    ids = insert_values(model, [f.column for f in fields], values, unique=unique, returning=returning)
    if ids:
        for o, pk in zip(objs, ids, strict=True):
            o.pk = pk
            o._state.adding = False
            o._state.db = connection.alias


def insert_records(model, records: list[dict], *, now: datetime, unique: tuple[str, ...] = ()) -> None:
    """:func:`insert_instances` for plain dicts (field attname -> value) when no instance is needed afterwards:
    no model instance per row (the dispatch writes one record per device, 10,000 for an emergency call). A
    field the records leave out gets its default; ``auto_now``/``auto_now_add`` fields get ``now``. Every record
    has the keys of the first."""
    if not records:
        return
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    keys = records[0].keys()

    def column(f) -> list:
        if f.attname in keys:
            return [r[f.attname] for r in records]
        return [f.get_default()] * len(records)

    prepared = _prepared(fields, connection, len(records), column, now)
    insert_values(model, [f.column for f in fields], list(zip(*prepared, strict=True)), unique=unique, returning=False)
