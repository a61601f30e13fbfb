"""Sealed-bid uniform-price auction, vectorised over many (zone, interval) groups at once.

Used for the clearing of a single operator request (one group, one bid) in :mod:`market.clearing`, and as the
warm start and time-limit fallback of the day-ahead and seasonal clearing at the welfare optimum
(:mod:`market.engine.optimum`, rule ``uniform-auction-2``), which replaced it there; clearings stored under this
rule still re-run with it.

Rule (rule version ``uniform-auction-1``), per group:

* Sell offers are sorted by price ascending, buy bids by price descending; ties by submission time, then id.
* The cleared volume ``Q`` is the largest quantity at which the supply curve is at or below the demand curve:
  ``Q = max_i min(S_i, D(p_i))`` where ``S_i`` is the cumulative supply up to offer ``i`` and ``D(p)`` the
  demand bidding at least ``p``. Offers and bids are accepted in merit order up to ``Q``; the marginal ones
  may be accepted in part (divisible orders).
* Every accepted order is settled at one clearing price: the price of the marginal (most expensive) accepted
  offer, the pay-as-cleared rule of ISO energy and DR markets (e.g. PJM under FERC Order 745). Every
  accepted offer's price ≤ clearing price ≤ every accepted bid's price; no group awards more than its supply
  or its demand. A group with no accepted offer has no price.

Block orders (sell side, all-or-none across several intervals) use the iterative rejection heuristic of
EUPHEMIA-style day-ahead coupling, simplified: clear with every block as if divisible; while some block is
accepted only in part (its fill ratio, the minimum over its intervals of accepted/offered, lies strictly
between 0 and 1 — or is 0 in one interval but positive in another), reject, in each group that holds such a
block, the worst one (lowest fill ratio, then highest price, then latest time, then highest id) and clear
again. Removing an offer never lowers any other offer's acceptance, so blocks that were fully accepted stay
fully accepted: the result has no paradoxically accepted block (none runs at a loss); paradoxically rejected
blocks are possible, as in EUPHEMIA. It terminates after at most as many rounds as there are blocks.

Pure numpy over int64 arrays (watts, cents): exact and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RULE_VERSION = "uniform-auction-1"
SELL, BUY = 1, -1


@dataclass
class AuctionResult:
    accepted: np.ndarray  # int64 per input order (watts)
    groups: np.ndarray  # the distinct group keys
    price: np.ndarray  # int64 clearing price per group (cents), -1 where nothing cleared
    volume: np.ndarray  # int64 cleared volume per group (watts)
    rejected_blocks: np.ndarray  # block ids rejected by the all-or-none heuristic
    rounds: int = 1
    rule_version: str = RULE_VERSION

    def price_of(self, group: int) -> int:
        i = int(np.searchsorted(self.groups, group))
        return int(self.price[i]) if i < len(self.groups) and self.groups[i] == group else -1


def _segment_prev_cumsum(qty: np.ndarray, gidx: np.ndarray) -> np.ndarray:
    """For rows sorted by group: the quantity before each row within its group."""
    cs = np.cumsum(qty)
    prev = cs - qty
    if len(qty) == 0:
        return prev
    starts = np.flatnonzero(np.r_[True, gidx[1:] != gidx[:-1]])
    base = np.repeat(prev[starts], np.diff(np.r_[starts, len(qty)]))
    return prev - base


def _clear_once(
    g: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    prio: np.ndarray,
    oid: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(g)
    accepted = np.zeros(n, dtype=np.int64)
    ask = np.flatnonzero(side == SELL)
    bid = np.flatnonzero(side == BUY)
    volume = np.zeros(n_groups, dtype=np.int64)
    clearing = np.full(n_groups, -1, dtype=np.int64)
    if len(ask) == 0 or len(bid) == 0:
        return accepted, clearing, volume
    pmin = int(price.min())
    span = int(price.max()) - pmin + 2
    # Demand at or above a price, per group: bids sorted by (group, price) with a composite key.
    bkey = g[bid] * span + (price[bid] - pmin)
    border = np.argsort(bkey, kind="stable")
    bkey_sorted = bkey[border]
    bcs = np.r_[0, np.cumsum(qty[bid][border])]
    # Offers in merit order within each group.
    aorder = ask[np.lexsort((oid[ask], prio[ask], price[ask], g[ask]))]
    ag, ap, aq = g[aorder], price[aorder], qty[aorder]
    s_prev = _segment_prev_cumsum(aq, ag)
    lo = np.searchsorted(bkey_sorted, ag * span + (ap - pmin), side="left")
    hi = np.searchsorted(bkey_sorted, (ag + 1) * span, side="left")
    demand_at = bcs[hi] - bcs[lo]
    cand = np.minimum(s_prev + aq, demand_at)
    np.maximum.at(volume, ag, cand)
    acc = np.clip(volume[ag] - s_prev, 0, aq)
    accepted[aorder] = acc
    took = acc > 0
    np.maximum.at(clearing, ag[took], ap[took])
    # Bids in merit order (price descending) up to the cleared volume.
    order_b = bid[np.lexsort((oid[bid], prio[bid], -price[bid], g[bid]))]
    bg, bq = g[order_b], qty[order_b]
    b_prev = _segment_prev_cumsum(bq, bg)
    accepted[order_b] = np.clip(volume[bg] - b_prev, 0, bq)
    return accepted, clearing, volume


def clear(
    *,
    group: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    priority: np.ndarray,
    order_id: np.ndarray,
    block: np.ndarray | None = None,
    max_rounds: int | None = None,
) -> AuctionResult:
    """Clear every group at once. ``block`` gives a block id per row (-1: not a block); a block's rows share
    its id and each row is one interval of the block."""
    group = np.asarray(group, dtype=np.int64)
    side = np.asarray(side, dtype=np.int8)
    price = np.asarray(price, dtype=np.int64)
    qty = np.asarray(qty, dtype=np.int64)
    priority = np.asarray(priority, dtype=np.int64)
    order_id = np.asarray(order_id, dtype=np.int64)
    groups, gidx = np.unique(group, return_inverse=True)
    gidx = gidx.astype(np.int64)
    ng = len(groups)
    if block is None:
        acc, pr, vol = _clear_once(gidx, side, price, qty, priority, order_id, ng)
        return AuctionResult(acc, groups, pr, vol, np.zeros(0, dtype=np.int64))
    block = np.asarray(block, dtype=np.int64)
    live = np.ones(len(group), dtype=bool)
    rejected: list[np.ndarray] = []
    rounds = 0
    is_block = block >= 0
    while True:
        rounds += 1
        q_live = np.where(live, qty, 0)
        acc, pr, vol = _clear_once(gidx, side, price, q_live, priority, order_id, ng)
        rows = np.flatnonzero(is_block & live)
        if len(rows) == 0:
            break
        ratio = acc[rows] / qty[rows]
        bids_, binv = np.unique(block[rows], return_inverse=True)
        bmin = np.full(len(bids_), np.inf)
        bmax = np.zeros(len(bids_))
        np.minimum.at(bmin, binv, ratio)
        np.maximum.at(bmax, binv, ratio)
        partial = (bmin < 1) & (bmax > 0)
        if not partial.any() or (max_rounds is not None and rounds >= max_rounds):
            if partial.any():  # out of rounds: reject what is still partial
                bad = bids_[partial]
                rejected.append(bad)
                live &= ~np.isin(block, bad)
                acc, pr, vol = _clear_once(gidx, side, price, np.where(live, qty, 0), priority, order_id, ng)
            break
        # Per group holding a partial block, reject its worst partial block.
        prow = rows[partial[binv]]
        pb = binv[partial[binv]]
        worst = np.lexsort((-order_id[prow], -priority[prow], -price[prow], bmin[pb], gidx[prow]))
        pg = gidx[prow][worst]
        first = np.r_[True, pg[1:] != pg[:-1]]
        bad = np.unique(block[prow][worst][first])
        rejected.append(bad)
        live &= ~np.isin(block, bad)
    rej = np.unique(np.concatenate(rejected)) if rejected else np.zeros(0, dtype=np.int64)
    acc = np.where(live, acc, 0)
    return AuctionResult(acc, groups, pr, vol, rej, rounds)
