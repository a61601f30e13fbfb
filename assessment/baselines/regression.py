"""Weather-regression baseline: CalTRACK hourly time-of-week-and-temperature (TOWT) model.

Rule implemented: CalTRACK Methods 2.0, "Hourly Methods" (the TOWT model of Mathieu et al., LBNL 2011, as
adopted by CalTRACK and implemented in `opendsm`/`eemeter`):

* **three-month weighted models**: the model for a calendar month is fitted on that month (weight 1) and its
  two neighbours (weight 0.5), weighted least squares; other months carry no weight (:func:`month_weights`);
* 168 time-of-week indicators (local weekday x hour);
* occupancy per time-of-week: a weighted fit of load ~ HDD(50 °F) + CDD(65 °F); an hour of the week is
  "occupied" when more than 65 % of its (weighted) residuals are positive;
* temperature enters as a piecewise-linear function with knots at 30, 45, 55, 65, 75 and 90 °F, with
  **bins per occupancy**: the knots of the occupied and of the unoccupied hours are each merged until every
  segment holds at least 20 hours of that occupancy (CalTRACK's minimum bin size);
* predictions are not clipped per hour: the caller sums them and clips the aggregate at zero only.

Solved exactly with the time-of-week block eliminated (:func:`_towt_coef`, Frisch-Waugh-Lovell): the 168
one-hot columns only shift each hour of the week's level, so the temperature coefficients are the weighted least
squares fit of the features demeaned within their hour of the week (a system of at most 14 unknowns), and each hour
of the week's coefficient is its weighted mean of load minus the temperature part. This is the same solution as the
minimum-norm solution of the whole 182-unknown system (hours of the week with no data get 0, features with no data
get 0); a fit whose small system is near-singular is solved the whole way (:func:`_towt_coef_normal`, LAPACK
``gelsy`` on the normal equations; ADR 0045). ``opendsm`` (PyPI, pinned 1.2.7)
brings about 40 packages into an environment for one model; it runs in its own venv (``make opendsm-venv``)
and the suite compares the two on its sample meters (:mod:`assessment.tests.test_caltrack_vs_opendsm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import _compute_lwork

KNOTS_F = (30.0, 45.0, 55.0, 65.0, 75.0, 90.0)
MIN_BIN_HOURS = 20
OCCUPANCY_THRESHOLD = 0.65


def c_to_f(celsius: np.ndarray) -> np.ndarray:
    return np.asarray(celsius, dtype=np.float64) * 9.0 / 5.0 + 32.0


def month_weights(months: np.ndarray, month: int) -> np.ndarray:
    """CalTRACK's three-month weighting for the model of calendar ``month``: 1 for that month, 0.5 for the month
    before and after (December and January are neighbours), 0 otherwise."""
    distance = np.abs((np.asarray(months, np.int64) - month + 6) % 12 - 6)
    return np.where(distance == 0, 1.0, np.where(distance == 1, 0.5, 0.0))


def _knots_for(temp_f: np.ndarray) -> list[float]:
    """Drop knots whose segment would hold fewer than ``MIN_BIN_HOURS`` hours (merging segments): the first
    segment from the left that is short loses its right knot (the last segment its left knot), until none is."""
    # hours at or below each knot, counted once: a segment (lo, hi] holds below[hi] - below[lo] hours
    below = dict(zip(KNOTS_F, np.searchsorted(np.sort(temp_f), KNOTS_F, side="right").tolist(), strict=True))
    knots = list(KNOTS_F)
    while knots:
        edges = [0, *(below[k] for k in knots), temp_f.size]
        short = next((i for i in range(len(edges) - 1) if edges[i + 1] - edges[i] < MIN_BIN_HOURS), None)
        if short is None:
            break
        knots.pop(short if short < len(knots) else short - 1)
    return knots


def _temperature_features(temp_f: np.ndarray, knots: list[float]) -> np.ndarray:
    if not knots:
        return temp_f[:, None]
    cols = [np.minimum(temp_f, knots[0])]
    for lo, hi in zip(knots[:-1], knots[1:], strict=True):
        cols.append(np.clip(temp_f - lo, 0.0, hi - lo))
    cols.append(np.maximum(temp_f - knots[-1], 0.0))
    return np.stack(cols, axis=1)


@dataclass(frozen=True)
class TowtModel:
    coef: np.ndarray
    knots_occupied: list[float]
    knots_unoccupied: list[float]
    occupied: np.ndarray  # (168,) bool

    @property
    def knots(self) -> dict[str, list[float]]:
        return {"occupied": self.knots_occupied, "unoccupied": self.knots_unoccupied}

    def design(self, how: np.ndarray, temp_f: np.ndarray) -> np.ndarray:
        return _design(how, temp_f, self.knots_occupied, self.knots_unoccupied, self.occupied)

    def predict(self, how: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
        return self.design(np.asarray(how, dtype=np.int64), c_to_f(temp_c)) @ self.coef

    @property
    def parameter_count(self) -> int:
        return int(self.coef.size)


def _design(
    how: np.ndarray, temp_f: np.ndarray, knots_occ: list[float], knots_unocc: list[float], occupied: np.ndarray
) -> np.ndarray:
    tow = np.zeros((how.size, 168))
    tow[np.arange(how.size), how] = 1.0
    occ = occupied[how].astype(np.float64)[:, None]
    fo = _temperature_features(temp_f, knots_occ) * occ
    fu = _temperature_features(temp_f, knots_unocc) * (1.0 - occ)
    return np.hstack([tow, fo, fu])


def _least_squares(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted minimum-norm least squares through the normal equations (X'WX is small)."""
    xw = x * w[:, None]
    return _solve_normal(xw.T @ x, xw.T @ y)


def _solve_normal(xtx: np.ndarray, xty: np.ndarray) -> np.ndarray:
    """The minimum-norm solution of the normal equations (LAPACK ``gelsy``: complete orthogonal factorisation,
    the same solution as an SVD-based solver for a rank-deficient system, several times faster). LAPACK is called
    as ``scipy.linalg.lstsq(xtx, xty, lapack_driver="gelsy")`` calls it (the same arguments, ``rcond`` = machine
    epsilon), without its per-call checks."""
    n = xtx.shape[1]
    lwork = _GELSY_LWORK.get(n)
    if lwork is None:
        lwork = _GELSY_LWORK[n] = _compute_lwork(_gelsy_lwork, n, n, 1, _EPS)
    _, coef, _, _, info = _gelsy(xtx, xty, np.zeros((n, 1), dtype=np.int32), _EPS, lwork, False, False)
    if info != 0:
        raise ValueError(f"gelsy failed (info {info})")
    return coef


_gelsy, _gelsy_lwork = scipy.linalg.get_lapack_funcs(("gelsy", "gelsy_lwork"), (np.zeros((1, 1)),))
_EPS = float(np.finfo(np.float64).eps)
_GELSY_LWORK: dict[int, int] = {}


#: the time-of-week elimination's small system is solved directly while its condition number (columns scaled to a
#: unit diagonal) stays below this; above it the whole system is solved (:func:`_towt_coef_normal`)
MAX_CONDITION = 1e10


def _towt_coef(how: np.ndarray, f: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The coefficients of :func:`_design`'s matrix (168 time-of-week indicators, then the temperature features
    ``f``: occupied, then unoccupied, each zero outside its occupancy) fitted to ``y`` with weights ``w`` > 0, with
    the one-hot block eliminated (Frisch-Waugh-Lovell): the features and the load are demeaned (weighted) within
    each hour of the week, the temperature coefficients are the weighted least squares fit of the demeaned load on
    the demeaned features, and each hour of the week's coefficient is its weighted mean of ``y - f @ beta``.

    The minimum-norm solution of the whole system where that is unique up to its empty parts: an hour of the week
    without data, and a feature that is zero on every row, get 0 (their columns are zero, so the minimum-norm
    solution gives them 0 and the rest is unchanged). Where the small system is near-singular (a feature constant
    within every hour of the week, or collinear with others), the whole system is solved (:func:`_towt_coef_normal`)."""
    n = f.shape[1]
    wsum = np.bincount(how, weights=w, minlength=168)
    seen = wsum > 0
    fy = np.empty((y.size, n + 1))
    fy[:, :n], fy[:, n] = f, y
    sums = np.bincount(
        (how[:, None] * (n + 1) + np.arange(n + 1)).ravel(), weights=(fy * w[:, None]).ravel(), minlength=168 * (n + 1)
    ).reshape(168, n + 1)
    means = np.zeros_like(sums)
    means[seen] = sums[seen] / wsum[seen, None]
    live = np.flatnonzero((f != 0).any(axis=0))  # features with data; the others get 0
    if live.size == n:
        centred = fy - means[how]
    else:
        columns = np.append(live, n)
        centred = fy[:, columns] - means[how][:, columns]
    weighted = centred[:, :-1] * w[:, None]
    a = weighted.T @ centred[:, :-1]
    b = weighted.T @ centred[:, -1]
    beta = np.zeros(n)
    if live.size:
        scale = np.sqrt(np.diag(a))
        if not (scale > 0).all():
            return _towt_coef_normal(how, f, y, w)
        scaled = a / scale[:, None] / scale[None, :]
        eig = np.linalg.eigvalsh(scaled)
        if eig[0] <= eig[-1] / MAX_CONDITION:
            return _towt_coef_normal(how, f, y, w)
        beta[live] = np.linalg.solve(scaled, b / scale) / scale
    alpha = np.where(seen, means[:, n] - means[:, :n] @ beta, 0.0)
    return np.concatenate([alpha, beta])


def _towt_coef_normal(how: np.ndarray, f: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:func:`_towt_coef` through the whole system's normal equations (minimum-norm, :func:`_solve_normal`): for a
    fit whose eliminated system is near-singular."""
    return _solve_normal(*_towt_normal(how, f, y, w))


def _towt_normal(how: np.ndarray, f: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X'WX and X'Wy of :func:`_design`'s matrix without forming it: the 168 time-of-week columns are one-hot,
    so their blocks are weighted counts and per-hour sums (``bincount``), O(rows x features)."""
    fw = f * w[:, None]
    n = f.shape[1]
    xtx = np.zeros((168 + n, 168 + n))
    xtx[np.arange(168), np.arange(168)] = np.bincount(how, weights=w, minlength=168)
    cross = np.stack([np.bincount(how, weights=fw[:, j], minlength=168) for j in range(n)], axis=1)
    xtx[:168, 168:] = cross
    xtx[168:, :168] = cross.T
    xtx[168:, 168:] = fw.T @ f
    xty = np.concatenate([np.bincount(how, weights=w * y, minlength=168), fw.T @ y])
    return xtx, xty


def fit_towt(load: np.ndarray, how: np.ndarray, temp_c: np.ndarray, weights: np.ndarray | None = None) -> TowtModel:
    """Fit on hourly ``load`` (kWh), hour-of-week ``how`` (0..167), temperature (°C) and per-row ``weights``
    (CalTRACK's month weights, :func:`month_weights`; all 1 when None); NaN and zero-weight rows dropped."""
    load, how, temp_f = np.asarray(load, float), np.asarray(how, np.int64), c_to_f(temp_c)
    w = np.ones_like(load) if weights is None else np.asarray(weights, float)
    keep = np.isfinite(load) & np.isfinite(temp_f) & (w > 0)
    load, how, temp_f, w = load[keep], how[keep], temp_f[keep], w[keep]
    if load.size < 168:
        raise ValueError(f"{load.size} hours of data, the hourly model needs at least 168")
    # Occupancy from a weighted HDD/CDD fit's residual signs.
    hdd = np.maximum(50.0 - temp_f, 0.0)
    cdd = np.maximum(temp_f - 65.0, 0.0)
    simple = np.stack([np.ones_like(load), hdd, cdd], axis=1)
    beta = _least_squares(simple, load, w)
    positive = (load - simple @ beta) > 0
    share = np.bincount(how, weights=w * positive, minlength=168) / np.maximum(
        np.bincount(how, weights=w, minlength=168), 1e-12
    )
    occupied = share > OCCUPANCY_THRESHOLD
    occ = occupied[how]
    knots_occ, knots_unocc = _knots_for(temp_f[occ]), _knots_for(temp_f[~occ])
    fo = _temperature_features(temp_f, knots_occ) * occ[:, None]
    fu = _temperature_features(temp_f, knots_unocc) * (~occ)[:, None]
    coef = _towt_coef(how, np.hstack([fo, fu]), load, w)
    return TowtModel(coef=coef, knots_occupied=knots_occ, knots_unoccupied=knots_unocc, occupied=occupied)
