"""Day-ahead clearing at the welfare optimum with all-or-none block orders (rule version ``uniform-auction-2``).

Used for the day-ahead and seasonal auctions (``market.services.auctions``). The heuristic of
:func:`market.engine.auction.clear` (rule ``uniform-auction-1``) stays as it is: it is the warm start and the
fallback here, and the fast path for the single-request clearing (``market.clearing``).

Rule, per auction:

1. **Selection.** Accepted block orders are price-takers: each injects its quantity into every group (zone ×
   interval) of its span, and the divisible orders clear around the injection in closed form
   (:mod:`market.engine.curves`: merit order, largest volume, ties by time then id). The accepted set of blocks
   maximises welfare (bids' value minus offers' cost) subject to: every block wholly accepted or rejected, every
   group balanced, and no paradoxically accepted block — an accepted block must not run at a loss over its
   whole span (EUPHEMIA's condition: it may be out of the money in some intervals). Solved per connected
   component of groups that blocks tie together (:mod:`market.engine.block_milp`: HiGHS MILP and cut loop,
   warm-started from the heuristic); groups no block touches are cleared in closed form only. A component whose
   solve does not finish within the time limit keeps the heuristic's selection (named in ``fallback``, so a
   re-run reproduces it).
2. **Re-admission.** Rejected blocks in the money are tried once more, best first: one is admitted when the
   welfare does not fall and no accepted block then runs at a loss (EUPHEMIA's "PRB reinsertion"). The count of
   paradoxically rejected blocks left (rejected, yet in the money at the published prices) is reported.
3. **Prices** (docs/adr/0019-day-ahead-welfare-optimum.md). In each group with volume, the price is that of the
   dearest accepted offer, block or divisible — the marginal offer, as in ``uniform-auction-1`` and the request clearing, also
   when demand exceeds supply there (bids above it then stay unfilled: nothing is left to sell them) — but never
   above ``hi``, the highest price that clears the divisible orders (a block priced above it is out of the money
   in that group). Where an accepted block would still run at a loss over its span, prices in its groups rise,
   within ``hi``, by the least total payment (a small LP, rounded up to whole ticks). A group with no volume has no
   price.

Quantities in integer watts, prices in integer cents per MWh, welfare in ticks × watts: exact and deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import auction
from . import block_milp as milp
from . import curves as cv

RULE_VERSION = "uniform-auction-2"
SELL, BUY = auction.SELL, auction.BUY


@dataclass(frozen=True)
class SolverReport:
    status: str  # optimal | time_limit | solver_failed | cut_limit | forced (re-run) | closed_form (no block)
    objective: int  # welfare of the result (ticks × watts)
    bound: int | None  # proven upper bound on the welfare under the no-loss condition (None: unknown)
    heuristic_objective: int  # welfare of the heuristic's selection, for comparison
    components: int  # connected components that blocks tie together
    rounds: int  # MILP solves over all components
    fallback: tuple[int, ...]  # the smallest block id of every component that kept the heuristic's selection
    readmitted: int  # blocks admitted by the re-admission pass
    paradoxically_rejected: int  # rejected blocks left in the money at the published prices
    seconds: float

    @property
    def gap(self) -> float | None:
        if self.bound is None:
            return None
        if self.bound <= 0:
            return 0.0
        return max(self.bound - self.objective, 0) / self.bound


@dataclass
class DayAheadResult(auction.AuctionResult):
    accepted_blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    solver: SolverReport | None = None
    rule_version: str = RULE_VERSION


@dataclass(frozen=True)
class _Blocks:
    ids: np.ndarray  # block id per block index
    pair_block: np.ndarray  # per (block, group) pair
    pair_group: np.ndarray
    pair_qty: np.ndarray
    pair_cost: np.ndarray
    pair_price: np.ndarray  # the highest price of the block's rows in the group
    cost: np.ndarray  # per block


def clear_optimal(
    *,
    group: np.ndarray,
    side: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    priority: np.ndarray,
    order_id: np.ndarray,
    block: np.ndarray | None = None,
    time_limit: float = 10.0,
    workers: int = 1,
    fallback: Collection[int] = (),
    max_cut_rounds: int = 50,
    mip_rel_gap: float = 1e-4,
    readmit: bool = True,
    enumerate_up_to: int = milp.ENUMERATE_UP_TO,
) -> DayAheadResult:
    """Clear every group at once under rule ``uniform-auction-2``. ``block`` as in
    :func:`market.engine.auction.clear`. ``fallback``: block ids naming components that keep the heuristic's
    selection without a solve (a re-run of a clearing whose solve ran out of time). Components of at most
    ``enumerate_up_to`` blocks are solved by checking every selection instead of calling the solver."""
    t0 = time.perf_counter()
    group = np.asarray(group, dtype=np.int64)
    side = np.asarray(side, dtype=np.int8)
    price = np.asarray(price, dtype=np.int64)
    qty = np.asarray(qty, dtype=np.int64)
    priority = np.asarray(priority, dtype=np.int64)
    order_id = np.asarray(order_id, dtype=np.int64)
    block = np.full(len(group), -1, dtype=np.int64) if block is None else np.asarray(block, dtype=np.int64)
    if (qty <= 0).any():
        raise ValueError("every order needs a positive quantity")
    is_block = block >= 0
    if (side[is_block] != SELL).any():
        raise ValueError("block orders are sell offers")
    groups, gidx = np.unique(group, return_inverse=True)
    gidx = gidx.astype(np.int64)
    ng = len(groups)
    curves = cv.build(
        gidx=gidx,
        side=side,
        price=price,
        qty=qty,
        priority=priority,
        order_id=order_id,
        rows=np.flatnonzero(~is_block),
        n_groups=ng,
    )
    blocks = _blocks(block, gidx, price, qty, ng)
    nb = len(blocks.ids)
    heuristic = auction.clear(
        group=group, side=side, price=price, qty=qty, priority=priority, order_id=order_id, block=block
    )
    brows = np.flatnonzero(is_block)
    bindex = np.searchsorted(blocks.ids, block[brows])
    whole = np.ones(nb, dtype=bool)
    np.logical_and.at(whole, bindex, heuristic.accepted[brows] == qty[brows])
    warm = whole  # the heuristic's selection: the blocks it accepts in full
    accept = warm.copy()
    comps = _components(blocks, curves, ng)
    forced = set(int(b) for b in fallback)
    deadline = t0 + time_limit

    def run(comp: milp.Component) -> milp.Outcome:
        local_warm = warm[comp.blocks]
        if int(blocks.ids[comp.blocks].min()) in forced:
            return milp.Outcome(local_warm, "forced", None, 0)
        if time.perf_counter() >= deadline:
            return milp.Outcome(local_warm, "time_limit", None, 0)
        if len(comp.blocks) <= enumerate_up_to:
            return milp.enumerate_all(comp, curves)
        return milp.solve(
            comp, curves, warm=local_warm, deadline=deadline, max_rounds=max_cut_rounds, mip_rel_gap=mip_rel_gap
        )

    if workers > 1 and len(comps) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(run, comps))
    else:
        outcomes = [run(c) for c in comps]
    for comp, out in zip(comps, outcomes, strict=True):
        accept[comp.blocks] = out.accept
    inj = _injection(blocks, accept, ng)
    pairs_of = _pairs_of(blocks)
    readmitted, passes = 0, 0
    while True:
        cleared = cv.clear_at(curves, inj)
        prices = _prices(blocks, curves, cleared, accept)
        ref = np.where(prices >= 0, prices, np.maximum(cleared.lo, 0))
        income = np.zeros(nb, dtype=np.int64)
        np.add.at(income, blocks.pair_block, ref[blocks.pair_group] * blocks.pair_qty)
        in_money = np.flatnonzero((income > blocks.cost) & ~accept)
        if not readmit or passes >= 5 or len(in_money) == 0:
            break
        passes += 1
        order = in_money[np.lexsort((blocks.ids[in_money], -(income - blocks.cost)[in_money]))]
        admitted = _readmit(blocks, curves, pairs_of, order, accept, inj)
        readmitted += admitted
        if admitted == 0:
            break
    prb = len(in_money)

    accepted = np.zeros(len(group), dtype=np.int64)
    accepted[curves.rows] = cleared.accepted
    accepted[brows] = np.where(accept[bindex], qty[brows], 0)
    welfare = _welfare(side, price, accepted)
    heur_welfare = _welfare(side, price, _accepted_for(warm, blocks, curves, block, is_block, qty, ng))
    bound = _bound(comps, outcomes, blocks, curves, accept, welfare)
    statuses = {o.status for o in outcomes}
    status = (
        "closed_form"
        if not comps
        else next((s for s in ("time_limit", "solver_failed", "cut_limit", "forced") if s in statuses), "optimal")
    )
    report = SolverReport(
        status=status,
        objective=welfare,
        bound=bound,
        heuristic_objective=heur_welfare,
        components=len(comps),
        rounds=sum(o.rounds for o in outcomes),
        fallback=tuple(
            sorted(
                int(blocks.ids[c.blocks].min()) for c, o in zip(comps, outcomes, strict=True) if o.status != "optimal"
            )
        ),
        readmitted=readmitted,
        paradoxically_rejected=prb,
        seconds=time.perf_counter() - t0,
    )
    return DayAheadResult(
        accepted=accepted,
        groups=groups,
        price=prices,
        volume=cleared.volume,
        rejected_blocks=blocks.ids[~accept],
        rounds=report.rounds,
        accepted_blocks=blocks.ids[accept],
        solver=report,
    )


def _blocks(block: np.ndarray, gidx: np.ndarray, price: np.ndarray, qty: np.ndarray, ng: int) -> _Blocks:
    rows = np.flatnonzero(block >= 0)
    ids, binv = np.unique(block[rows], return_inverse=True)
    key = binv.astype(np.int64) * max(ng, 1) + gidx[rows]
    pairs, pinv = np.unique(key, return_inverse=True)
    pq = np.bincount(pinv, weights=qty[rows], minlength=len(pairs)).astype(np.int64)
    pc = np.zeros(len(pairs), dtype=np.int64)
    np.add.at(pc, pinv, price[rows] * qty[rows])
    pp = np.full(len(pairs), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(pp, pinv, price[rows])
    pb, pg = pairs // max(ng, 1), pairs % max(ng, 1)
    cost = np.bincount(pb, weights=pc, minlength=len(ids)).astype(np.int64) if len(ids) else np.zeros(0, np.int64)
    return _Blocks(ids, pb, pg, pq, pc, pp, cost)


def _components(blocks: _Blocks, curves: cv.Curves, ng: int) -> list[milp.Component]:
    """Connected components of the graph whose nodes are groups and blocks and whose edges are block spans."""
    nb = len(blocks.ids)
    if nb == 0:
        return []
    n = nb + ng
    graph = coo_matrix((np.ones(len(blocks.pair_block)), (blocks.pair_block, nb + blocks.pair_group)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    fits = blocks.pair_qty <= curves.demand[blocks.pair_group]
    allowed = np.ones(nb, dtype=bool)
    np.logical_and.at(allowed, blocks.pair_block, fits)
    out = []
    block_label = label[:nb]
    for lab in np.unique(block_label):
        members = np.flatnonzero(block_label == lab)
        sel = np.isin(blocks.pair_block, members)
        groups = np.unique(blocks.pair_group[sel])
        out.append(
            milp.Component(
                blocks=members,
                groups=groups,
                pair_block=np.searchsorted(members, blocks.pair_block[sel]),
                pair_group=np.searchsorted(groups, blocks.pair_group[sel]),
                pair_qty=blocks.pair_qty[sel],
                cost=blocks.cost[members],
                allowed=allowed[members],
            )
        )
    out.sort(key=lambda c: int(c.blocks[0]))
    return out


def _injection(blocks: _Blocks, accept: np.ndarray, ng: int) -> np.ndarray:
    inj = np.zeros(ng, dtype=np.int64)
    np.add.at(inj, blocks.pair_group, np.where(accept[blocks.pair_block], blocks.pair_qty, 0))
    return inj


def _pairs_of(blocks: _Blocks) -> list[np.ndarray]:
    order = np.argsort(blocks.pair_block, kind="stable")
    counts = np.bincount(blocks.pair_block, minlength=len(blocks.ids))
    return np.split(order, np.cumsum(counts)[:-1]) if len(blocks.ids) else []


def _hi_income(blocks: _Blocks, curves: cv.Curves, inj: np.ndarray, ks: np.ndarray) -> int:
    """A block's income (its pairs ``ks``) at the highest clearing prices of its groups at injection ``inj``."""
    return sum(
        cv.hi_at(curves, g, int(inj[g])) * q
        for g, q in zip(blocks.pair_group[ks].tolist(), blocks.pair_qty[ks].tolist(), strict=True)
    )


def _readmit(
    blocks: _Blocks,
    curves: cv.Curves,
    pairs_of: list[np.ndarray],
    order: np.ndarray,
    accept: np.ndarray,
    inj: np.ndarray,
) -> int:
    """Try the rejected blocks ``order`` (in the money, best first): admit one when the welfare does not fall and
    no accepted block then runs at a loss (at the highest clearing prices). Updates ``accept`` and ``inj``."""
    blocks_in: dict[int, list[int]] = {}
    for b, g in zip(blocks.pair_block.tolist(), blocks.pair_group.tolist(), strict=True):
        blocks_in.setdefault(g, []).append(b)
    admitted = 0
    for b in order.tolist():
        ks = pairs_of[b]
        gs, qs = blocks.pair_group[ks].tolist(), blocks.pair_qty[ks].tolist()
        if any(inj[g] + q > curves.demand[g] for g, q in zip(gs, qs, strict=True)):
            continue
        delta = sum(cv.gain(curves, g, int(inj[g]), int(inj[g] + q)) for g, q in zip(gs, qs, strict=True))
        if delta < int(blocks.cost[b]):
            continue
        new = inj.copy()
        for g, q in zip(gs, qs, strict=True):
            new[g] += q
        touched = {j for g in gs for j in blocks_in[g] if accept[j] or j == b}
        if all(_hi_income(blocks, curves, new, pairs_of[j]) >= int(blocks.cost[j]) for j in touched):
            accept[b] = True
            inj[:] = new
            admitted += 1
    return admitted


def _prices(blocks: _Blocks, curves: cv.Curves, cleared: cv.Cleared, accept: np.ndarray) -> np.ndarray:
    """The published price per group (rule point 3 of the module docstring); -1 where nothing cleared."""
    ng = len(cleared.volume)
    top_offer = np.full(ng, cv.NEG_INF, dtype=np.int64)  # the dearest accepted offer, block or divisible
    acc_pairs = accept[blocks.pair_block]
    np.maximum.at(top_offer, blocks.pair_group[acc_pairs], blocks.pair_price[acc_pairs])
    sold = ~curves.is_bid & (cleared.accepted > 0)
    np.maximum.at(top_offer, curves.g[sold], curves.price[sold])
    base = np.minimum(cleared.hi, top_offer)
    prices = np.where(cleared.volume > 0, base, cv.NO_PRICE).astype(np.int64)
    income = np.zeros(len(blocks.ids), dtype=np.int64)
    np.add.at(income, blocks.pair_block, np.where(acc_pairs, prices[blocks.pair_group] * blocks.pair_qty, 0))
    short = np.flatnonzero(accept & (income < blocks.cost))
    if len(short) == 0:
        return prices
    # Raise prices within [base, hi] in the groups of accepted blocks, at the least cost to the buyers.
    held = np.isin(blocks.pair_block, np.flatnonzero(accept))
    gs = np.unique(blocks.pair_group[held])
    acc_blocks = np.flatnonzero(accept)
    rows = np.searchsorted(acc_blocks, blocks.pair_block[held])
    cols = np.searchsorted(gs, blocks.pair_group[held])
    a = coo_matrix((-blocks.pair_qty[held] / milp.KW, (rows, cols)), shape=(len(acc_blocks), len(gs))).tocsr()
    res = linprog(
        c=cleared.volume[gs] / milp.KW,
        A_ub=a,
        b_ub=-blocks.cost[acc_blocks] / milp.KW,
        bounds=list(zip(prices[gs].tolist(), cleared.hi[gs].tolist(), strict=True)),
        method="highs",
    )
    if res.status == 0:
        prices[gs] = np.minimum(np.ceil(np.asarray(res.x) - 1e-6).astype(np.int64), cleared.hi[gs])
    income[:] = 0
    np.add.at(income, blocks.pair_block, np.where(acc_pairs, prices[blocks.pair_group] * blocks.pair_qty, 0))
    still = np.flatnonzero(accept & (income < blocks.cost))
    if len(still):  # rounding (or a failed LP): the highest clearing prices keep every accepted block whole
        lift = np.unique(blocks.pair_group[np.isin(blocks.pair_block, still)])
        prices[lift] = cleared.hi[lift]
    return prices


def _welfare(side: np.ndarray, price: np.ndarray, accepted: np.ndarray) -> int:
    value = price * accepted
    return int(value[side == BUY].sum()) - int(value[side == SELL].sum())


def _accepted_for(accept, blocks, curves, block, is_block, qty, ng) -> np.ndarray:
    cleared = cv.clear_at(curves, _injection(blocks, accept, ng))
    out = np.zeros(len(block), dtype=np.int64)
    out[curves.rows] = cleared.accepted
    brows = np.flatnonzero(is_block)
    out[brows] = np.where(accept[np.searchsorted(blocks.ids, block[brows])], qty[brows], 0)
    return out


def _bound(comps, outcomes, blocks, curves, accept, welfare) -> int | None:
    """Welfare plus, per component, how far its proven bound lies above its result."""
    slack = 0.0
    ng = len(curves.zero)
    inj = _injection(blocks, accept, ng)
    for comp, out in zip(comps, outcomes, strict=True):
        if out.bound is None:
            return None
        got = sum(cv.gain(curves, int(g), 0, int(inj[g])) for g in comp.groups.tolist())
        got -= int(blocks.cost[comp.blocks][accept[comp.blocks]].sum())
        slack += max(out.bound - got, 0.0)
    return welfare + int(round(slack))
