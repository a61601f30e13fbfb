"""Per-resource choice of the settlement baseline: the method most accurate on the resource's own like days.

Rule: the accuracy criteria of ASHRAE Guideline 14-2014 (:mod:`.accuracy`), applied out of sample to the
days that resemble the event day. A day's *type* follows the ISOs' day selection (CAISO BPM for Demand
Response, PJM Manual 11 §10, NYISO EDRP/SCR manual): business day, Saturday, or Sunday/NERC holiday - except
for a meter whose own history shows it runs through holidays, whose holidays are days of their weekday
(:mod:`.daytypes`, learned once per choice and used for the like days and every back-tested baseline). Each
method is back-tested on the resource's most recent non-event days of the event day's type (falling back to
all non-business days for a weekend or holiday when too few of the exact type exist; for a holiday event, its
earlier holidays among them), each held-out day scored as if an event had run over the event's window. A method
is scored on the like days it can be computed for (a resource with weeks of history cannot fill every method's
look-back for its oldest like days, and is still scored), and compared with the program's method on the days
both were scored on; the program's method is kept unless another's root-mean-square error of the window energy
is clearly lower. Guideline 14's NMBE and CV(RMSE) per method are kept as the choice's evidence.

Why by day type: a method that is accurate on weekdays can be badly wrong on a weekend for the same resource
(e.g. CAISO's weekend baseline pools NERC holidays with weekends; a plant that runs through holidays then has
production-level days in its Saturday baseline), and the accuracy that matters is the one on days like the
event day. Pure: no ORM; the caller passes the meter's :class:`~.grid.DayGrid`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from .accuracy import Accuracy, metrics
from .compute import METHODS, compute
from .daytypes import day_kind, holidays_worked, is_holiday
from .grid import DayGrid

#: Methods a ``most-accurate`` program chooses among: every published method that builds its baseline from like
#: days. PJM's Same Day method (a flat level from the hours around the event) is left out: it back-tests well on
#: flat days and is biased on any window on a load ramp (its median error over the M&V bench's events is -37 %,
#: and the demo's Saturday chose it for every meter), and PJM itself limits it to resources whose load is flat.
CHOICE_METHODS = tuple(m for m in METHODS if METHODS[m]["family"] != "pjm-same-day")

#: Held-out days scored per method (the most recent ones of the event day's type).
TEST_DAYS = 10
#: Of those, for a holiday event, at most this many are the resource's earlier (non-event) holidays.
HOLIDAY_TEST_DAYS = 3
#: Another method replaces the program's default only when its score is at least this much lower (relative):
#: with a handful of test days the smallest score is partly luck, and a switch must be earned.
SWITCH_MARGIN = 0.25
#: A method back-tested on fewer like days than this is not a candidate (nor is a comparison on fewer shared days).
MIN_SCORED_DAYS = 3
#: Fewer like days than this of the exact type (Saturday, or Sunday/holiday): pool all non-business days.
MIN_EXACT_DAYS = 3


def day_type(day: date, holidays: Iterable[date] = (), *, worked: bool = False) -> str:
    """``weekday``, ``saturday`` or ``sunday-holiday`` (NERC holidays and the caller's extra holidays); with
    ``worked`` (a meter that runs through holidays, :mod:`.daytypes`) a holiday is the day of its weekday."""
    return day_kind(day, holidays, worked=worked)


@dataclass(frozen=True)
class Choice:
    method: str
    day_type: str
    test_days: list[date]
    results: list[Accuracy]
    #: per method, the root-mean-square relative error of the event-window energy over the test days
    scores: dict[str, float]

    @property
    def best(self) -> Accuracy | None:
        return next((r for r in self.results if r.method == self.method), None)


def like_days(
    *,
    grid: DayGrid,
    target_day: date,
    start_slot: int,
    end_slot: int,
    excluded_days: Iterable[date] = (),
    holidays: Iterable[date] = (),
    count: int = TEST_DAYS,
    worked_holidays: bool | None = None,
) -> tuple[str, list[date]]:
    """The event day's type and the most recent complete non-event days of that type before it.

    ``worked_holidays``: the meter runs through holidays (its holidays are days of their weekday); None learns
    it from the meter's days before ``target_day`` (:func:`.daytypes.holidays_worked`)."""
    holidays, excluded = set(holidays), set(excluded_days)
    if worked_holidays is None:
        worked_holidays = holidays_worked(grid=grid, before=target_day, holidays=holidays, excluded_days=excluded)
    worked = worked_holidays

    def day_type(d: date, holidays: set[date]) -> str:  # the meter's own day types
        return day_kind(d, holidays, worked=worked)

    def _is_holiday(d: date, holidays: set[date]) -> bool:
        return not worked and is_holiday(d, holidays)

    kind = day_type(target_day, holidays)
    t = grid.index_of(target_day)
    stop = len(grid.days) if t is None else t
    complete = [
        d
        for d, row in zip(grid.days[:stop], grid.values[:stop], strict=True)
        if d < target_day and d not in excluded and not np.isnan(row[start_slot:end_slot]).any()
    ]
    exact = [d for d in complete if day_type(d, holidays) == kind]
    if kind != "weekday" and len(exact) < MIN_EXACT_DAYS:
        exact = [d for d in complete if day_type(d, holidays) != "weekday"]
    if _is_holiday(target_day, holidays):
        # A holiday event is back-tested on the resource's earlier holidays too (up to HOLIDAY_TEST_DAYS of them),
        # not on Sundays alone: a plant or shop that keeps normal hours on holidays looks like a closed one on
        # every Sunday, and only its holidays show which method baselines its holiday well.
        past = [d for d in exact if _is_holiday(d, holidays)][-HOLIDAY_TEST_DAYS:]
        rest = [d for d in exact if d not in past]
        return kind, sorted(past + rest[len(rest) - max(count - len(past), 0) :])
    return kind, exact[-count:]


def _relative_errors(
    *, grid: DayGrid, days: list[date], start_slot: int, end_slot: int, baseline_for
) -> tuple[dict[date, float], list[np.ndarray], list[np.ndarray]]:
    """One method's out-of-sample error on each like day it can be computed for: (predicted - actual) / actual
    of the event-window energy, and the per-slot actuals and predictions of those days (for Guideline 14)."""
    errors, ys, yhats = {}, [], []
    for d in days:
        try:
            predicted = np.asarray(baseline_for(d), dtype=float)
        except ValueError:  # InsufficientHistory: this method cannot be computed for that day
            continue
        actual = grid.values[grid.index_of(d), start_slot:end_slot]
        total = float(np.sum(actual))
        if total > 0 and np.isfinite(predicted).all():
            errors[d] = float(np.sum(predicted)) / total - 1.0
            ys.append(actual)
            yhats.append(predicted)
    return errors, ys, yhats


def rms(errors: Iterable[float]) -> float:
    """Root-mean-square of relative errors: bias and spread together (RMS² = mean² + variance)."""
    e = np.asarray(list(errors), dtype=float)
    return float(np.sqrt(np.mean(np.square(e)))) if e.size else float("inf")


def choose_method(
    *,
    grid: DayGrid,
    target_day: date,
    start_slot: int,
    end_slot: int,
    methods: Sequence[str],
    excluded_days: Iterable[date] = (),
    holidays: Iterable[date] = (),
    temperature: np.ndarray | None = None,
    test_days: int = TEST_DAYS,
    default: str | None = None,
    margin: float = SWITCH_MARGIN,
    min_days: int = MIN_SCORED_DAYS,
    worked_holidays: bool | None = None,
) -> Choice | None:
    """The most accurate of ``methods`` for this resource on days like ``target_day`` over the event's slots.

    Each method is back-tested out of sample on every like day it can be computed for (a method whose
    look-back is not yet filled skips the oldest like days: a resource with only weeks of history is still
    scored, on fewer days). Score: the root-mean-square relative error of the event-window energy over the
    days scored, the error that settles money, bias and spread together; a method scored on fewer than
    ``min_days`` days is not a candidate.

    ``default`` (the program's method) is kept unless another method's score is lower by more than ``margin``
    of the default's, compared on the like days both were scored on (a paired comparison: the same days, so a
    method is never preferred for having skipped a hard day). None when no method could be scored on
    ``min_days`` like days (the caller then settles on the program's method).

    ``worked_holidays``: the meter runs through holidays (:mod:`.daytypes`); None (the default) learns it once
    from the meter's days before ``target_day``, and the like days and every back-tested baseline use it."""
    excluded, holidays = set(excluded_days), set(holidays)
    worked = worked_holidays
    if worked is None:
        worked = holidays_worked(grid=grid, before=target_day, holidays=holidays, excluded_days=excluded)
    kind, days = like_days(
        grid=grid,
        target_day=target_day,
        start_slot=start_slot,
        end_slot=end_slot,
        excluded_days=excluded,
        holidays=holidays,
        count=test_days,
        worked_holidays=worked,
    )
    if not days:
        return None

    def baseline_for(method: str):
        def one(day: date) -> np.ndarray:
            return compute(
                method=method,
                grid=grid,
                target_day=day,
                start_slot=start_slot,
                end_slot=end_slot,
                excluded_days=excluded,
                holidays=holidays,
                temperature=temperature,
                worked_holidays=worked,
            ).values

        return one

    errors: dict[str, dict[date, float]] = {}
    results: list[Accuracy] = []
    for method in methods:
        errs, ys, yhats = _relative_errors(
            grid=grid, days=days, start_slot=start_slot, end_slot=end_slot, baseline_for=baseline_for(method)
        )
        if len(errs) < min_days:
            continue
        errors[method] = errs
        rel, nmbe, cv = metrics(np.concatenate(ys), np.concatenate(yhats))
        n = int(sum(np.isfinite(y).sum() for y in ys))
        results.append(
            Accuracy(method=method, n=n, days=len(errs), relative_error_pct=rel, nmbe_pct=nmbe, cvrmse_pct=cv)
        )
    if not errors:
        return None
    scores = {m: rms(e.values()) for m, e in errors.items()}
    if default in errors:
        base = errors[default]

        def paired(m: str) -> float:
            shared = [d for d in errors[m] if d in base]
            if len(shared) < min_days:
                return float("inf")
            reference = rms(base[d] for d in shared)
            return rms(errors[m][d] for d in shared) / reference if reference > 0 else float("inf")

        ratios = {m: paired(m) for m in errors if m != default}
        best = min(ratios, key=lambda m: (round(ratios[m], 12), m), default=default)
        if best == default or ratios[best] >= 1.0 - margin:
            best = default
    else:
        best = min(scores, key=lambda m: (round(scores[m], 12), m))
    return Choice(method=best, day_type=kind, test_days=days, results=results, scores=scores)
