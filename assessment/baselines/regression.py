"""Weather-regression baseline: CalTRACK-style hourly time-of-week-and-temperature (TOWT) model.

Rule implemented: CalTRACK Methods 2.0, "Hourly Methods" (§3: the TOWT model of Mathieu et al.,
LBNL 2011, as adopted by CalTRACK and implemented in `opendsm`/`eemeter`):

* 168 time-of-week indicators (local weekday x hour);
* occupancy per time-of-week: fit load ~ HDD(50 °F) + CDD(65 °F); an hour of the week is
  "occupied" when more than 65 % of its residuals are positive;
* temperature enters as a piecewise-linear function with knots at 30, 45, 55, 65, 75 and 90 °F,
  fitted separately for occupied and unoccupied hours; a segment with fewer than 20 hours of data is
  merged into its neighbour (CalTRACK's minimum bin size);
* fitted by ordinary least squares (normal equations, minimum-norm solution).

``opendsm`` 1.2.7 does resolve with ``multimethod<2``, but it brings about 40 packages (pandas, pyarrow,
numba/llvmlite, scikit-learn, statsmodels, matplotlib, sympy, ...) into the shared environment for one
model, so it is not installed: the model is implemented here with numpy least squares (minimum-norm
solution, deterministic). CalTRACK's
weighting of the three calendar months around each month is not applied: one model is fitted on the
look-back days given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

KNOTS_F = (30.0, 45.0, 55.0, 65.0, 75.0, 90.0)
MIN_BIN_HOURS = 20
OCCUPANCY_THRESHOLD = 0.65


def c_to_f(celsius: np.ndarray) -> np.ndarray:
    return np.asarray(celsius, dtype=np.float64) * 9.0 / 5.0 + 32.0


def _knots_for(temp_f: np.ndarray) -> list[float]:
    """Drop knots whose segment would hold fewer than ``MIN_BIN_HOURS`` hours (merging segments)."""
    knots = list(KNOTS_F)
    changed = True
    while changed and knots:
        changed = False
        edges = [-np.inf, *knots, np.inf]
        for i in range(len(edges) - 1):
            n = int(((temp_f > edges[i]) & (temp_f <= edges[i + 1])).sum())
            if n < MIN_BIN_HOURS:
                # merge this segment into a neighbour by removing the knot between them
                drop = i if i < len(knots) else i - 1
                knots.pop(drop)
                changed = True
                break
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
    knots: list[float]
    occupied: np.ndarray  # (168,) bool

    def design(self, how: np.ndarray, temp_f: np.ndarray) -> np.ndarray:
        return _design(how, temp_f, self.knots, self.occupied)

    def predict(self, how: np.ndarray, temp_c: np.ndarray) -> np.ndarray:
        return self.design(np.asarray(how, dtype=np.int64), c_to_f(temp_c)) @ self.coef

    @property
    def parameter_count(self) -> int:
        return int(self.coef.size)


def _design(how: np.ndarray, temp_f: np.ndarray, knots: list[float], occupied: np.ndarray) -> np.ndarray:
    tow = np.zeros((how.size, 168))
    tow[np.arange(how.size), how] = 1.0
    feats = _temperature_features(temp_f, knots)
    occ = occupied[how].astype(np.float64)[:, None]
    return np.hstack([tow, feats * occ, feats * (1.0 - occ)])


def _least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm least squares through the normal equations (X'X is small: <= ~190 columns)."""
    return _solve_normal(x.T @ x, x.T @ y)


def _solve_normal(xtx: np.ndarray, xty: np.ndarray) -> np.ndarray:
    """The minimum-norm solution of the normal equations (LAPACK ``gelsy``: complete orthogonal factorisation,
    the same solution as an SVD-based solver for a rank-deficient system, several times faster)."""
    coef, *_ = scipy.linalg.lstsq(xtx, xty, lapack_driver="gelsy", check_finite=False)
    return coef


def _towt_normal(how: np.ndarray, feats: np.ndarray, occ: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X'X and X'y of :func:`_design`'s matrix without forming it: the 168 time-of-week columns are one-hot, so
    their blocks are counts and per-hour sums (``bincount``), O(rows x features) instead of O(rows x 190^2)."""
    k = feats.shape[1]
    fo, fu = feats * occ[:, None], feats * (1.0 - occ)[:, None]
    f = np.hstack([fo, fu])  # (n, 2k)
    xtx = np.zeros((168 + 2 * k, 168 + 2 * k))
    xtx[np.arange(168), np.arange(168)] = np.bincount(how, minlength=168)
    cross = np.stack([np.bincount(how, weights=f[:, j], minlength=168) for j in range(2 * k)], axis=1)
    xtx[:168, 168:] = cross
    xtx[168:, :168] = cross.T
    xtx[168:, 168:] = f.T @ f
    xty = np.concatenate([np.bincount(how, weights=y, minlength=168), f.T @ y])
    return xtx, xty


def fit_towt(load: np.ndarray, how: np.ndarray, temp_c: np.ndarray) -> TowtModel:
    """Fit on hourly ``load`` (kWh), hour-of-week ``how`` (0..167) and temperature (°C); NaN rows dropped."""
    load, how, temp_f = np.asarray(load, float), np.asarray(how, np.int64), c_to_f(temp_c)
    keep = np.isfinite(load) & np.isfinite(temp_f)
    load, how, temp_f = load[keep], how[keep], temp_f[keep]
    if load.size < 168:
        raise ValueError(f"{load.size} hours of data, the hourly model needs at least 168")
    # Occupancy from an HDD/CDD fit's residual signs.
    hdd = np.maximum(50.0 - temp_f, 0.0)
    cdd = np.maximum(temp_f - 65.0, 0.0)
    simple = np.stack([np.ones_like(load), hdd, cdd], axis=1)
    beta = _least_squares(simple, load)
    positive = (load - simple @ beta) > 0
    share = np.bincount(how, weights=positive.astype(float), minlength=168) / np.maximum(
        np.bincount(how, minlength=168), 1
    )
    occupied = share > OCCUPANCY_THRESHOLD
    knots = _knots_for(temp_f)
    xtx, xty = _towt_normal(how, _temperature_features(temp_f, knots), occupied[how].astype(np.float64), load)
    coef = _solve_normal(xtx, xty)
    return TowtModel(coef=coef, knots=knots, occupied=occupied)
