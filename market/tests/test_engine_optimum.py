"""The day-ahead clearing at the welfare optimum (``market.engine.optimum``, rule ``uniform-auction-2``): cases the
heuristic loses, the pricing rule when supply runs out, the time-limit fallback, re-run determinism, and
properties against the heuristic and against an independent brute force (an LP per block selection)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from market.engine.auction import BUY, SELL, clear
from market.engine.optimum import clear_optimal


def _rows(rows):
    """rows: (group, side, price, qty, block id or -1); priority and id = position."""
    g, s, p, q, b = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
    n = len(rows)
    return dict(group=g, side=s, price=p, qty=q, priority=np.arange(n), order_id=np.arange(n), block=b)


def _welfare(o, accepted):
    value = o["price"] * accepted
    return int(value[o["side"] == BUY].sum() - value[o["side"] == SELL].sum())


def test_cheap_block_rejected_by_the_heuristic_because_one_interval_is_marginal():
    # Block 7: 10 @ 20 in intervals 0 and 1. Demand 10 @ 100 in each. Interval 1 also has 5 @ 10, cheaper than
    # the block: the heuristic fills the block only 5 of 10 there and rejects it (welfare 5 × 90 = 450).
    # The optimum accepts it: out of the money in interval 1 (the displaced offer prices it at 10), profitable
    # over its span: 2 × 10 × (100 − 20) = 1,600.
    o = _rows(
        [(0, SELL, 20, 10, 7), (1, SELL, 20, 10, 7), (1, SELL, 10, 5, -1), (0, BUY, 100, 10, -1), (1, BUY, 100, 10, -1)]
    )
    h = clear(**o)
    assert h.rejected_blocks.tolist() == [7] and _welfare(o, h.accepted) == 450
    r = clear_optimal(**o, readmit=False)
    assert r.accepted.tolist() == [10, 10, 0, 10, 10] and r.accepted_blocks.tolist() == [7]
    assert r.solver.objective == _welfare(o, r.accepted) == 1600 and r.solver.bound == 1600
    assert r.solver.heuristic_objective == 450 and r.solver.status == "optimal"
    # interval 1 at 10 (the block is out of the money there); interval 0 rises from 20 to 30 so the block breaks
    # even over its span: 10 × 30 + 10 × 10 = 400 = its cost.
    assert r.price.tolist() == [30, 10] and r.volume.tolist() == [10, 10]


def test_two_blocks_fit_together_once_the_cheaper_divisible_offer_makes_way():
    # Blocks A (intervals 0–1) and B (1–2), 10 @ 50 each. Demand 10 @ 100 in 0 and 2, 20 @ 100 in 1, where a
    # divisible 5 @ 30 also sells. The heuristic leaves B partial in interval 1 and rejects it (welfare 1,350);
    # both together displace the divisible offer: 2,000.
    o = _rows(
        [
            (0, SELL, 50, 10, 1), (1, SELL, 50, 10, 1),
            (1, SELL, 50, 10, 2), (2, SELL, 50, 10, 2),
            (1, SELL, 30, 5, -1),
            (0, BUY, 100, 10, -1), (1, BUY, 100, 20, -1), (2, BUY, 100, 10, -1),
        ]
    )  # fmt: skip
    h = clear(**o)
    assert h.rejected_blocks.tolist() == [2] and _welfare(o, h.accepted) == 1350
    r = clear_optimal(**o)
    assert r.accepted_blocks.tolist() == [1, 2] and r.solver.objective == 2000
    assert r.accepted[4] == 0  # the divisible offer made way
    income = {b: sum(int(r.price[g]) * 10 for g in gs) for b, gs in {1: (0, 1), 2: (1, 2)}.items()}
    assert all(v >= 1000 for v in income.values())  # neither block runs at a loss over its span


def test_pricing_when_supply_runs_out_stays_at_the_marginal_offer():
    # ADR: offers 5 @ 10 and 5 @ 20; bids 4 @ 30 and 4 @ 15. 5 units clear; the bid at 15 gets 1 of 4 although it
    # bids above the price: supply at or below 15 has run out. The price stays at the marginal (dearest accepted)
    # offer, 10, not the marginal bid's 15 — under both rules.
    o = _rows([(0, SELL, 10, 5, -1), (0, SELL, 20, 5, -1), (0, BUY, 30, 4, -1), (0, BUY, 15, 4, -1)])
    r = clear_optimal(**o)
    assert r.accepted.tolist() == [5, 0, 4, 1] and r.price.tolist() == [10] and r.volume.tolist() == [5]
    assert clear(**o).price.tolist() == [10]
    # All supply sold, demand left over at 99: the price is the offer's 30.
    o = _rows([(0, SELL, 30, 120, -1), (0, BUY, 99, 150, -1)])
    assert clear_optimal(**o).price.tolist() == [30]


def test_an_accepted_block_can_set_the_price_and_a_block_that_does_not_fit_is_rejected():
    o = _rows(
        [(0, SELL, 40, 10, 3), (1, SELL, 40, 10, 3), (0, BUY, 90, 10, -1), (1, BUY, 90, 6, -1), (0, SELL, 60, 5, -1)]
    )
    r = clear_optimal(**o)  # 10 in interval 1 exceeds its demand of 6: no selection holds the block
    assert r.rejected_blocks.tolist() == [3] and r.price.tolist() == [60, -1]
    o = _rows(
        [(0, SELL, 40, 10, 3), (1, SELL, 40, 10, 3), (0, BUY, 90, 10, -1), (1, BUY, 90, 10, -1), (0, SELL, 60, 5, -1)]
    )
    r = clear_optimal(**o)
    assert r.accepted_blocks.tolist() == [3] and r.price.tolist() == [40, 40]  # the block is the marginal offer


def _instance(seed, n_groups=4, n_orders=40, n_blocks=8, block_len=2):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n_orders)
    s = np.where(rng.random(n_orders) < 0.55, SELL, BUY)
    p = np.where(s == SELL, rng.integers(10, 80, n_orders), rng.integers(30, 100, n_orders))
    q = rng.integers(1, 30, n_orders)
    rows = [(int(g[i]), int(s[i]), int(p[i]), int(q[i]), -1) for i in range(n_orders)]
    for b in range(n_blocks):
        start = int(rng.integers(0, n_groups - block_len + 1))
        price, qty = int(rng.integers(10, 70)), int(rng.integers(5, 40))
        rows += [(start + k, SELL, price, qty, 1000 + b) for k in range(block_len)]
    return _rows(rows)


def test_rerun_is_identical_and_input_order_does_not_matter():
    o = _instance(11, n_groups=6, n_orders=120, n_blocks=20, block_len=3)
    a, b = clear_optimal(**o), clear_optimal(**o)
    assert np.array_equal(a.accepted, b.accepted) and np.array_equal(a.price, b.price)
    assert a.solver.objective == b.solver.objective and a.solver.fallback == b.solver.fallback
    perm = np.random.default_rng(5).permutation(len(o["group"]))
    c = clear_optimal(**{k: v[perm] for k, v in o.items()})
    assert np.array_equal(a.accepted[perm], c.accepted) and np.array_equal(a.price, c.price)


def test_solver_and_enumeration_agree_and_the_milp_path_proves_its_bound():
    cut_rounds = 0
    for seed in range(6):
        o = _instance(seed, n_groups=5, n_orders=60, n_blocks=10, block_len=2)
        enum = clear_optimal(**o, readmit=False)
        solved = clear_optimal(**o, readmit=False, enumerate_up_to=0)
        assert solved.solver.rounds >= solved.solver.components and solved.solver.status == "optimal"
        cut_rounds += solved.solver.rounds - solved.solver.components
        assert abs(solved.solver.objective - enum.solver.objective) <= 1e-4 * abs(enum.solver.objective)
        assert solved.solver.gap is not None and solved.solver.gap <= 1e-4
        _check_invariants(o, solved)
    assert cut_rounds >= 2  # the first solve accepted a block at a loss: the cut loop ran (seeds 0 and 1)


def test_components_solved_in_parallel_give_the_same_result():
    o = _instance(21, n_groups=40, n_orders=400, n_blocks=10, block_len=2)
    one = clear_optimal(**o, enumerate_up_to=0, workers=1)
    two = clear_optimal(**o, enumerate_up_to=0, workers=2)
    assert one.solver.components > 1
    assert np.array_equal(one.accepted, two.accepted) and np.array_equal(one.price, two.price)


def test_time_limit_falls_back_to_the_heuristic_and_a_rerun_with_the_fallback_reproduces_it():
    o = _instance(3, n_groups=6, n_orders=100, n_blocks=16, block_len=3)
    r = clear_optimal(**o, time_limit=0.0, readmit=False)
    h = clear(**o)
    assert r.solver.status == "time_limit" and r.solver.bound is None and r.solver.gap is None
    assert len(r.solver.fallback) == r.solver.components > 0
    assert r.solver.objective == r.solver.heuristic_objective == _welfare(o, h.accepted)
    again = clear_optimal(**o, time_limit=60.0, readmit=False, fallback=r.solver.fallback)
    assert np.array_equal(again.accepted, r.accepted) and np.array_equal(again.price, r.price)


def test_without_blocks_it_is_the_heuristic_clearing():
    o = _instance(4, n_blocks=0)
    r, h = clear_optimal(**o), clear(**o)
    assert np.array_equal(r.accepted, h.accepted) and np.array_equal(r.price, h.price)
    assert r.solver.status == "closed_form" and r.solver.gap == 0.0


def _check_invariants(o, r):
    g, s, p, q, blk = o["group"], o["side"], o["price"], o["qty"], o["block"]
    acc = r.accepted
    assert ((acc >= 0) & (acc <= q)).all()
    for b in np.unique(blk[blk >= 0]):  # all or none
        m = blk == b
        assert (acc[m] == q[m]).all() or (acc[m] == 0).all()
    for k, grp in enumerate(r.groups):
        m = g == grp
        sold, bought = acc[m & (s == SELL)].sum(), acc[m & (s == BUY)].sum()
        assert sold == bought == r.volume[k]
        if sold == 0:
            assert r.price[k] == -1
            continue
        price, div = r.price[k], m & (blk < 0)
        assert (p[div & (s == SELL) & (acc > 0)] <= price).all()  # accepted offers at or below the price
        assert (p[div & (s == SELL) & (acc < q)] >= price).all()  # no cheaper offer left out
        assert (p[m & (s == BUY) & (acc > 0)] >= price).all()  # no buyer pays above its bid
        rest_ask, rest_bid = p[div & (s == SELL) & (acc < q)], p[m & (s == BUY) & (acc < q)]
        assert len(rest_ask) == 0 or len(rest_bid) == 0 or rest_ask.min() > rest_bid.max()
    for b in r.accepted_blocks:  # no paradoxically accepted block: whole at a profit at the published prices
        m = blk == b
        gi = np.searchsorted(r.groups, g[m])
        assert (r.price[gi] * q[m]).sum() >= (p[m] * q[m]).sum()


def _brute_force(o):
    """Best welfare over block selections that no price vector clearing the divisible orders leaves at a loss,
    by LPs on the raw orders (no curve, no closed form): the primal welfare per selection, then the dual
    (prices and order surpluses) with the blocks' income constraints."""
    g, s, p, q, blk = o["group"], o["side"], o["price"], o["qty"], o["block"]
    groups = np.unique(g)
    div = np.flatnonzero(blk < 0)
    ids = np.unique(blk[blk >= 0])
    best = None
    for sel in itertools.product([0, 1], repeat=len(ids)):
        on = {int(b) for b, x in zip(ids, sel, strict=True) if x}
        inj = np.array([q[(g == k) & np.isin(blk, list(on))].sum() for k in groups], dtype=float)
        sign = np.where(s[div] == BUY, 1.0, -1.0)
        a_eq = np.array([(g[div] == k) * sign for k in groups], dtype=float)
        res = linprog(-(sign * p[div]), A_eq=a_eq, b_eq=inj, bounds=[(0, int(x)) for x in q[div]], method="highs")
        if res.status != 0:
            continue
        w_div = -res.fun
        if on:  # dual: prices π_k (free) and surpluses u_i ≥ 0 at the optimum, each accepted block whole
            nk, nd = len(groups), len(div)
            gi = np.searchsorted(groups, g[div])
            a_ub, b_ub = [], []
            for i in range(nd):  # bid: π + u ≥ p ; offer: −π + u ≥ −p
                row = np.zeros(nk + nd)
                row[gi[i]] = -sign[i]
                row[nk + i] = -1
                a_ub.append(row)
                b_ub.append(-sign[i] * p[div][i])
            row = np.r_[inj, q[div].astype(float)]  # strong duality
            a_ub.append(row)
            b_ub.append(w_div + 1e-6 * max(1.0, abs(w_div)))
            for b in on:
                m = blk == b
                row = np.zeros(nk + nd)
                np.add.at(row, np.searchsorted(groups, g[m]), -q[m].astype(float))
                a_ub.append(row)
                b_ub.append(-float((p[m] * q[m]).sum()))
            bounds = [(None, None)] * nk + [(0, None)] * nd
            if linprog(np.zeros(nk + nd), A_ub=np.array(a_ub), b_ub=b_ub, bounds=bounds, method="highs").status != 0:
                continue
        w = w_div - sum(float((p[blk == b] * q[blk == b]).sum()) for b in on)
        best = w if best is None else max(best, w)
    return best


block_strategy = st.tuples(st.integers(0, 2), st.integers(1, 2), st.integers(5, 60), st.integers(1, 25))
order_strategy = st.tuples(st.integers(0, 2), st.sampled_from([SELL, BUY]), st.integers(0, 80), st.integers(1, 25))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(order_strategy, min_size=1, max_size=18), st.lists(block_strategy, max_size=4))
def test_property_never_below_the_heuristic_keeps_every_invariant_and_is_optimal(orders, blocks):
    rows = [(*o, -1) for o in orders]
    for b, (start, length, price, qty) in enumerate(blocks):
        rows += [(start + k, SELL, price, qty, 100 + b) for k in range(length)]
    o = _rows(rows)
    r = clear_optimal(**o)
    assert r.solver.objective >= _welfare(o, clear(**o).accepted)
    assert r.solver.objective == _welfare(o, r.accepted)
    _check_invariants(o, r)
    best = _brute_force(o)
    assert abs(r.solver.objective - best) <= 1e-6 * max(1.0, abs(best))
    r2 = clear_optimal(**o, enumerate_up_to=0)  # the MILP path reaches the same welfare
    assert abs(r2.solver.objective - best) <= 1e-4 * max(1.0, abs(best))
    _check_invariants(o, r2)
