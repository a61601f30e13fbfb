"""The uniform-price auction engine: worked numbers, blocks (all-or-none), determinism, and properties."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from market.engine.auction import BUY, SELL, clear


def _clear(rows, block=None):
    g, s, p, q = zip(*rows, strict=True)
    n = len(rows)
    return clear(group=g, side=s, price=p, qty=q, priority=list(range(n)), order_id=list(range(n)), block=block)


def test_worked_example_marginal_offer_sets_the_price():
    # Offers 5 @ 10, 5 @ 20; bids 4 @ 30, 4 @ 15. At 5 units supply (10) ≤ demand (15); the 6th unit costs 20
    # but the only remaining demand bids 15: Q = 5, price = 10 (the marginal accepted offer).
    r = _clear([(0, SELL, 1000, 5), (0, SELL, 2000, 5), (0, BUY, 3000, 4), (0, BUY, 1500, 4)])
    assert r.accepted.tolist() == [5, 0, 4, 1]
    assert r.price.tolist() == [1000] and r.volume.tolist() == [5]


def test_no_cross_no_price():
    r = _clear([(0, SELL, 500, 3), (0, BUY, 400, 3)])
    assert r.accepted.tolist() == [0, 0] and r.price.tolist() == [-1]


def test_ties_broken_by_time_then_id():
    r = clear(
        group=[0, 0, 0],
        side=[SELL, SELL, BUY],
        price=[10, 10, 20],
        qty=[5, 5, 5],
        priority=[2, 1, 0],
        order_id=[1, 2, 3],
    )
    assert r.accepted.tolist() == [0, 5, 5]  # the earlier offer (priority 1) wins


def test_block_all_or_none_partial_block_rejected():
    # Block 7: 5 @ 10 in intervals 0 and 1; demand 5 in interval 0 but only 2 in interval 1 → partial → rejected;
    # a divisible 2 @ 15 in interval 1 then clears.
    r = clear(
        group=[0, 1, 1, 0, 1],
        side=[SELL, SELL, SELL, BUY, BUY],
        price=[10, 10, 15, 20, 20],
        qty=[5, 5, 2, 5, 2],
        priority=[0, 0, 1, 2, 3],
        order_id=[1, 1, 2, 3, 4],
        block=[7, 7, -1, -1, -1],
    )
    assert r.rejected_blocks.tolist() == [7]
    assert r.accepted.tolist() == [0, 0, 2, 0, 2]
    assert r.price.tolist() == [-1, 15]


def test_block_fully_accepted_kept_and_never_at_a_loss():
    r = clear(
        group=[0, 1, 0, 1],
        side=[SELL, SELL, BUY, BUY],
        price=[10, 10, 20, 20],
        qty=[5, 5, 6, 6],
        priority=[0, 0, 1, 2],
        order_id=[1, 1, 2, 3],
        block=[1, 1, -1, -1],
    )
    assert r.accepted.tolist() == [5, 5, 5, 5] and r.rejected_blocks.tolist() == []
    assert all(p >= 10 for p in r.price.tolist())


def test_same_orders_same_result_in_any_input_order():
    rng = np.random.default_rng(3)
    n = 400
    g, s = rng.integers(0, 5, n), rng.choice([SELL, BUY], n)
    p, q = rng.integers(0, 100, n), rng.integers(1, 50, n)
    prio, oid = rng.permutation(n), np.arange(n)
    a = clear(group=g, side=s, price=p, qty=q, priority=prio, order_id=oid)
    perm = rng.permutation(n)
    b = clear(group=g[perm], side=s[perm], price=p[perm], qty=q[perm], priority=prio[perm], order_id=oid[perm])
    assert np.array_equal(a.accepted[perm], b.accepted) and np.array_equal(a.price, b.price)


order = st.tuples(st.integers(0, 2), st.sampled_from([SELL, BUY]), st.integers(0, 50), st.integers(1, 30))


@settings(max_examples=300, deadline=None)
@given(st.lists(order, min_size=1, max_size=40))
def test_property_uniform_price_never_over_awards_and_prices_are_consistent(rows):
    r = _clear(rows)
    g, s, p, q = (np.array(x) for x in zip(*rows, strict=True))
    acc = r.accepted
    assert (acc >= 0).all() and (acc <= q).all()
    for k, grp in enumerate(r.groups):
        m = g == grp
        sold, bought = acc[m & (s == SELL)].sum(), acc[m & (s == BUY)].sum()
        assert sold == bought == r.volume[k]
        assert sold <= q[m & (s == SELL)].sum() and bought <= q[m & (s == BUY)].sum()
        if sold == 0:
            assert r.price[k] == -1
            # nothing cleared only if no offer is at or below some bid
            asks, bids = p[m & (s == SELL)], p[m & (s == BUY)]
            assert len(asks) == 0 or len(bids) == 0 or asks.min() > bids.max()
            continue
        price = r.price[k]
        assert (p[m & (s == SELL) & (acc > 0)] <= price).all()
        assert (p[m & (s == BUY) & (acc > 0)] >= price).all()
        # efficiency: no rejected offer is cheaper than a rejected bid is willing to pay (gains left untraded)
        rest_ask = p[m & (s == SELL) & (acc < q)]
        rest_bid = p[m & (s == BUY) & (acc < q)]
        assert len(rest_ask) == 0 or len(rest_bid) == 0 or rest_ask.min() > rest_bid.max()
