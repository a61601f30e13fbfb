"""Each group's divisible orders as one concave welfare curve, cleared in closed form for a given block injection.

Used by :mod:`market.engine.optimum` (rule version ``uniform-auction-2``). Accepted block orders are price-takers
(as in EUPHEMIA): in a group (zone × interval) they inject a fixed quantity ``B`` of supply, and the divisible
bids and offers clear around it. Lay the group's divisible orders end to end in the order bids and offers are
given up as the injection grows — price descending; at one price bids before offers; among bids the earlier
(priority, then id) first, among offers the later first — starting at minus the group's total offered quantity.
Every order is then a segment ``[start, start + qty)`` of the injection axis with slope = its price, and

* the welfare of the divisible orders at injection ``B`` is ``f(B) = f(0) + sum of price × (overlap of the
  segment with [0, B))``: concave and piecewise linear, its slope the clearing price (the excess-demand curve);
* a bid is accepted for the part of its segment below ``B``, an offer for the part above ``B``: with ``B = 0`` this
  is exactly the merit-order clearing of :func:`market.engine.auction.clear` (largest volume, ties by time);
* the prices that clear the divisible orders at ``B`` form the range ``[lo, hi]``: ``lo``, the slope just right of
  ``B``, is the higher of the dearest accepted offer's price and the highest price of a bid not wholly filled;
  ``hi``, the slope just left, is the lower of the cheapest price of an offer not wholly accepted and the lowest
  price of an accepted bid. Inside a segment both are that order's price.

Integer watts and cents per MWh: every quantity here is exact, so equal inputs give equal outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SELL, BUY = 1, -1
NO_PRICE = -1
NEG_INF = np.iinfo(np.int64).min
POS_INF = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Curves:
    rows: np.ndarray  # input row index per curve position
    g: np.ndarray  # group index per curve position
    price: np.ndarray
    qty: np.ndarray
    is_bid: np.ndarray
    start: np.ndarray  # segment start on the group's injection axis
    zero: np.ndarray  # per group: the global coordinate of its injection 0
    gstart: np.ndarray  # per group: first curve position
    gend: np.ndarray  # per group: one past the last
    demand: np.ndarray  # per group: total bid quantity (the largest injection the group can take)

    @property
    def astart(self) -> np.ndarray:  # global coordinate of each segment's start
        return self.start + self.zero[self.g]


def build(
    *,
    gidx: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    priority: np.ndarray,
    order_id: np.ndarray,
    rows: np.ndarray,
    n_groups: int,
) -> Curves:
    """The curves of the divisible ``rows`` (indices into the other arrays) of ``n_groups`` groups."""
    g, s, p, q = gidx[rows], side[rows], price[rows], qty[rows]
    bid = s == BUY
    tie1 = np.where(bid, priority[rows], -priority[rows])
    tie2 = np.where(bid, order_id[rows], -order_id[rows])
    order = np.lexsort((tie2, tie1, (~bid).astype(np.int8), -p, g))
    g, p, q, bid, rows = g[order], p[order], q[order], bid[order], rows[order]
    counts = np.bincount(g, minlength=n_groups)
    gend = np.cumsum(counts)
    gstart = gend - counts
    cs = np.cumsum(q)
    astart = cs - q
    base = np.r_[0, cs][gstart]
    offered = np.bincount(g[~bid], weights=q[~bid], minlength=n_groups).astype(np.int64)
    demand = np.bincount(g[bid], weights=q[bid], minlength=n_groups).astype(np.int64)
    zero = base + offered
    return Curves(rows, g, p, q, bid, astart - zero[g], zero, gstart, gend, demand)


@dataclass(frozen=True)
class Cleared:
    accepted: np.ndarray  # per curve position
    volume: np.ndarray  # per group
    lo: np.ndarray  # per group: lowest clearing price (NEG_INF: none below, the injection meets all demand)
    hi: np.ndarray  # per group: highest clearing price (POS_INF: none above)


def clear_at(c: Curves, injection: np.ndarray) -> Cleared:
    """Closed-form clearing of every group's divisible orders with ``injection`` watts of block supply."""
    passed = np.clip(injection[c.g] - c.start, 0, c.qty)
    accepted = np.where(c.is_bid, passed, c.qty - passed)
    n = len(c.zero)
    volume = np.bincount(c.g[c.is_bid], weights=accepted[c.is_bid], minlength=n).astype(np.int64)
    where = c.zero + injection
    ends = c.start + c.zero[c.g] + c.qty
    first = np.searchsorted(ends, where, side="right")
    last = np.searchsorted(c.start + c.zero[c.g], where, side="left") - 1
    ok_lo = first < c.gend
    ok_hi = last >= c.gstart
    lo = np.where(ok_lo, c.price[np.minimum(first, len(c.price) - 1)], NEG_INF) if len(c.price) else np.full(n, NEG_INF)
    hi = np.where(ok_hi, c.price[np.maximum(last, 0)], POS_INF) if len(c.price) else np.full(n, POS_INF)
    return Cleared(accepted, volume, lo.astype(np.int64), hi.astype(np.int64))


def gain(c: Curves, group: int, b0: int, b1: int) -> int:
    """``f(b1) - f(b0)`` for one group: the divisible orders' welfare change when the injection moves."""
    sl = slice(c.gstart[group], c.gend[group])
    s, q, p = c.start[sl], c.qty[sl], c.price[sl]
    lo, hi = (b0, b1) if b0 <= b1 else (b1, b0)
    overlap = np.clip(np.minimum(s + q, hi) - np.maximum(s, lo), 0, None)
    total = int((p * overlap).sum())
    return total if b0 <= b1 else -total


def hi_at(c: Curves, group: int, b: int) -> int:
    """The highest clearing price of one group at injection ``b`` (> 0): the slope just left of ``b``."""
    sl = slice(c.gstart[group], c.gend[group])
    k = int(np.searchsorted(c.start[sl], b, side="left")) - 1
    return int(c.price[sl][k]) if k >= 0 else int(POS_INF)


def segments(c: Curves, group: int, bmax: int) -> tuple[np.ndarray, np.ndarray]:
    """(slope, length) of the group's curve on ``[0, bmax]``, in order: the MILP's description of ``f``."""
    sl = slice(c.gstart[group], c.gend[group])
    s, q, p = c.start[sl], c.qty[sl], c.price[sl]
    length = np.clip(np.minimum(s + q, bmax) - np.maximum(s, 0), 0, None)
    keep = length > 0
    return p[keep], length[keep]
