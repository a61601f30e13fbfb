"""The reads every real-time order makes, as plain SQL: the member premises' and the book row's locks, the
crossing resting orders, and a premise's commitments.

They run once per order, so building them through the ORM each time (a third of the order's CPU) is replaced
by fixed statements with parameters (docs/adr/0016-order-path.md). Same rows, same order, same meaning as the
querysets they replace (kept next to each as a comment); the tests of ``market.services.orders`` and
``market.services.capacity`` run them on SQLite and PostgreSQL. Values are adapted by the connection's own
operations (``adapt_datetimefield_value`` and ``adapt_decimalfield_value``). SQLite gives datetimes back
naive in UTC and decimals as floats; both are turned back here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.utils.dateparse import parse_datetime

from accounts.models import Premise

from ..models import Award, FlexibilityOffer, MarketOrder, OrderBook, OrderMember

_KW = Decimal("0.001")
_PRICE = Decimal("0.01")


def _dt(value) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _dec(value, quantum: Decimal) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(repr(value)).quantize(quantum)  # SQLite: a float that was written as this decimal


def _at(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def premises_lock(premise_ids: list[int]) -> list[Premise]:
    """The premises, their rows locked in pk order (the order every writer takes them in), with only id and
    grid zone loaded (other fields load when read).

    ``Premise.objects.select_for_update().filter(pk__in=ids).order_by("pk")``"""
    ids = sorted(set(premise_ids))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, grid_zone_id FROM {Premise._meta.db_table} WHERE id IN ({marks}) ORDER BY id{lock}",  # noqa: S608
            ids,
        )
        rows = cur.fetchall()
    return [Premise.from_db(connection.alias, ["id", "grid_zone_id"], row) for row in rows]


def book_lock(*, product: str, zone_id: int, start: datetime, end: datetime) -> tuple[int, str, datetime] | None:
    """(id, status, gate closure) of the interval's book, its row locked; None if it does not exist yet.

    ``OrderBook.objects.select_for_update().get(product=, zone=, delivery_start=, delivery_end=)``"""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, status, gate_closure FROM {OrderBook._meta.db_table} "  # noqa: S608 - our table names
            f"WHERE product = %s AND zone_id = %s AND delivery_start = %s AND delivery_end = %s{lock}",
            [product, zone_id, _at(start), _at(end)],
        )
        row = cur.fetchone()
    return None if row is None else (row[0], row[1], _dt(row[2]))


#: the columns of ``market.services.matching.ORDER_STATE_COLUMNS``, one row per member (none for a buy order)
_CROSSING = (
    "SELECT o.id, o.side, o.organisation_id, o.kw, o.remaining_kw, o.status, o.price_per_mwh, "  # noqa: S608
    "m.id, m.premise_id, m.kw, m.remaining_kw "
    f"FROM {MarketOrder._meta.db_table} o LEFT JOIN {OrderMember._meta.db_table} m ON m.order_id = o.id "
    "WHERE o.book_id = %s AND o.side = %s AND o.status = %s AND o.remaining_kw > 0 AND o.price_per_mwh {cmp} %s "
    "ORDER BY o.price_per_mwh {direction}, o.tier DESC, o.priority_at ASC, o.id ASC, m.premise_id ASC"
)
_CROSSING_SQL = {
    MarketOrder.Side.BUY: _CROSSING.format(cmp="<=", direction="ASC"),  # an incoming buy meets the cheapest sells
    MarketOrder.Side.SELL: _CROSSING.format(cmp=">=", direction="DESC"),  # an incoming sell the dearest buys
}


def crossing_rows(*, book_id: int, incoming_side: str, price: Decimal, limit: int | None) -> list[tuple]:
    """The resting orders on the other side that cross ``price``, best first (price, then staking tier, highest
    first: ``market.engine.tiers``, then time, then id), one row per member.

    ``MarketOrder.objects.filter(book=, side=other, status=OPEN, remaining_kw__gt=0, price_per_mwh__lte/gte=price)
    .order_by(best, "-tier", "priority_at", "pk", "members__premise_id").values_list(*_SIDE_COLUMNS)[:limit]``"""
    other = MarketOrder.Side.SELL if incoming_side == MarketOrder.Side.BUY else MarketOrder.Side.BUY
    sql = _CROSSING_SQL[incoming_side] + (f" LIMIT {int(limit)}" if limit else "")
    with connection.cursor() as cur:
        cur.execute(
            sql, [book_id, other, MarketOrder.Status.OPEN, connection.ops.adapt_decimalfield_value(price, 12, 2)]
        )
        rows = cur.fetchall()
    return [
        (
            pk,
            side,
            org,
            _dec(kw, _KW),
            _dec(rem, _KW),
            status,
            _dec(p, _PRICE),
            m_pk,
            m_premise,
            _dec(m_kw, _KW),
            _dec(m_rem, _KW),
        )
        for pk, side, org, kw, rem, status, p, m_pk, m_premise, m_kw, m_rem in rows
    ]


_COMMITTED = (
    f"SELECT window_start, window_end, kw FROM {FlexibilityOffer._meta.db_table} "  # noqa: S608 - our table names
    "WHERE premise_id = %s AND status = %s AND window_start < %s AND window_end > %s "
    "UNION ALL "
    f"SELECT delivery_start, delivery_end, remaining_kw FROM {OrderMember._meta.db_table} "
    "WHERE premise_id = %s AND remaining_kw > 0 AND delivery_start < %s AND delivery_end > %s AND order_id <> %s "
    "UNION ALL "
    f"SELECT window_start, window_end, kw FROM {Award._meta.db_table} "
    "WHERE premise_id = %s AND window_start < %s AND window_end > %s"
)


def commitments(
    *, premise_id: int, start: datetime, end: datetime, exclude_order_id: int | None
) -> list[tuple[datetime, datetime, Decimal]]:
    """(start, end, kW) of everything the premise has committed that overlaps ``[start, end)``: its open legacy
    offers, the open remainder of its shares in open sell orders (but ``exclude_order_id``'s) and its awards.
    Only members of open orders keep a remainder (every path that closes an order zeroes its members':
    ``OrderMember``), so the shares are read from the members' own index, without the orders.

    The UNION ALL of ``FlexibilityOffer``, ``OrderMember`` and ``Award`` querysets in
    ``market.services.capacity`` before this module."""
    s, e = _at(start), _at(end)
    with connection.cursor() as cur:
        cur.execute(
            _COMMITTED,
            [
                premise_id,
                FlexibilityOffer.Status.OPEN,
                e,
                s,
                premise_id,
                e,
                s,
                exclude_order_id if exclude_order_id is not None else 0,  # ids start at 1
                premise_id,
                e,
                s,
            ],
        )
        rows = cur.fetchall()
    return [(_dt(a), _dt(b), _dec(kw, _KW)) for a, b, kw in rows]


_COMMITTED_MANY = (
    f"SELECT premise_id, window_start, window_end, kw FROM {FlexibilityOffer._meta.db_table} "  # noqa: S608
    "WHERE premise_id IN ({ids}) AND status = %s AND window_start < %s AND window_end > %s "
    "UNION ALL "
    f"SELECT premise_id, delivery_start, delivery_end, remaining_kw FROM {OrderMember._meta.db_table} "
    "WHERE premise_id IN ({ids}) AND remaining_kw > 0 AND delivery_start < %s AND delivery_end > %s "
    "UNION ALL "
    f"SELECT premise_id, window_start, window_end, kw FROM {Award._meta.db_table} "
    "WHERE premise_id IN ({ids}) AND window_start < %s AND window_end > %s"
)


def commitments_many(
    *, premise_ids: list[int], start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime, Decimal]]]:
    """:func:`commitments` (no order excluded) for many premises in one statement, by premise; a premise with
    nothing committed over ``[start, end)`` is absent."""
    ids = sorted(set(premise_ids))
    s, e = _at(start), _at(end)
    out: dict[int, list[tuple[datetime, datetime, Decimal]]] = {}
    if not ids:
        return out
    with connection.cursor() as cur:
        for i in range(0, len(ids), 2000):  # three lists of ids per statement, within every backend's limit
            chunk = ids[i : i + 2000]
            sql = _COMMITTED_MANY.replace("{ids}", ", ".join(["%s"] * len(chunk)))
            cur.execute(sql, [*chunk, FlexibilityOffer.Status.OPEN, e, s, *chunk, e, s, *chunk, e, s])
            for pid, a, b, kw in cur.fetchall():
                out.setdefault(pid, []).append((_dt(a), _dt(b), _dec(kw, _KW)))
    return out


def resting_update(*, orders: list[tuple[int, Decimal, str]], members: list[tuple[int, Decimal]]) -> None:
    """The makers' new open kW and status, and their members' open kW, after fills.

    ``MarketOrder.objects.bulk_update(..., ["remaining_kw", "status"])`` and
    ``OrderMember.objects.bulk_update(..., ["remaining_kw"])``"""
    dec = connection.ops.adapt_decimalfield_value
    with connection.cursor() as cur:
        if orders:
            cur.executemany(
                f"UPDATE {MarketOrder._meta.db_table} SET remaining_kw = %s, status = %s WHERE id = %s",  # noqa: S608
                [(dec(rem, 12, 3), status, pk) for pk, rem, status in orders],
            )
        if members:
            cur.executemany(
                f"UPDATE {OrderMember._meta.db_table} SET remaining_kw = %s WHERE id = %s",  # noqa: S608
                [(dec(rem, 12, 3), pk) for pk, rem in members],
            )
