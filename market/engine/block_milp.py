"""Welfare-optimal block selection for one connected component of groups: a MILP solved with HiGHS, with a cut loop
that removes paradoxically accepted blocks.

The component's groups (zone × interval) are tied together by the block orders spanning them. With the divisible
orders of group ``g`` written as the concave welfare curve ``f_g`` of the block injection ``B_g``
(:mod:`market.engine.curves`), the problem is

    maximise   sum_g f_g(B_g) - sum_b cost_b * y_b
    subject to B_g = sum_b qty_bg * y_b,   0 <= B_g <= demand_g,   y_b in {0, 1}

with ``f_g`` as its linear segments ``z_gk`` (slope = the order's price, ``0 <= z_gk <= length``; concavity fills
them in order, so no binaries are needed for them). That is the welfare maximisation over blocks as binaries and
divisible orders as continuous variables, with the divisible orders already aggregated per group: a few thousand
columns instead of every order.

No paradoxically accepted block (EUPHEMIA's condition, here for sell blocks): an accepted block must not run at a
loss over its whole span at prices that clear every group's divisible orders. Those prices lie in ``[lo_g, hi_g]``
and every block is a seller, so such prices exist for the accepted set exactly when every accepted block is
profitable at ``hi_g``. ``hi_g`` only falls as ``B_g`` grows, so when block ``b`` is at a loss, every selection that
keeps ``b`` and the accepted blocks sharing a group with it keeps that loss: the cut
``sum of y over those blocks <= their count - 1`` removes no admissible selection. Cuts are added and the model
solved again (warm-started from the heuristic's selection, which satisfies every valid cut) until no accepted block
is at a loss. The dual bound of the last solve is therefore a proven bound on the welfare under the condition.

The model uses kW and currency per MWh in floating point; the selection it returns is re-evaluated exactly in
integers by the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from . import curves as cv

KW = 1000.0  # watts per model unit
CUR = 100.0  # ticks per model currency unit
SCALE = KW * CUR  # model objective unit in ticks × watts


@dataclass(frozen=True)
class Component:
    blocks: np.ndarray  # global block indices
    groups: np.ndarray  # global group indices
    pair_block: np.ndarray  # local block index per (block, group) pair
    pair_group: np.ndarray  # local group index per pair
    pair_qty: np.ndarray  # watts
    cost: np.ndarray  # per local block: sum of price × qty (ticks × watts)
    allowed: np.ndarray  # per local block: can be accepted at all (fits the demand of each of its groups)


@dataclass(frozen=True)
class Outcome:
    accept: np.ndarray  # bool per local block
    status: str  # optimal | time_limit | cut_limit | solver_failed | forced (a re-run keeps the stored fallback)
    bound: float | None  # proven upper bound on the component's welfare gain over no block (ticks × watts)
    rounds: int  # MILP solves


def injection(comp: Component, accept: np.ndarray) -> np.ndarray:
    inj = np.zeros(len(comp.groups), dtype=np.int64)
    np.add.at(inj, comp.pair_group, np.where(accept[comp.pair_block], comp.pair_qty, 0))
    return inj


def losses(comp: Component, curves: cv.Curves, accept: np.ndarray) -> np.ndarray:
    """Local indices of accepted blocks at a loss at the highest clearing prices (paradoxically accepted)."""
    inj = injection(comp, accept)
    hi = np.array([cv.hi_at(curves, int(g), int(b)) if b > 0 else 0 for g, b in zip(comp.groups, inj, strict=True)])
    income = np.zeros(len(comp.blocks), dtype=object)  # Python ints: hi × qty can exceed int64 with no upper price
    for b, i, q in zip(comp.pair_block.tolist(), comp.pair_group.tolist(), comp.pair_qty.tolist(), strict=True):
        if accept[b]:
            income[b] += int(hi[i]) * q
    return np.array([b for b in np.flatnonzero(accept) if income[b] < int(comp.cost[b])], dtype=np.int64)


def solve(
    comp: Component,
    curves: cv.Curves,
    *,
    warm: np.ndarray,
    deadline: float,
    max_rounds: int,
    mip_rel_gap: float,
) -> Outcome:
    """The component's optimal PAB-free selection, or ``warm`` (the heuristic's) when the time runs out."""
    nb, ng = len(comp.blocks), len(comp.groups)
    block_total = np.zeros(ng, dtype=np.int64)
    np.add.at(block_total, comp.pair_group, comp.pair_qty)
    seg_group, seg_slope, seg_len = [], [], []
    for i, g in enumerate(comp.groups.tolist()):
        slope, length = cv.segments(curves, g, min(int(block_total[i]), int(curves.demand[g])))
        seg_group.append(np.full(len(slope), i))
        seg_slope.append(slope)
        seg_len.append(length)
    sg, sp, sl = np.concatenate(seg_group), np.concatenate(seg_slope), np.concatenate(seg_len)
    ns = len(sg)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", mip_rel_gap)
    h.setOptionValue("random_seed", 0)
    lower = np.zeros(nb + ns)
    upper = np.r_[comp.allowed.astype(float), sl / KW]
    h.addVars(nb + ns, lower, upper)
    h.changeColsIntegrality(nb, np.arange(nb, dtype=np.int32), np.full(nb, highspy.HighsVarType.kInteger))
    h.changeColsCost(nb + ns, np.arange(nb + ns, dtype=np.int32), np.r_[-comp.cost / SCALE, sp / CUR])
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # One balance row per group: its segments' fill equals its blocks' injection.
    row = np.r_[sg, comp.pair_group]
    col = np.r_[nb + np.arange(ns), comp.pair_block]
    val = np.r_[np.ones(ns), -comp.pair_qty / KW]
    order = np.argsort(row, kind="stable")
    starts = np.searchsorted(row[order], np.arange(ng))
    h.addRows(
        ng, np.zeros(ng), np.zeros(ng), len(order), starts.astype(np.int32), col[order].astype(np.int32), val[order]
    )
    neighbours = _neighbours(comp)
    rounds = 0
    bound: float | None = None
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return Outcome(warm.copy(), "time_limit", bound, rounds)
        h.setOptionValue("time_limit", h.getRunTime() + remaining)  # HiGHS's run clock adds up over the rounds
        h.setSolution(_start(comp, curves, sg, sl, warm))
        h.run()
        rounds += 1
        status = h.getModelStatus()
        info = h.getInfo()
        if status != highspy.HighsModelStatus.kOptimal:  # out of time (or, never seen, a solver failure)
            dual = info.mip_dual_bound
            label = "time_limit" if status == highspy.HighsModelStatus.kTimeLimit else "solver_failed"
            return Outcome(warm.copy(), label, None if not np.isfinite(dual) else dual * SCALE, rounds)
        bound = info.mip_dual_bound * SCALE
        accept = np.asarray(h.getSolution().col_value[:nb]) > 0.5
        bad = losses(comp, curves, accept)
        if len(bad) == 0:
            return Outcome(accept, "optimal", bound, rounds)
        if rounds >= max_rounds:
            return Outcome(warm.copy(), "cut_limit", bound, rounds)
        for b in bad.tolist():
            together = np.array(sorted(j for j in neighbours[b] if accept[j]), dtype=np.int32)
            h.addRow(-highspy.kHighsInf, float(len(together) - 1), len(together), together, np.ones(len(together)))


def _neighbours(comp: Component) -> list[set[int]]:
    """Per local block, the blocks sharing at least one group with it (itself included)."""
    by_group: dict[int, list[int]] = {}
    for b, i in zip(comp.pair_block.tolist(), comp.pair_group.tolist(), strict=True):
        by_group.setdefault(i, []).append(b)
    out: list[set[int]] = [set() for _ in range(len(comp.blocks))]
    for members in by_group.values():
        for b in members:
            out[b].update(members)
    return out


def _start(comp: Component, curves: cv.Curves, sg: np.ndarray, sl: np.ndarray, accept: np.ndarray):
    """A complete MIP start: the selection and the segment fill its injection implies."""
    inj = injection(comp, accept)
    cs = np.cumsum(sl)
    first = np.searchsorted(sg, sg, side="left")  # segments are grouped by group, in curve order
    before = cs - sl - (cs - sl)[first]
    fill = np.clip(inj[sg] - before, 0, sl)
    sol = highspy.HighsSolution()
    sol.col_value = np.r_[accept.astype(float), fill / KW].tolist()
    sol.value_valid = True
    return sol


ENUMERATE_UP_TO = 12  # blocks: up to 4,096 selections, checked exactly, beat a solver call's fixed cost


def enumerate_all(comp: Component, curves: cv.Curves) -> Outcome:
    """Every selection of a small component, evaluated exactly in integers: the best one without a block at a
    loss (ties: the first in binary order, i.e. the one without the later blocks). Its welfare is the bound."""
    nb, ng = len(comp.blocks), len(comp.groups)
    free = np.flatnonzero(comp.allowed)
    codes = np.arange(1 << len(free), dtype=np.int64)
    bits = np.zeros((len(codes), nb), dtype=bool)
    bits[:, free] = (codes[:, None] >> np.arange(len(free))) & 1 == 1
    q = np.zeros((nb, ng), dtype=np.int64)
    np.add.at(q, (comp.pair_block, comp.pair_group), comp.pair_qty)
    inj = bits.astype(np.int64) @ q
    value = -(bits.astype(np.int64) @ comp.cost.astype(np.int64))
    hi = np.zeros_like(inj)
    fits = np.ones(len(codes), dtype=bool)
    for i, g in enumerate(comp.groups.tolist()):
        sl = slice(curves.gstart[g], curves.gend[g])
        s, qq, p = curves.start[sl], curves.qty[sl], curves.price[sl]
        e = s + qq
        keep = e > 0
        e, p, s0 = e[keep], p[keep], np.maximum(s[keep], 0)
        cum = np.r_[0, np.cumsum(p * (e - s0))]
        b = inj[:, i]
        fits &= b <= (e[-1] if len(e) else 0)
        k = np.minimum(np.searchsorted(e, b, side="left"), max(len(e) - 1, 0))
        if len(e):
            prev_e = np.where(k > 0, e[np.maximum(k - 1, 0)], 0)
            value += np.where(b > 0, cum[k] + p[k] * (b - prev_e), 0)
            hi[:, i] = np.where(b > 0, p[k], 0)
    income = hi @ q.T
    ok = fits & ~(bits & (income < comp.cost[None, :])).any(axis=1)
    best = int(np.flatnonzero(ok)[np.argmax(value[ok])])
    return Outcome(bits[best].copy(), "optimal", float(value[best]), 0)
