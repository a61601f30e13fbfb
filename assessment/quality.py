"""Meter data quality, connectivity and the "validated" rule, on plain data (no ORM).

Checks follow the usual validation, estimation and editing (VEE) checks utilities run on interval data
(e.g. the checks listed in the Edison Electric Institute / UEI "Uniform Business Practices for Unbundled
Electricity Metering", Vol. 2, and ANSI C12.19 interval status flags): missing intervals (gaps), duplicated
intervals, negative values on an import channel, spikes, and flat lines (a stuck register repeating one value).

Days are *local* days of the premise: the expected count of intervals per day is the time between two
local midnights divided by the interval, so a 15-minute meter has 92 intervals on the spring-forward day
and 100 on the fall-back day (23- and 25-hour days), not 96.

Score (0-100) = 100 x completeness x (1 - share of present intervals flagged as anomalous).
A day is *clean* when it is complete and none of its intervals is flagged.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from statistics import median

import numpy as np

from .baselines.grid import local_day_bounds

SPIKE_FACTOR = 8  # a reading above 8x the series' median ...
SPIKE_MADS = 10  # ... and more than 10 robust standard deviations above it is a spike
FLAT_HOURS = 12  # the same non-zero value for 12 hours or more is a flat line
ONLINE_INTERVALS = 4  # latest interval ended at most 4 intervals ago: online
STALE_HOURS = 48  # ... at most 48 hours ago: stale; older: offline


def expected_intervals(day: date, tz: str, interval_minutes: int) -> int:
    """Intervals in a local day: 96 at 15 minutes on a 24-hour day, 92 on a 23-hour day, 100 on a 25-hour day."""
    start, end = local_day_bounds(day, tz)
    return int((end - start).total_seconds()) // (interval_minutes * 60)


@dataclass
class DayQuality:
    day: date
    expected: int
    present: int
    flagged: int

    @property
    def clean(self) -> bool:
        return self.present >= self.expected and self.flagged == 0


@dataclass
class QualityReport:
    expected: int = 0
    present: int = 0
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)  # missing runs [start, end)
    duplicates: int = 0
    negatives: int = 0
    spikes: int = 0
    flat_intervals: int = 0
    days: list[DayQuality] = field(default_factory=list)

    @property
    def completeness(self) -> float:
        return min(self.present / self.expected, 1.0) if self.expected else 0.0

    @property
    def clean_share(self) -> float:
        """Share of expected intervals present and not flagged."""
        if not self.expected:
            return 0.0
        bad = self.negatives + self.spikes + self.flat_intervals
        return max(min(self.present, self.expected) - bad, 0) / self.expected

    @property
    def flagged(self) -> int:
        return self.duplicates + self.negatives + self.spikes + self.flat_intervals

    @property
    def score(self) -> Decimal:
        if not self.expected:
            return Decimal("0.00")
        anomaly = min(self.flagged / self.present, 1.0) if self.present else 1.0
        return Decimal(str(round(100 * self.completeness * (1 - anomaly), 2))).quantize(Decimal("0.01"))

    @property
    def clean_days(self) -> int:
        return sum(d.clean for d in self.days)

    def issues(self) -> dict:
        return {
            "gap_intervals": self.expected - min(self.present, self.expected),
            "gaps": len(self.gaps),
            "duplicates": self.duplicates,
            "negatives": self.negatives,
            "spikes": self.spikes,
            "flat_intervals": self.flat_intervals,
        }


def assess_quality(
    readings: list[tuple[datetime, Decimal]], *, first_day: date, last_day: date, tz: str, interval_minutes: int
) -> QualityReport:
    """Quality of ``readings`` (aware UTC start, kWh; any order, repeats allowed) over local days
    ``first_day`` .. ``last_day`` inclusive."""
    report = QualityReport()
    window_start, _ = local_day_bounds(first_day, tz)
    _, window_end = local_day_bounds(last_day, tz)
    step = timedelta(minutes=interval_minutes)
    counts = Counter(s for s, _ in readings if window_start <= s < window_end)
    report.duplicates = sum(c - 1 for c in counts.values())
    series: dict[datetime, Decimal] = {}
    for s, v in readings:
        if window_start <= s < window_end:
            series.setdefault(s, v)
    ordered = sorted(series.items())
    flagged: set[datetime] = {s for s, c in counts.items() if c > 1}
    for s, v in ordered:
        if v < 0:
            report.negatives += 1
            flagged.add(s)
    positives = [v for _, v in ordered if v > 0]
    if len(positives) >= 8:
        med = median(positives)
        mad = median(abs(v - med) for v in positives) * Decimal("1.4826")
        for s, v in ordered:
            if v > SPIKE_FACTOR * med and v > med + SPIKE_MADS * mad:
                report.spikes += 1
                flagged.add(s)
    run_len = int(FLAT_HOURS * 60 / interval_minutes)
    run: list[datetime] = []
    previous: tuple[datetime, Decimal] | None = None
    for s, v in ordered + [(window_end, Decimal("-1"))]:
        continues = previous is not None and s - previous[0] == step and v == previous[1] and v > 0
        if continues:
            run.append(s)
        else:
            if len(run) >= run_len:
                report.flat_intervals += len(run)
                flagged.update(run)
            run = [s]
        previous = (s, v)
    # Gaps: runs of missing interval starts.
    t, gap_start = window_start, None
    while t < window_end:
        if t in series:
            if gap_start is not None:
                report.gaps.append((gap_start, t))
                gap_start = None
        elif gap_start is None:
            gap_start = t
        t += step
    if gap_start is not None:
        report.gaps.append((gap_start, window_end))
    # Per local day: the intervals starting between its two local midnights (counted by bisection on the sorted
    # starts: the same count as converting every start to its local date).
    present_starts = [s for s, _ in ordered]
    flagged_starts = sorted(flagged)
    day = first_day
    day_start = window_start
    while day <= last_day:
        _, day_end = local_day_bounds(day, tz)
        expected = int((day_end - day_start).total_seconds()) // (interval_minutes * 60)
        present = bisect_left(present_starts, day_end) - bisect_left(present_starts, day_start)
        flagged_n = bisect_left(flagged_starts, day_end) - bisect_left(flagged_starts, day_start)
        report.days.append(DayQuality(day, expected, present, flagged_n))
        report.expected += expected
        report.present += min(present, expected)
        day += timedelta(days=1)
        day_start = day_end
    return report


def connectivity(*, latest_start: datetime | None, interval_minutes: int, now: datetime) -> str:
    """online / stale / offline from how long ago the latest interval ended; "never" without data."""
    if latest_start is None:
        return "never"
    age = now - (latest_start + timedelta(minutes=interval_minutes))
    if age <= timedelta(minutes=ONLINE_INTERVALS * interval_minutes):
        return "online"
    if age <= timedelta(hours=STALE_HOURS):
        return "stale"
    return "offline"


@dataclass(frozen=True)
class Validation:
    validated: bool
    reasons: tuple[str, ...]


def validation_decision(
    *,
    ownership_verified: bool,
    history_days: int,
    report: QualityReport,
    link: str,
    min_days: int,
    min_completeness: float,
) -> Validation:
    """A meter is validated with its ownership shown, ``min_days`` of history in which at least
    ``min_completeness`` of the intervals are present and clean, and data still arriving (not offline)."""
    reasons = []
    if not ownership_verified:
        reasons.append("Ownership not shown: no import has carried the premise's utility account number.")
    if history_days < min_days:
        reasons.append(f"{history_days} days of history; {min_days} needed.")
    if report.completeness < min_completeness:
        reasons.append(f"Completeness {report.completeness:.1%} is below {min_completeness:.0%}.")
    elif report.clean_share < min_completeness:
        reasons.append(
            f"Only {report.clean_share:.1%} of intervals are present and clean (spikes, flat lines, negatives or "
            f"duplicates flagged); {min_completeness:.0%} needed."
        )
    if link == "offline":
        reasons.append("Meter is offline.")
    elif link == "never":
        reasons.append("Meter has sent no data yet.")
    return Validation(not reasons, tuple(reasons))


@lru_cache(maxsize=256)
def _window_days(first_day: date, last_day: date, tz: str) -> np.ndarray:
    """UTC epoch seconds of the local midnights that start ``first_day`` .. ``last_day`` and end ``last_day``
    (the same instants :func:`local_day_bounds` gives; kept per process: a chunk's meters share their window)."""
    edges = [int(local_day_bounds(first_day, tz)[0].timestamp())]
    day = first_day
    while day <= last_day:
        edges.append(int(local_day_bounds(day, tz)[1].timestamp()))
        day += timedelta(days=1)
    out = np.array(edges, dtype=np.int64)
    out.setflags(write=False)
    return out


def _median2(sorted_or_not: np.ndarray) -> int:
    """Twice the median of a non-empty integer array (an integer: the mean of the two middle values, doubled)."""
    n = sorted_or_not.size
    if n % 2:
        return int(np.partition(sorted_or_not, n // 2)[n // 2]) * 2
    part = np.partition(sorted_or_not, (n // 2 - 1, n // 2))
    return int(part[n // 2 - 1] + part[n // 2])


def assess_quality_arrays(
    epoch: np.ndarray,
    units: np.ndarray,
    *,
    first_day: date,
    last_day: date,
    tz: str,
    interval_minutes: int,
    scale: int = 10_000,
) -> QualityReport:
    """:func:`assess_quality` on arrays, for many meters at a time (the import's status refresh, the nightly
    recompute): ``epoch`` (UTC seconds) and ``units`` (kWh x ``scale``, integers: exact, as the stored
    ``numeric(12, 4)``). Same report, field for field: the median and MAD of the spike test are compared in
    integers, as the Decimals compare; intervals are counted per local day between the days' UTC bounds, as
    :func:`assess_quality` counts them. Stored readings come in start order without repeats: then nothing is
    sorted or de-duplicated here."""
    report = QualityReport()
    edges = _window_days(first_day, last_day, tz)
    ws, we, step = int(edges[0]), int(edges[-1]), interval_minutes * 60
    window_start, window_end = datetime.fromtimestamp(ws, UTC), datetime.fromtimestamp(we, UTC)
    epoch, units = np.asarray(epoch, dtype=np.int64), np.asarray(units, dtype=np.int64)
    inside = (epoch >= ws) & (epoch < we)
    epoch, units = epoch[inside], units[inside]
    if epoch.size < 2 or (epoch[1:] > epoch[:-1]).all():  # in order, no start twice
        e, v = epoch, units
        flagged = np.zeros(e.size, dtype=bool)
    else:
        order = np.argsort(epoch, kind="stable")  # the first reading of a repeated start is the one kept
        epoch, units = epoch[order], units[order]
        first = np.ones(epoch.size, dtype=bool)
        first[1:] = epoch[1:] != epoch[:-1]
        starts, counts = np.unique(epoch, return_counts=True)
        report.duplicates = int((counts - 1).sum())
        e, v = epoch[first], units[first]
        flagged = np.isin(e, starts[counts > 1])
    negative = v < 0
    report.negatives = int(negative.sum())
    flagged |= negative
    positives = v[v > 0]
    if positives.size >= 8:
        med2 = _median2(positives)
        d2 = _median2(np.abs(2 * positives - med2))  # MAD x 4 (|v - median| x 2, its median doubled)
        # v > SPIKE_FACTOR x med  and  v > med + SPIKE_MADS x MAD x 1.4826, both sides x 40,000
        spike = (2 * v > SPIKE_FACTOR * med2) & (40_000 * v > 20_000 * med2 + SPIKE_MADS * 14_826 * d2)
        report.spikes = int(spike.sum())
        flagged |= spike
    run_len = int(FLAT_HOURS * 60 / interval_minutes)
    if e.size:
        continues = np.zeros(e.size, dtype=bool)
        continues[1:] = (np.diff(e) == step) & (v[1:] == v[:-1]) & (v[1:] > 0)
        run_id = np.cumsum(~continues)
        length = np.bincount(run_id)[run_id]
        flat = length >= run_len
        report.flat_intervals = int(flat.sum())
        flagged |= flat
    # Gaps: runs of missing interval starts on the window's grid.
    slots = -(-(we - ws) // step)
    on_grid = e[((e - ws) % step) == 0]
    present = np.zeros(slots, dtype=bool)
    present[(on_grid - ws) // step] = True
    edges_gap = np.diff(np.concatenate([[0], (~present).astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(edges_gap == 1)[0], np.nonzero(edges_gap == -1)[0], strict=True):
        end = window_end if b >= slots else window_start + timedelta(seconds=int(b) * step)
        report.gaps.append((window_start + timedelta(seconds=int(a) * step), end))
    # Per local day: the starts between its two local midnights (``e`` is sorted).
    per_day_present = np.diff(np.searchsorted(e, edges)).tolist()
    per_day_flagged = np.diff(np.searchsorted(e[flagged], edges)).tolist()
    per_day_expected = (np.diff(edges) // step).tolist()
    for k, expected in enumerate(per_day_expected):
        report.days.append(DayQuality(first_day + timedelta(days=k), expected, per_day_present[k], per_day_flagged[k]))
        report.expected += expected
        report.present += min(per_day_present[k], expected)
    return report
