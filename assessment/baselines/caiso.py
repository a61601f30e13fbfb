"""CAISO 10-in-10 Customer Load Baseline with the day-of (load point) adjustment.

Rule implemented (CAISO Business Practice Manual for Demand Response, "Performance Evaluation
Methodologies - Customer Load Baseline", and CAISO Tariff §4.13.4):

* **Weekday events**: the per-interval average of the **10 most recent eligible weekdays** within a
  **45-day** look-back; at least **5** are required. Eligible = a business day that is not a NERC
  holiday, not an event day of the resource and not an outage day.
* **Weekend / holiday events**: the **4 most recent eligible weekend days or holidays** within the
  same look-back ("4-in-4"); at least **2** are required.
* **Day-of adjustment** (multiplicative): ratio of the actual load to the baseline over the
  adjustment window - the three hours ending one hour before the event starts (hours -4, -3, -2;
  the hour just before the event is skipped to avoid pre-cooling or other anticipatory changes) -
  limited to **±20 %** (factor in [0.8, 1.2]). Without day-of readings in the window the factor is 1.

The BPM gives no numeric worked example; the tests use hand-computed cases.
"""

from __future__ import annotations

import numpy as np

from .selection import BatchResult, averaged_ratio_adjusted, most_recent

WEEKDAY = {"max_days": 10, "min_days": 5}
WEEKEND = {"max_days": 4, "min_days": 2}


def caiso_10in10(
    history: np.ndarray,
    eligible: np.ndarray,
    day_of: np.ndarray,
    *,
    event_start: int,
    event_end: int,
    slots_per_hour: int,
    weekday: bool = True,
    max_days: int | None = None,
    min_days: int | None = None,
    cap: float = 0.20,
    adjust: bool = True,
    adjustment_hours: tuple[int, int] = (4, 1),
) -> BatchResult:
    """Baseline over event slots ``[event_start, event_end)`` for every meter of the batch."""
    rule = WEEKDAY if weekday else WEEKEND
    max_days = rule["max_days"] if max_days is None else max_days
    min_days = rule["min_days"] if min_days is None else min_days
    first, last = adjustment_hours
    adj_start, adj_end = event_start - first * slots_per_hour, event_start - last * slots_per_hour
    chosen = most_recent(eligible, max_days)
    values, factor, ok = averaged_ratio_adjusted(
        history=history,
        day_of=day_of,
        chosen=chosen,
        event_start=event_start,
        event_end=event_end,
        adj_start=adj_start,
        adj_end=adj_end,
        adjust=adjust,
        cap=cap,
        min_days=min_days,
    )
    return BatchResult(
        values=values,
        days_used=chosen,
        adjustment=factor,
        ok=ok,
        parameters={
            "max_days": max_days,
            "min_days": min_days,
            "cap": cap,
            "adjust": adjust,
            "adjustment_hours": list(adjustment_hours),
            "day_type": "weekday" if weekday else "weekend-holiday",
        },
    )
