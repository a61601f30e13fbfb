"""Many baselines at once: one method over many (meter, target day) cases, vectorised across them.

The same numbers as :func:`.compute.compute` case by case (the published rules are those of the method modules:
CAISO 10-in-10 in :mod:`.caiso`, PJM CBL / Same Day / Match Day in :mod:`.pjm`, NYISO CBL in :mod:`.nyiso`,
CalTRACK 2.0 hourly in :mod:`.regression`): the day-matching methods take a leading meter axis, so the cases of a
chunk of meters are stacked and each method runs once per day type and look-back length; CalTRACK fits one model
per case: for the values alone (:func:`compute_many`) through :func:`.compute.caltrack_fit_predict`, as
:func:`.compute.compute` does, on hourly arrays derived once per meter; for whole outcomes (:func:`outcomes_many`)
through :func:`.compute.compute`. The day types (weekday, Saturday, Sunday/holiday, with or without worked
holidays, :mod:`.daytypes`) are classified once per meter instead of once per call. Used by the nightly back-test
(``assessment.recompute``: the values) and the window assessment's forecast baselines
(``assessment.window_services``: whole outcomes, as stored). Pure: no ORM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np

from .caiso import caiso_10in10
from .calendar import is_nerc_holiday
from .compute import METHODS, BaselineOutcome, caltrack_fit_predict, compute
from .daytypes import MIN_REFERENCE_DAYS, MIN_SEPARATION
from .grid import DayGrid
from .nyiso import nyiso_cbl
from .pjm import pjm_cbl, pjm_match_day, pjm_same_day
from .selection import InsufficientHistory

WEEKDAY, SATURDAY, SUNDAY_HOLIDAY = 0, 1, 2
#: cases per vectorised call: (cases x 45 days x 96 slots) arrays and their temporaries stay a few MB each
MAX_CASES = 128


@dataclass
class MeterDays:
    """One meter's grid with what every case on it shares: its excluded days, and each day's type (NERC holidays
    only: the back-test passes no extra holidays) with holidays as Sundays and as worked days."""

    grid: DayGrid
    excluded: set[date]
    temperature: np.ndarray | None = None
    not_excluded: np.ndarray = field(init=False)
    kinds: dict[bool, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        days = self.grid.days
        self.not_excluded = np.array([d not in self.excluded for d in days], dtype=bool)
        weekdays = np.array([d.weekday() for d in days], dtype=np.int64)
        plain = np.where(weekdays < 5, WEEKDAY, np.where(weekdays == 5, SATURDAY, SUNDAY_HOLIDAY))
        holiday = np.array([is_nerc_holiday(d) for d in days], dtype=bool)
        self.kinds = {True: plain, False: np.where(holiday, SUNDAY_HOLIDAY, plain)}
        # CalTRACK's day of the week (holidays as Sundays unless worked, :func:`.compute._caltrack`), per worked flag
        self.weekdays = {True: weekdays, False: np.where(holiday, 6, weekdays)}

    @cached_property
    def hourly(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What :func:`.compute._caltrack` derives from the grid for every case, once for the meter: the load per
        local hour (NaN where the hour misses a reading), the mean temperature per hour, each day's month."""
        sph = 60 // self.grid.interval_minutes
        vals = self.grid.values.reshape(len(self.grid.days), 24, sph)
        temps = np.asarray(self.temperature).reshape(len(self.grid.days), 24, sph)
        with np.errstate(invalid="ignore"):
            load_h = vals.sum(axis=-1)
            load_h[np.isnan(vals).any(axis=-1)] = np.nan
            temp_h = np.nanmean(temps, axis=-1) if np.isfinite(temps).any() else temps.mean(axis=-1)
        return load_h, temp_h, np.array([d.month for d in self.grid.days], dtype=np.int64)

    def holidays_worked(self, befores: list[int]) -> dict[int, bool]:
        """:func:`.daytypes.holidays_worked` for targets at each grid index of ``befores`` (NERC holidays), from
        one set of day masks over the grid."""
        values = self.grid.values
        complete = ~np.isnan(values).any(axis=1) & self.not_excluded
        energy = np.array([float(row.sum()) for row in values])
        holiday = self.kinds[False] != self.kinds[True]
        business = complete & ~holiday & (self.kinds[True] == WEEKDAY)
        weekend = complete & ~holiday & (self.kinds[True] != WEEKDAY)
        hol = complete & holiday
        return {
            before: _worked(
                energy[:before][business[:before]].tolist(),
                energy[:before][weekend[:before]].tolist(),
                energy[:before][hol[:before]].tolist(),
            )
            for before in befores
        }


def _worked(business: list[float], weekend: list[float], holiday: list[float]) -> bool:
    if not holiday or len(business) < MIN_REFERENCE_DAYS or len(weekend) < MIN_REFERENCE_DAYS:
        return False
    work, rest = float(np.median(business)), float(np.median(weekend))
    if abs(work - rest) < MIN_SEPARATION * max(abs(work), abs(rest)):
        return False
    worked = sum(abs(e - work) < abs(e - rest) for e in holiday)
    return worked * 2 > len(holiday)


@dataclass(frozen=True)
class Case:
    meter: MeterDays
    target: int  # index of the target day in the meter's grid
    worked: bool  # the meter's holidays are worked days, as learned before the target


def compute_many(*, method: str, cases: list[Case], start_slot: int, end_slot: int) -> list[np.ndarray | None]:
    """Baseline kWh for slots ``[start_slot, end_slot)`` of each case's target day, or None where
    :func:`.compute.compute` raises :class:`InsufficientHistory`; the method's default parameters."""
    spec = METHODS[method]
    if spec["family"] == "caltrack":
        return [_caltrack(c, spec["lookback_days"], start_slot, end_slot) for c in cases]
    out: list[np.ndarray | None] = [None] * len(cases)
    for members, _, result in _day_matching(method, cases, start_slot, end_slot):
        for row, i in enumerate(members):
            if bool(result.ok[row]):
                out[i] = result.values[row]
    return out


def outcomes_many(*, method: str, cases: list[Case], start_slot: int, end_slot: int) -> list[BaselineOutcome | None]:
    """:func:`compute_many` with each case's whole :class:`.compute.BaselineOutcome` (the days used, the day-of
    adjustment, the parameters: what a stored baseline records), equal to :func:`.compute.compute`'s for the
    case; None where it raises :class:`InsufficientHistory`. Used by the window assessment's chunks
    (``assessment.window_services``)."""
    if METHODS[method]["family"] == "caltrack":
        return _caltrack_many(method, cases, start_slot, end_slot)
    lookback = METHODS[method]["lookback_days"]
    out: list[BaselineOutcome | None] = [None] * len(cases)
    for members, span, result in _day_matching(method, cases, start_slot, end_slot):
        for row, i in enumerate(members):
            if not bool(result.ok[row]):
                continue
            c = cases[i]
            days = c.meter.grid.days[c.target - span : c.target]
            used = result.days_used[row] if result.days_used.size else ()
            out[i] = BaselineOutcome(
                method=method,
                values=result.values[row],
                days_used=[d for d, u in zip(days, used, strict=False) if u],
                adjustment=float(result.adjustment[row]),
                parameters={**result.parameters, "lookback_days": lookback, "holidays_worked": bool(c.worked)},
            )
    return out


def _caltrack_many(method: str, cases: list[Case], start_slot: int, end_slot: int) -> list[BaselineOutcome | None]:
    """CalTRACK fits one model per case: :func:`.compute.compute` case by case."""
    out: list[BaselineOutcome | None] = [None] * len(cases)
    for i, c in enumerate(cases):
        try:
            out[i] = compute(
                method=method,
                grid=c.meter.grid,
                target_day=c.meter.grid.days[c.target],
                start_slot=start_slot,
                end_slot=end_slot,
                excluded_days=c.meter.excluded,
                temperature=c.meter.temperature,
                worked_holidays=c.worked,
            )
        except InsufficientHistory:
            pass
    return out


def _day_matching(method: str, cases: list[Case], start_slot: int, end_slot: int):
    """The day-matching methods over the cases, stacked per interval length, day type and look-back span:
    yields (the cases' indexes, the span, the method's :class:`.selection.BatchResult` for them, row by row)."""
    spec = METHODS[method]
    family = spec["family"]
    lookback = spec["lookback_days"]
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cases):
        spd, minutes = c.meter.grid.slots_per_day, c.meter.grid.interval_minutes
        if not (0 <= start_slot < end_slot <= spd):
            raise ValueError("event slots out of range")
        kind = int(c.meter.kinds[c.worked][c.target])
        groups.setdefault((minutes, kind, c.target - max(0, c.target - lookback)), []).append(i)
    slices = [(key, m[k : k + MAX_CASES]) for key, m in groups.items() for k in range(0, len(m), MAX_CASES)]
    for (minutes, kind, span), members in slices:
        common = {"event_start": start_slot, "event_end": end_slot, "slots_per_hour": 60 // minutes}
        day_of = np.stack([cases[i].meter.grid.values[cases[i].target] for i in members])
        if family == "pjm-same-day":
            yield members, span, pjm_same_day(day_of, **common)
            continue
        history = np.stack(
            [cases[i].meter.grid.values[cases[i].target - span : cases[i].target] for i in members]
        ).reshape(len(members), span, -1)
        eligible = np.stack([_eligible(cases[i], span, kind, family == "caiso") for i in members]).reshape(
            len(members), span
        )
        weekday = kind == WEEKDAY
        if family == "caiso":
            result = caiso_10in10(history, eligible, day_of, weekday=weekday, adjust=spec["adjust"], **common)
        elif family == "pjm":
            result = pjm_cbl(history, eligible, day_of, weekday=weekday, adjust=spec["adjust"], **common)
        elif family == "nyiso":
            result = nyiso_cbl(history, eligible, day_of, weekday=weekday, adjust=spec["adjust"], **common)
        else:
            result = pjm_match_day(history, eligible, day_of, **common)
        yield members, span, result


def _caltrack(case: Case, lookback: int, start_slot: int, end_slot: int) -> np.ndarray | None:
    """:func:`.compute._caltrack`'s values for one case (:func:`.compute.caltrack_fit_predict` on the same numbers,
    sliced from the meter's hourly arrays, :attr:`MeterDays.hourly`); None where it raises
    :class:`InsufficientHistory`."""
    m, t = case.meter, case.target
    if not (0 <= start_slot < end_slot <= m.grid.slots_per_day):
        raise ValueError("event slots out of range")
    if m.temperature is None:
        return None
    load_h, temp_h, months = m.hourly
    first = max(0, t - lookback)
    train = np.append(m.not_excluded[first:t], False)
    days = slice(first, t + 1)
    try:
        _, values = caltrack_fit_predict(
            load_h[days], temp_h[days], m.weekdays[case.worked][days], months[days], train, start_slot, end_slot,
            60 // m.grid.interval_minutes,
        )  # fmt: skip
    except ValueError:
        return None
    return values


def _eligible(case: Case, span: int, target_kind: int, pool_weekends: bool) -> np.ndarray:
    """:func:`.compute._like_days` and not excluded, over the ``span`` days before the target."""
    lo, hi = case.target - span, case.target
    kinds = case.meter.kinds[case.worked][lo:hi]
    like = kinds != WEEKDAY if (target_kind != WEEKDAY and pool_weekends) else kinds == target_kind
    return like & case.meter.not_excluded[lo:hi]
