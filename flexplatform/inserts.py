"""``INSERT … RETURNING id`` for rows written on every request, without building the statement each time.

``Model.objects.create`` and ``bulk_create`` compile their statement anew on every call; for the order path,
which writes an order, its members and an idempotency record per request, that compilation was a tenth of the
request's CPU. :func:`insert` writes the same row: every concrete field's value goes through the field's own
``pre_save`` (``auto_now_add``, defaults already on the instance) and ``get_db_prep_save`` (decimals, aware
datetimes, JSON, as the backend needs them); only the statement text is kept per model and row count. No
signals are sent (none of the models it is used for has receivers), as with ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

_SQL: dict[tuple[type[models.Model], int], tuple[str, list]] = {}


def _statement(model: type[models.Model], rows: int) -> tuple[str, list]:
    key = (model, rows)
    found = _SQL.get(key)
    if found is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
        qn = connection.ops.quote_name
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = (
            f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES {', '.join([row] * rows)} RETURNING {qn(meta.pk.column)}"
        )
        found = _SQL[key] = (sql, fields)
    return found


def insert(objs: Sequence[models.Model]) -> None:
    """Insert new instances of one model in one statement and set their primary keys (the backend must return
    rows from inserts: PostgreSQL, SQLite ≥ 3.35)."""
    if not objs:
        return
    model = type(objs[0])
    sql, fields = _statement(model, len(objs))
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in fields]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        ids = [row[0] for row in cur.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_with_children(parent: models.Model, children: Sequence[models.Model], *, fk: str, match_on: str) -> None:
    """Insert ``parent`` and its ``children`` (their ``fk`` field pointing at it) and set every primary key.

    On PostgreSQL in one statement (``WITH parent AS (INSERT … RETURNING id) INSERT … SELECT``): one round trip
    fewer for every order with members. Each child's row comes back with its ``match_on`` value (unique among
    the children) to pair it with its instance. Elsewhere, two statements."""
    if connection.vendor != "postgresql" or not children:
        insert([parent])
        for child in children:
            setattr(child, fk, parent)
        insert(children)
        return
    model = type(children[0])
    key = (model, len(children), "with-parent", type(parent), fk, match_on)
    found = _SQL.get(key)
    if found is None:
        parent_sql, _ = _statement(type(parent), 1)
        meta = model._meta
        fk_field = meta.get_field(fk)
        fields = [
            f
            for f in meta.concrete_fields
            if not (f.primary_key and isinstance(f, models.AutoField)) and f is not fk_field
        ]
        qn = connection.ops.quote_name
        row = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields) + ")"
        columns = ", ".join(qn(f.column) for f in fields)
        values = ", ".join([row] * len(children))
        sql = (
            f"WITH parent AS ({parent_sql}) "  # noqa: S608 - our table and column names
            f"INSERT INTO {qn(meta.db_table)} ({qn(fk_field.column)}, {columns}) "
            f"SELECT parent.{qn(type(parent)._meta.pk.column)}, v.* FROM parent, (VALUES {values}) AS v({columns}) "
            f"RETURNING {qn(fk_field.column)}, {qn(meta.pk.column)}, {qn(meta.get_field(match_on).column)}"
        )
        found = _SQL[key] = (sql, fields)
    sql, fields = found
    _, parent_fields = _statement(type(parent), 1)
    params = [f.get_db_prep_save(f.pre_save(parent, True), connection) for f in parent_fields]
    params += [f.get_db_prep_save(f.pre_save(child, True), connection) for child in children for f in fields]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    by_key = {getattr(child, model._meta.get_field(match_on).attname): child for child in children}
    for _parent_pk, pk, match in rows:
        child = by_key[match]
        child.pk = pk
        child._state.adding = False
        child._state.db = connection.alias
    parent.pk = rows[0][0]
    parent._state.adding = False
    parent._state.db = connection.alias
    for child in children:
        setattr(child, fk, parent)
