"""The CalTRACK hourly fit with the time-of-week block eliminated (ADR 0045) gives the whole system's
minimum-norm solution, as the normal-equations solver it replaced did: coefficients on constructed systems (hours
of the week without data, features without data, a feature collinear with the hours of the week), and the
predictions of demo-world meters (:mod:`assessment.synthetic`) over a year of targets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from assessment import synthetic
from assessment.baselines import regression
from assessment.baselines.compute import caltrack_fit_predict


def _knots_reference(temp_f: np.ndarray) -> list[float]:
    """The knot-merging loop as first written (one pass over the segments per dropped knot)."""
    knots = list(regression.KNOTS_F)
    changed = True
    while changed and knots:
        changed = False
        edges = [-np.inf, *knots, np.inf]
        for i in range(len(edges) - 1):
            n = int(((temp_f > edges[i]) & (temp_f <= edges[i + 1])).sum())
            if n < regression.MIN_BIN_HOURS:
                knots.pop(i if i < len(knots) else i - 1)
                changed = True
                break
    return knots


def test_knots_are_those_of_the_segment_by_segment_loop():
    rng = np.random.default_rng(3)
    for size in [0, 5, 19, 20, 40, 100, 300, 2000]:
        for centre in [20.0, 50.0, 70.0, 95.0]:
            temp_f = np.round(rng.normal(centre, rng.uniform(1, 25), size), 1)
            assert regression._knots_for(temp_f) == _knots_reference(temp_f), (size, centre)
    assert regression._knots_for(np.full(100, 55.0)) == _knots_reference(np.full(100, 55.0))


def _system(rng, *, empty_hours=(), zero_features=(), rows=2000, features=9):
    how = rng.integers(0, 168, rows)
    for h in empty_hours:
        how[how == h] = (h + 1) % 168
    f = rng.normal(0, 10, (rows, features)) * (rng.random((rows, features)) < 0.6)
    f[:, list(zero_features)] = 0.0
    y = 3.0 + rng.normal(0, 1, 168)[how] + f @ rng.normal(0, 0.2, features) + rng.normal(0, 0.5, rows)
    w = np.where(rng.random(rows) < 0.5, 1.0, 0.5)
    return how, f, y, w


@pytest.mark.parametrize(
    "empty_hours, zero_features",
    [((), ()), ((0, 17, 100, 166), ()), ((), (4,)), ((5, 6, 7), (0, 8))],
)
def test_eliminated_fit_is_the_whole_systems_minimum_norm_solution(empty_hours, zero_features):
    rng = np.random.default_rng(11)
    for _ in range(5):
        how, f, y, w = _system(rng, empty_hours=empty_hours, zero_features=zero_features)
        got = regression._towt_coef(how, f, y, w)
        expected = regression._towt_coef_normal(how, f, y, w)
        assert np.abs(got - expected).max() < 1e-9
        assert (got[list(empty_hours)] == 0).all() and (got[168:][list(zero_features)] == 0).all()


def test_a_feature_collinear_with_the_hours_of_the_week_is_solved_the_whole_way():
    """A feature constant within every hour of the week: its coefficient is not identified apart from the hours'
    levels, and the fit keeps the whole system's minimum-norm choice, bit for bit."""
    rng = np.random.default_rng(5)
    how, f, y, w = _system(rng)
    f[:, 2] = np.arange(168.0)[how] % 7
    got = regression._towt_coef(how, f, y, w)
    assert np.array_equal(got, regression._towt_coef_normal(how, f, y, w))


def _hourly(segment: str, seed: int, first: date, days: int):
    epoch = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()) + np.arange(days * 96) * 900
    load = synthetic.load_profile_array(segment=segment, seed=seed, epoch=epoch, tz="UTC").reshape(days, 24, 4)
    temp = synthetic.temperature_array(seed=seed, epoch=epoch, tz="UTC").reshape(days, 24, 4)
    return load.sum(axis=-1), temp.mean(axis=-1)


def test_demo_meters_predictions_equal_the_normal_equations_solvers(monkeypatch):
    """Demo-world meters of every segment, over targets through a year (every season's knots and occupancy), with
    event days left out of training: the predictions are the old solver's within 1e-10 of their size (1e-10 kWh
    for a household; an industrial meter's 330 kWh differ by up to 9e-9 kWh, where the normal equations' own
    rounding is 20 times the eliminated solver's against a QR solution of the weighted design, ADR 0045)."""
    first, days = date(2025, 1, 1), 455
    dates = [first + timedelta(days=i) for i in range(days)]
    weekday = np.array([d.weekday() for d in dates])
    months = np.array([d.month for d in dates])
    rng = np.random.default_rng(2)
    cases = []
    for segment in ["residential", "commercial", "industrial"]:
        for seed in range(4):
            load_h, temp_h = _hourly(segment, seed, first, days)
            load_h[rng.random(load_h.shape) < 0.02] = np.nan
            for t in range(95, days, 9):
                train = np.append(rng.random(90) > 0.05, False)
                s0 = int(rng.integers(0, 80))
                span = slice(t - 90, t + 1)
                cases.append((load_h[span], temp_h[span], weekday[span], months[span], train, s0, s0 + 16, 4))
    got = [caltrack_fit_predict(*c)[1] for c in cases]
    monkeypatch.setattr(regression, "_towt_coef", regression._towt_coef_normal)
    monkeypatch.setattr(regression, "_knots_for", _knots_reference)
    expected = [caltrack_fit_predict(*c)[1] for c in cases]
    assert len(cases) > 400
    worst = max((np.abs(a - b) / np.maximum(np.abs(b), 1.0)).max() for a, b in zip(got, expected, strict=True))
    assert worst < 1e-10


def test_gelsy_called_directly_is_scipys_lstsq_bit_for_bit():
    import scipy.linalg

    rng = np.random.default_rng(9)
    for n in [3, 10, 180]:
        x = rng.normal(size=(n + 40, n))
        x[:, -1] = 0.0  # rank-deficient: the minimum-norm solution
        xtx, xty = x.T @ x, x.T @ rng.normal(size=n + 40)
        expected, *_ = scipy.linalg.lstsq(xtx, xty, lapack_driver="gelsy", check_finite=False)
        assert np.array_equal(regression._solve_normal(xtx, xty), expected)
