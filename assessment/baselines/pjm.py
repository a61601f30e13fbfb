"""PJM Customer Baseline Load (CBL): the standard CBL with the symmetric additive adjustment, and the
Same-Day (3+2) and Match-Day alternatives.

Rules implemented (PJM Manual 11 "Energy & Ancillary Services Market Operations", §10 "Demand
Resource Participation" - Customer Baseline Load; the 2025 manual revision adds Same Day and Match Day):

* **Weekday CBL**: the CBL basis window is the **5 most recent eligible weekdays** within **45**
  calendar days before the event (eligible = not a NERC holiday, not an event day of the resource,
  not an outage day). A day whose average event-period usage is below **25 %** of the average
  event-period usage of the 5 days is a low-usage day: it is dropped and the next eligible day taken.
  The CBL is the per-interval average of the **4 of those 5 days with the highest average
  event-period usage**.
* **Weekend / holiday CBL**: Saturday events use Saturdays; Sunday and holiday events use Sundays and
  NERC holidays: the **3 most recent** like days within 45 days, averaging the **2 with the highest**
  event-period usage.
* **Symmetric Additive Adjustment (SAA)**: the average difference (actual - CBL) over the three hours
  ending one hour before the event (hours -4, -3, -2) is added to the CBL of every event interval;
  it may be positive or negative ("symmetric") and the result is floored at zero.
* **Same Day (3+2)**: the CBL of every event interval is the average load of the event day in the
  3 hours before the event after skipping one hour (hours -4..-2) and the 2 hours after the event
  after skipping one hour (hours +2..+3). PJM's example: an event in hours ending 13-17 uses hours
  ending 9-11 and 19-20.
* **Match Day (3-day average)**: the average of the **3** eligible days whose load is most similar
  (least sum of squared differences) to the event day's non-event hours, where the hour before and
  the hour after the event are not counted as non-event hours. No further adjustment.

Manual 11 gives no numeric worked example of these; the tests use hand-computed cases.
"""

from __future__ import annotations

import numpy as np

from .selection import (
    BatchResult,
    highest,
    most_recent,
    nan_mean_days,
    period_usage,
    recent_without_low_usage,
    window_mean,
)


def pjm_cbl(
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
) -> BatchResult:
    """PJM weekday (highest 4 of 5) or weekend/holiday (highest 2 of 3) CBL with SAA."""
    window_days = (5 if weekday else 3) if window_days is None else window_days
    use_days = (4 if weekday else 2) if use_days is None else use_days
    usage = period_usage(history, event_start, event_end)
    basis = recent_without_low_usage(eligible, usage, window_days, threshold=low_usage_threshold)
    chosen = highest(basis, usage, use_days)
    adj_start, adj_end = event_start - 4 * slots_per_hour, event_start - slots_per_hour
    lo = max(adj_start, 0)
    cbl = nan_mean_days(history[..., lo:event_end], chosen)
    event = cbl[..., event_start - lo :]
    shift = np.zeros(history.shape[0])
    if adjust:
        diff = window_mean(day_of[..., lo:event_end] - cbl, adj_start - lo, adj_end - lo)
        shift = np.where(np.isfinite(diff), diff, 0.0)
    ok = (chosen.sum(axis=-1) >= use_days) & ~np.isnan(event).any(axis=-1)
    return BatchResult(
        values=np.maximum(event + shift[:, None], 0.0),
        days_used=chosen,
        adjustment=shift,
        ok=ok,
        parameters={
            "window_days": window_days,
            "use_days": use_days,
            "low_usage_threshold": low_usage_threshold,
            "adjust": adjust,
            "adjustment": "symmetric-additive",
            "day_type": "weekday" if weekday else "weekend-holiday",
        },
    )


def pjm_same_day(
    day_of: np.ndarray,
    *,
    event_start: int,
    event_end: int,
    slots_per_hour: int,
    before_hours: int = 3,
    after_hours: int = 2,
) -> BatchResult:
    """PJM Same Day (3+2): average event-day load in hours -4..-2 and +2..+3 around the event."""
    gap = slots_per_hour
    before = day_of[..., max(event_start - gap - before_hours * slots_per_hour, 0) : max(event_start - gap, 0)]
    after = day_of[..., event_end + gap : event_end + gap + after_hours * slots_per_hour]
    both = np.concatenate([before, after], axis=-1)
    expected = before_hours * slots_per_hour + after_hours * slots_per_hour
    count = (~np.isnan(both)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(count > 0, np.where(np.isnan(both), 0.0, both).sum(axis=-1) / np.maximum(count, 1), np.nan)
    n = event_end - event_start
    return BatchResult(
        values=np.repeat(level[:, None], n, axis=1),
        days_used=np.zeros((day_of.shape[0], 0), dtype=bool),
        adjustment=np.zeros(day_of.shape[0]),
        ok=count == expected,
        parameters={"before_hours": before_hours, "after_hours": after_hours, "gap_hours": 1},
    )


def pjm_match_day(
    history: np.ndarray,
    eligible: np.ndarray,
    day_of: np.ndarray,
    *,
    event_start: int,
    event_end: int,
    slots_per_hour: int,
    match_days: int = 3,
) -> BatchResult:
    """PJM Match Day: average of the ``match_days`` eligible days most like the event day outside the event."""
    slots = history.shape[-1]
    non_event = np.ones(slots, dtype=bool)
    non_event[max(event_start - slots_per_hour, 0) : min(event_end + slots_per_hour, slots)] = False
    target = day_of[:, None, :]
    sq = (history - target) ** 2
    valid = ~np.isnan(sq) & non_event[None, None, :]
    count = valid.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.where(valid, sq, 0.0).sum(axis=-1) / np.maximum(count, 1)
    pool = eligible & (count > 0)
    # Smallest distance first: reuse ``highest`` on the negated distance.
    chosen = highest(pool, -distance, match_days)
    base = nan_mean_days(history[..., event_start:event_end], chosen)
    ok = (chosen.sum(axis=-1) >= match_days) & ~np.isnan(base).any(axis=-1)
    return BatchResult(
        values=base,
        days_used=chosen,
        adjustment=np.zeros(history.shape[0]),
        ok=ok,
        parameters={"match_days": match_days, "excluded_hours_around_event": 1},
    )


__all__ = ["most_recent", "pjm_cbl", "pjm_match_day", "pjm_same_day"]
