"""One entry point for every baseline method, on one meter's :class:`~.grid.DayGrid`.

Selects the look-back and day type of each method (weekday vs Saturday vs Sunday/holiday, NERC
holidays from :mod:`.calendar`), excludes the resource's event and outage days, calls the vectorised
method with a batch of one and returns plain numbers. Pure: no ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .caiso import caiso_10in10
from .daytypes import day_kind, holidays_worked, is_holiday
from .grid import DayGrid
from .nyiso import nyiso_cbl
from .pjm import pjm_cbl, pjm_match_day, pjm_same_day
from .regression import fit_towt, month_weights
from .selection import InsufficientHistory

METHODS = {
    "caiso-10in10": {"family": "caiso", "adjust": True, "lookback_days": 45},
    "caiso-10in10-unadjusted": {"family": "caiso", "adjust": False, "lookback_days": 45},
    "pjm-cbl": {"family": "pjm", "adjust": True, "lookback_days": 45},
    "pjm-cbl-unadjusted": {"family": "pjm", "adjust": False, "lookback_days": 45},
    "pjm-same-day": {"family": "pjm-same-day", "lookback_days": 0},
    "pjm-match-day": {"family": "pjm-match-day", "lookback_days": 45},
    "nyiso-cbl": {"family": "nyiso", "adjust": True, "lookback_days": 30},
    "nyiso-cbl-unadjusted": {"family": "nyiso", "adjust": False, "lookback_days": 30},
    "caltrack-hourly": {"family": "caltrack", "lookback_days": 90},
}
# Methods that can be computed before the event day (no day-of data needed): usable as forecasts.
FORECAST_METHODS = ("caiso-10in10-unadjusted", "pjm-cbl-unadjusted", "nyiso-cbl-unadjusted", "caltrack-hourly")


@dataclass
class BaselineOutcome:
    method: str
    values: np.ndarray  # kWh per slot of [start_slot, end_slot) on the target day
    days_used: list[date]
    adjustment: float
    parameters: dict = field(default_factory=dict)


def _like_days(
    days: list[date], target: date, *, pool_weekends: bool, holidays: set[date], worked: bool = False
) -> np.ndarray:
    """Day-type mask: weekdays for a business-day target; weekend/holiday days otherwise.

    ``pool_weekends`` (CAISO) pools Saturdays, Sundays and holidays; otherwise (PJM, NYISO) a Saturday
    uses Saturdays and a Sunday or holiday uses Sundays and holidays. With ``worked`` (a meter that runs
    through holidays, :mod:`.daytypes`) a holiday is an ordinary day of its weekday.
    """

    def kind(d: date) -> str:
        return day_kind(d, holidays, worked=worked)

    t = kind(target)
    if t != "weekday" and pool_weekends:
        return np.array([kind(d) != "weekday" for d in days], dtype=bool)
    return np.array([kind(d) == t for d in days], dtype=bool)


def compute(
    *,
    method: str,
    grid: DayGrid,
    target_day: date,
    start_slot: int,
    end_slot: int,
    excluded_days: Iterable[date] = (),
    holidays: Iterable[date] = (),
    parameters: dict | None = None,
    temperature: np.ndarray | None = None,
    worked_holidays: bool | None = None,
) -> BaselineOutcome:
    """Baseline kWh for slots ``[start_slot, end_slot)`` of ``target_day``.

    ``grid`` must contain ``target_day`` (its row is the day-of data; NaN where not yet read) and the
    days before it. ``temperature`` (°C, same shape as ``grid.values``) is needed by ``caltrack-hourly``.
    ``worked_holidays``: whether this meter runs through holidays (its holidays are then ordinary days of their
    weekday, :mod:`.daytypes`); None learns it from the grid's days before ``target_day``.
    Raises :class:`InsufficientHistory` when the method's minimum is not met.
    """
    if method not in METHODS:
        raise ValueError(f"unknown baseline method {method!r}")
    spec = METHODS[method]
    params = dict(parameters or {})
    t = grid.index_of(target_day)
    if t is None:
        raise ValueError(f"{target_day} is not in the grid")
    spd, sph = grid.slots_per_day, 60 // grid.interval_minutes
    if not (0 <= start_slot < end_slot <= spd):
        raise ValueError("event slots out of range")
    lookback = int(params.pop("lookback_days", spec["lookback_days"]))
    first = max(0, t - lookback)
    days = grid.days[first:t]
    history = grid.values[None, first:t, :]
    day_of = grid.values[None, t, :]
    holiday_set = set(holidays)
    excluded = set(excluded_days)
    if worked_holidays is None:
        worked_holidays = holidays_worked(grid=grid, before=target_day, holidays=holiday_set, excluded_days=excluded)
    weekday_target = day_kind(target_day, holiday_set, worked=worked_holidays) == "weekday"
    family = spec["family"]
    not_excluded = np.array([d not in excluded for d in days], dtype=bool)
    common = {"event_start": start_slot, "event_end": end_slot, "slots_per_hour": sph}

    if family == "caltrack":
        return _caltrack(
            method,
            grid,
            first,
            t,
            start_slot,
            end_slot,
            excluded,
            temperature,
            params,
            lookback,
            holiday_set,
            worked_holidays,
        )
    if family == "pjm-same-day":
        result = pjm_same_day(day_of, **common, **params)
    else:
        like = _like_days(
            days, target_day, pool_weekends=family == "caiso", holidays=holiday_set, worked=worked_holidays
        )
        eligible = (like & not_excluded)[None, :]
        if family == "caiso":
            result = caiso_10in10(
                history, eligible, day_of, weekday=weekday_target, adjust=spec["adjust"], **common, **params
            )
        elif family == "pjm":
            result = pjm_cbl(
                history, eligible, day_of, weekday=weekday_target, adjust=spec["adjust"], **common, **params
            )
        elif family == "nyiso":
            result = nyiso_cbl(
                history, eligible, day_of, weekday=weekday_target, adjust=spec["adjust"], **common, **params
            )
        else:  # pjm-match-day: any eligible non-event, non-holiday day of the same weekday/weekend kind
            result = pjm_match_day(history, eligible, day_of, **common, **params)
    used = [d for d, u in zip(days, result.days_used[0], strict=False) if u] if result.days_used.size else []
    if not bool(result.ok[0]):
        raise InsufficientHistory(
            f"{method}: not enough eligible days or readings for {target_day} ({len(used)} day(s) usable)"
        )
    return BaselineOutcome(
        method=method,
        values=result.values[0],
        days_used=used,
        adjustment=float(result.adjustment[0]),
        parameters={**result.parameters, "lookback_days": lookback, "holidays_worked": bool(worked_holidays)},
    )


def caltrack_fit_predict(
    load_h: np.ndarray,
    temp_h: np.ndarray,
    weekday: np.ndarray,
    months: np.ndarray,
    train: np.ndarray,
    start_slot: int,
    end_slot: int,
    slots_per_hour: int,
):
    """CalTRACK 2.0 hourly over the look-back days and the target day (the last row): the model fitted on the
    ``train`` days' hourly load (kWh) and temperature (°C), and its prediction (kWh per slot) for slots
    ``[start_slot, end_slot)`` of the target day. ``weekday``: each day's day of the week, 6 for a holiday taken
    as a Sunday; ``months``: each day's month. Raises ``ValueError`` when the model cannot be fitted."""
    # Holidays (NERC and the caller's) take Sunday's hours of the week, in training and in the prediction: the
    # day-type rule the ISO baselines apply, carried into the time-of-week model (a plant closed on Labor Day is
    # not predicted at its Monday production level) - unless the meter runs through holidays (:mod:`.daytypes`).
    how = (weekday[:, None] * 24 + np.arange(24)[None, :]).astype(np.int64)
    y = np.where(train[:, None], load_h, np.nan)
    # CalTRACK 2.0 hourly: the model of the event day's month, its month weighted 1 and the neighbours 0.5.
    weights = np.repeat(month_weights(months, int(months[-1]))[:, None], 24, axis=1)
    model = fit_towt(y.ravel(), how.ravel(), temp_h.ravel(), weights.ravel())
    slot_hours = np.arange(start_slot, end_slot) // slots_per_hour
    values = model.predict(how[-1][slot_hours], temp_h[-1][slot_hours]) / slots_per_hour
    # No clipping per hour (CalTRACK sums unclipped predictions); only the event's total is clipped at zero.
    if values.sum() < 0:
        values = np.zeros_like(values)
    return model, values


def _caltrack(
    method,
    grid,
    first,
    t,
    start_slot,
    end_slot,
    excluded,
    temperature,
    params,
    lookback,
    holidays=frozenset(),
    worked=False,
) -> BaselineOutcome:
    if temperature is None:
        raise InsufficientHistory("caltrack-hourly needs temperatures")
    sph = 60 // grid.interval_minutes
    hours = 24
    vals = grid.values[first : t + 1].reshape(t + 1 - first, hours, sph)
    temps = np.asarray(temperature)[first : t + 1].reshape(t + 1 - first, hours, sph)
    with np.errstate(invalid="ignore"):
        load_h = vals.sum(axis=-1)
        load_h[np.isnan(vals).any(axis=-1)] = np.nan
        temp_h = np.nanmean(temps, axis=-1) if np.isfinite(temps).any() else temps.mean(axis=-1)
    days = grid.days[first : t + 1]
    weekday = np.array([6 if (not worked and is_holiday(d, holidays)) else d.weekday() for d in days])
    train = np.array([d not in excluded for d in days[:-1]] + [False])
    months = np.array([d.month for d in days])
    try:
        model, values = caltrack_fit_predict(load_h, temp_h, weekday, months, train, start_slot, end_slot, sph)
    except ValueError as exc:
        raise InsufficientHistory(str(exc)) from exc
    used = [d for i, d in enumerate(days[:-1]) if train[i] and not np.isnan(load_h[i]).all()]
    return BaselineOutcome(
        method=method,
        values=values,
        days_used=used,
        adjustment=1.0,
        parameters={"lookback_days": lookback, "knots_f": model.knots, "parameters_fitted": model.parameter_count},
    )
