"""NYISO Customer Baseline Load (Average Day CBL) with the in-day weather-sensitive adjustment.

Rule implemented (NYISO Emergency Demand Response Program Manual, §"Customer Baseline Load", and
the NYISO ICAP Manual Attachment for SCR performance; the same CBL as the NYISO DADRP):

* **Weekday**: the CBL window is the **10 most recent eligible weekdays** in the **30 days** before
  the event (eligible = not an event day of the resource, not a NERC holiday, not an outage day).
  Low-usage days - average event-period usage below **25 %** of the window's average - are dropped
  and replaced. The CBL is the per-interval average of the **5 days with the highest** average
  event-period usage.
* **Weekend**: the **3 most recent** like days (Saturdays for a Saturday, Sundays/holidays for a
  Sunday or holiday), averaging the **2 highest**.
* **In-day (weather-sensitive) adjustment**: multiplicative; the ratio of the actual load to the CBL
  over the **two hours beginning four hours before the event** (hours -4 and -3), limited to the
  range **0.80 - 1.20**. Without day-of readings in that window the factor is 1.

No published numeric worked example was found; the tests use hand-computed cases.
"""

from __future__ import annotations

import numpy as np

from .selection import (
    BatchResult,
    averaged_ratio_adjusted,
    highest,
    period_usage,
    recent_without_low_usage,
)


def nyiso_cbl(
    history: np.ndarray,
    eligible: np.ndarray,
    day_of: np.ndarray,
    *,
    event_start: int,
    event_end: int,
    slots_per_hour: int,
    weekday: bool = True,
    window_days: int | None = None,
    use_days: int | None = None,
    low_usage_threshold: float = 0.25,
    adjust: bool = True,
    cap: float = 0.20,
) -> BatchResult:
    window_days = (10 if weekday else 3) if window_days is None else window_days
    use_days = (5 if weekday else 2) if use_days is None else use_days
    usage = period_usage(history, event_start, event_end)
    basis = recent_without_low_usage(eligible, usage, window_days, threshold=low_usage_threshold)
    chosen = highest(basis, usage, use_days)
    adj_start, adj_end = event_start - 4 * slots_per_hour, event_start - 2 * slots_per_hour
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
        min_days=use_days,
    )
    return BatchResult(
        values=values,
        days_used=chosen,
        adjustment=factor,
        ok=ok,
        parameters={
            "window_days": window_days,
            "use_days": use_days,
            "low_usage_threshold": low_usage_threshold,
            "adjust": adjust,
            "cap": cap,
            "adjustment": "weather-sensitive-multiplicative",
            "day_type": "weekday" if weekday else "weekend-holiday",
        },
    )
