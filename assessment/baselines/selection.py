"""Vectorised building blocks shared by the day-matching baselines (CAISO, PJM, NYISO).

Arrays carry a leading meter axis ``M`` so one call computes many meters: ``history`` is
``(M, D, S)`` kWh per local day (oldest first, all before the target day) and wall-clock slot,
NaN where there is no reading; ``eligible`` is ``(M, D)``; ``day_of`` is ``(M, S)`` for the target
day. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class InsufficientHistory(ValueError):
    """Fewer eligible days (or readings) than the method's minimum."""


@dataclass
class BatchResult:
    """Baseline kWh per event slot ``(M, E)``, the days used ``(M, D)``, adjustment ``(M,)``, ``ok`` ``(M,)``."""

    values: np.ndarray
    days_used: np.ndarray
    adjustment: np.ndarray
    ok: np.ndarray
    parameters: dict = field(default_factory=dict)


def most_recent(eligible: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` most recent eligible days per meter (days run oldest to newest along the last axis)."""
    from_end = np.cumsum(eligible[..., ::-1], axis=-1)[..., ::-1]
    return eligible & (from_end <= n)


def nan_mean_days(history: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the masked days of each slot, ignoring NaN: ``(M, D, S), (M, D) -> (M, S)``."""
    use = mask[..., None] & ~np.isnan(history)
    total = np.where(use, history, 0.0).sum(axis=-2)
    count = use.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def period_usage(history: np.ndarray, start: int, end: int) -> np.ndarray:
    """Average kWh per slot over slots ``[start, end)`` of each day, NaN-aware: ``(M, D)``."""
    part = history[..., start:end]
    count = (~np.isnan(part)).sum(axis=-1)
    total = np.where(np.isnan(part), 0.0, part).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def recent_without_low_usage(
    eligible: np.ndarray, usage: np.ndarray, n: int, *, threshold: float = 0.25, rounds: int = 5
) -> np.ndarray:
    """The ``n`` most recent eligible days, replacing low-usage days (PJM Manual 11, NYISO EDRP/SCR).

    A day whose average event-period usage is below ``threshold`` x the average over the selected days
    is dropped and the next most recent eligible day takes its place; repeated until stable.
    Days without any event-period reading count as ineligible.
    """
    pool = eligible & ~np.isnan(usage)
    for _ in range(rounds):
        chosen = most_recent(pool, n)
        count = chosen.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(chosen, usage, 0.0).sum(axis=-1, keepdims=True) / np.maximum(count, 1)
        low = chosen & (usage < threshold * avg)
        if not low.any():
            return chosen
        pool = pool & ~low
    return most_recent(pool, n)


def highest(chosen: np.ndarray, usage: np.ndarray, k: int) -> np.ndarray:
    """Of the chosen days, the ``k`` with the highest usage (ties: the more recent day wins)."""
    score = np.where(chosen, usage, -np.inf)[..., ::-1]  # newest first so a stable sort prefers recent days
    order = np.argsort(-score, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[-1])[None, :].repeat(order.shape[0], 0), axis=-1)
    top = (rank < k)[..., ::-1]
    return top & chosen


def window_mean(values: np.ndarray, start: int, end: int) -> np.ndarray:
    """NaN-aware mean over slots ``[start, end)`` (clipped to the day): ``(M, S) -> (M,)``; NaN if empty."""
    start, end = max(start, 0), min(end, values.shape[-1])
    if end <= start:
        return np.full(values.shape[:-1], np.nan)
    part = values[..., start:end]
    count = (~np.isnan(part)).sum(axis=-1)
    total = np.where(np.isnan(part), 0.0, part).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def capped_ratio_adjustment(
    *, day_of: np.ndarray, base: np.ndarray, adj_start: int, adj_end: int, offset: int, cap: float
) -> np.ndarray:
    """The multiplicative day-of adjustment per meter: actual / baseline load over the adjustment slots
    ``[adj_start, adj_end)`` of the event day, limited to ``1 ± cap`` (1 where it cannot be computed).

    ``base`` holds the unadjusted baseline from slot ``offset`` on. Used by CAISO's day-of adjustment (±20 %)
    and NYISO's weather-sensitive adjustment (0.8-1.2)."""
    actual = window_mean(day_of, adj_start, adj_end)
    predicted = window_mean(base, adj_start - offset, adj_end - offset)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = actual / predicted
    return np.where(np.isfinite(ratio), np.clip(ratio, 1.0 - cap, 1.0 + cap), 1.0)


def averaged_ratio_adjusted(
    *,
    history: np.ndarray,
    day_of: np.ndarray,
    chosen: np.ndarray,
    event_start: int,
    event_end: int,
    adj_start: int,
    adj_end: int,
    adjust: bool,
    cap: float,
    min_days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The average of the chosen days over the event slots, times the capped day-of ratio of
    :func:`capped_ratio_adjustment` over ``[adj_start, adj_end)`` (CAISO's 10-in-10 and NYISO's CBL share it).
    Returns ``(values, factor, ok)``: ``ok`` where at least ``min_days`` days were chosen and no event slot is
    missing."""
    lo = max(min(adj_start, event_start), 0)
    base = nan_mean_days(history[..., lo:event_end], chosen)  # (M, slots lo..end)
    event = base[..., event_start - lo :]
    factor = np.ones(history.shape[0])
    if adjust:
        factor = capped_ratio_adjustment(
            day_of=day_of, base=base, adj_start=adj_start, adj_end=adj_end, offset=lo, cap=cap
        )
    ok = (chosen.sum(axis=-1) >= min_days) & ~np.isnan(event).any(axis=-1)
    return event * factor[:, None], factor, ok
