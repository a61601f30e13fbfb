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
