"""Baseline accuracy: back-test each method on held-out non-event days; recommend the most accurate.

Metrics follow ASHRAE Guideline 14-2014 ("Measurement of Energy, Demand, and Water Savings"), §4.3
and Annex B, applied out of sample (p = 0 parameters, since the model is not fitted on the days
scored):

* NMBE  = Σ(yᵢ - ŷᵢ) / ((n - p) · ȳ) × 100 %   (bias; positive = baseline too low)
* CV(RMSE) = √(Σ(yᵢ - ŷᵢ)² / (n - p)) / ȳ × 100 %
* relative error = (Σŷᵢ - Σyᵢ) / Σyᵢ × 100 %  (the error of the event-window energy)

Guideline 14's calibration criteria for hourly data are |NMBE| ≤ 10 % and CV(RMSE) ≤ 30 %; a method
that meets both is "eligible". The recommendation is the eligible method with the lowest CV(RMSE)
(then lowest |NMBE|, then name, so the choice is deterministic); if none is eligible, the lowest
CV(RMSE) overall, flagged as not meeting the criteria.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np

NMBE_LIMIT = 10.0
CVRMSE_LIMIT = 30.0


@dataclass(frozen=True)
class Accuracy:
    method: str
    n: int
    days: int
    relative_error_pct: float
    nmbe_pct: float
    cvrmse_pct: float

    @property
    def meets_guideline14(self) -> bool:
        return abs(self.nmbe_pct) <= NMBE_LIMIT and self.cvrmse_pct <= CVRMSE_LIMIT


def metrics(actual: np.ndarray, predicted: np.ndarray, *, p: int = 0) -> tuple[float, float, float]:
    """(relative error %, NMBE %, CV(RMSE) %) over paired finite values."""
    y, yhat = np.asarray(actual, float), np.asarray(predicted, float)
    keep = np.isfinite(y) & np.isfinite(yhat)
    y, yhat = y[keep], yhat[keep]
    n = y.size
    if n - p <= 0 or y.mean() == 0:
        raise ValueError("not enough data to score")
    mean = y.mean()
    nmbe = (y - yhat).sum() / ((n - p) * mean) * 100.0
    cvrmse = np.sqrt(((y - yhat) ** 2).sum() / (n - p)) / mean * 100.0
    rel = (yhat.sum() - y.sum()) / y.sum() * 100.0
    return float(rel), float(nmbe), float(cvrmse)


def backtest(
    *,
    methods: Iterable[str],
    test_days: Iterable[date],
    actual_for: Callable[[date], np.ndarray],
    baseline_for: Callable[[str, date], np.ndarray],
) -> list[Accuracy]:
    """Score each method on the test days; a method that cannot be computed on a day skips that day."""
    test_days = list(test_days)
    out = []
    for method in methods:
        ys, yhats, scored = [], [], 0
        for day in test_days:
            try:
                yhat = baseline_for(method, day)
            except ValueError:
                continue
            ys.append(actual_for(day))
            yhats.append(yhat)
            scored += 1
        if not scored:
            continue
        try:
            rel, nmbe, cv = metrics(np.concatenate(ys), np.concatenate(yhats))
        except ValueError:
            continue
        out.append(
            Accuracy(
                method=method,
                n=int(sum(np.isfinite(y).sum() for y in ys)),
                days=scored,
                relative_error_pct=rel,
                nmbe_pct=nmbe,
                cvrmse_pct=cv,
            )
        )
    return out


def recommend(results: Iterable[Accuracy]) -> Accuracy | None:
    results = list(results)
    if not results:
        return None
    pool = [r for r in results if r.meets_guideline14] or results
    return min(pool, key=lambda r: (round(r.cvrmse_pct, 9), round(abs(r.nmbe_pct), 9), r.method))
