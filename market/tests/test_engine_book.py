"""The continuous order book: price-time priority, order types, cancel, modify, gate closure."""

import pytest

from market.engine.book import BUY, FAK, FOK, SELL, BookClosed, OrderBook, UnknownOrder


def test_price_then_time_priority_and_maker_price():
    b = OrderBook()
    b.submit(1, SELL, 105, 10)
    b.submit(2, SELL, 100, 10)
    b.submit(3, SELL, 100, 10)  # same price as 2, later: behind it
    r = b.submit(4, BUY, 110, 25)
    assert [(f.maker_id, f.price, f.qty) for f in r.fills] == [(2, 100, 10), (3, 100, 10), (1, 105, 5)]
    assert r.resting_qty == 0 and b.depth(SELL) == [(105, 5)]


def test_limit_rest_stays_and_no_cross_below_limit():
    b = OrderBook()
    b.submit(1, SELL, 100, 5)
    r = b.submit(2, BUY, 99, 5)
    assert r.fills == [] and r.resting_qty == 5
    assert b.best(BUY) == 99 and b.best(SELL) == 100


def test_fill_or_kill_all_or_nothing():
    b = OrderBook()
    b.submit(1, SELL, 100, 5)
    r = b.submit(2, BUY, 100, 6, FOK)
    assert r.fills == [] and r.killed_qty == 6 and b.depth(SELL) == [(100, 5)]
    r = b.submit(3, BUY, 100, 5, FOK)
    assert sum(f.qty for f in r.fills) == 5 and b.depth(SELL) == []


def test_fill_and_kill_fills_what_crosses_and_cancels_rest():
    b = OrderBook()
    b.submit(1, SELL, 100, 5)
    r = b.submit(2, BUY, 100, 8, FAK)
    assert sum(f.qty for f in r.fills) == 5 and r.killed_qty == 3 and b.depth(BUY) == []


def test_cancel_and_modify_priority():
    b = OrderBook()
    b.submit(1, SELL, 100, 10)
    b.submit(2, SELL, 100, 10)
    b.modify(1, 100, 4)  # reduce at same price: keeps priority
    r = b.submit(3, BUY, 100, 4)
    assert r.fills[0].maker_id == 1
    b.submit(4, SELL, 100, 10)
    b.modify(2, 100, 12)  # increase: loses priority, now behind 4
    r = b.submit(5, BUY, 100, 10)
    assert [f.maker_id for f in r.fills] == [4]
    assert b.cancel(2) == 12
    with pytest.raises(UnknownOrder):
        b.cancel(2)
    # a modify to a crossing price trades at once
    b.submit(6, BUY, 90, 3)
    r = b.modify(6, 100, 3)
    assert r.fills == [] or r.fills[0].price == 100


def test_gate_closure_expires_resting_and_refuses_new():
    b = OrderBook()
    b.submit(1, SELL, 100, 10)
    b.submit(2, BUY, 90, 10)
    assert b.close() == [1, 2]
    with pytest.raises(BookClosed):
        b.submit(3, BUY, 100, 1)


class _Reference:
    """A brute-force book: a list of resting orders, matched by sorting on every message."""

    def __init__(self):
        self.rest = []  # [seq, oid, side, price, qty]
        self.seq = 0

    def submit(self, oid, side, price, qty, kind):
        opp = sorted(
            (r for r in self.rest if r[2] == -side and (r[3] <= price if side == BUY else r[3] >= price)),
            key=lambda r: (r[3] if side == BUY else -r[3], r[0]),
        )
        if kind == FOK and sum(r[4] for r in opp) < qty:
            return []
        fills = []
        for r in opp:
            if not qty:
                break
            take = min(qty, r[4])
            fills.append((r[1], oid, r[3], take))
            r[4] -= take
            qty -= take
        self.rest = [r for r in self.rest if r[4] > 0]
        if qty and kind == "limit":
            self.seq += 1
            self.rest.append([self.seq, oid, side, price, qty])
        return fills

    def cancel(self, oid):
        self.rest = [r for r in self.rest if r[1] != oid]

    def modify(self, oid, price, qty):
        r = next(r for r in self.rest if r[1] == oid)
        if price == r[3] and qty <= r[4]:
            r[4] = qty
            return []
        self.cancel(oid)
        return self.submit(oid, r[2], price, qty, "limit")


def test_book_matches_a_brute_force_reference_on_random_streams():
    import random

    for seed in range(30):
        rng = random.Random(seed)
        book, ref = OrderBook(), _Reference()
        live, nid = [], 1
        for _ in range(300):
            r = rng.random()
            if r < 0.6 or not live:
                side, price, qty = rng.choice((BUY, SELL)), rng.randint(95, 105), rng.randint(1, 20)
                kind = rng.choice(("limit", "limit", "limit", FOK, FAK))
                got = [(f.maker_id, f.taker_id, f.price, f.qty) for f in book.submit(nid, side, price, qty, kind).fills]
                assert got == ref.submit(nid, side, price, qty, kind)
                live.append(nid)
                nid += 1
            elif r < 0.8:
                oid = live.pop(rng.randrange(len(live)))
                if book.order(oid) is not None:
                    book.cancel(oid)
                    ref.cancel(oid)
            else:
                oid = live[rng.randrange(len(live))]
                cur = book.order(oid)
                if cur is None:
                    continue
                price, qty = cur[1] + rng.randint(-2, 2), rng.randint(1, 20)
                got = [(f.maker_id, f.taker_id, f.price, f.qty) for f in book.modify(oid, price, qty).fills]
                assert got == ref.modify(oid, price, qty)
        assert sorted(book.depth(BUY)) == sorted(
            {
                (p, sum(r[4] for r in ref.rest if r[2] == BUY and r[3] == p))
                for p in {r[3] for r in ref.rest if r[2] == BUY}
            }
        )
