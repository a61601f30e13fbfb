"""Interval readings -> a (local days x wall-clock slots) array, the shape every baseline works on.

Baselines compare "the same time of day" across days, and the ISOs mean *local* time: an interval is
placed by the premise's local date and wall-clock time (CAISO BPM for Demand Response, PJM Manual 11
and the NYISO EDRP/SCR manual all work in local hours ending). Daylight-saving days:

* the 23-hour spring day has no readings in the skipped hour: those slots are NaN (missing), and a
  baseline for that day simply has no intervals there;
* the 25-hour autumn day has two readings for each slot of the repeated hour: the slot holds their
  mean, and both UTC intervals of the repeated hour on a target day map to that slot.

Missing readings are NaN; every baseline averages with NaN-aware means, so a missing interval on one
selected day leaves that day out of that slot's average only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


HOURS_PER_BLOCK = 1024  # the offsets of a zone are computed (and kept) for blocks of ~43 days of UTC hours


@lru_cache(maxsize=256)
def _block_offsets(tz: str, block: int) -> tuple[np.ndarray, np.ndarray]:
    """UTC offset (s) of ``tz`` at the first and at the last second of each UTC hour of ``block``."""
    zone = _zone(tz)
    hours = range(block * HOURS_PER_BLOCK, (block + 1) * HOURS_PER_BLOCK)
    first = np.array([datetime.fromtimestamp(h * 3600, zone).utcoffset().total_seconds() for h in hours], np.int64)
    last = np.array(
        [datetime.fromtimestamp(h * 3600 + 3599, zone).utcoffset().total_seconds() for h in hours], np.int64
    )
    first.setflags(write=False)
    last.setflags(write=False)
    return first, last


def utc_offsets(epoch: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset in seconds of ``tz`` at each epoch second (one zone lookup per distinct UTC hour, kept per block
    of hours for the process: a chunk of meters in one zone reads the same days)."""
    hours, inverse = np.unique(epoch // 3600, return_inverse=True)
    first = np.empty(hours.size, dtype=np.int64)
    last = np.empty(hours.size, dtype=np.int64)
    block_of = hours // HOURS_PER_BLOCK
    for block in np.unique(block_of).tolist():
        at = block_of == block
        f, la = _block_offsets(tz, block)
        first[at], last[at] = f[hours[at] - block * HOURS_PER_BLOCK], la[hours[at] - block * HOURS_PER_BLOCK]
    out = first[inverse.reshape(-1)]
    # Offsets change on the hour in every zone this platform serves; check the hour's last second anyway.
    for j in np.nonzero(first != last)[0]:
        for i in np.nonzero(inverse.reshape(-1) == j)[0]:
            out[i] = int(datetime.fromtimestamp(int(epoch[i]), _zone(tz)).utcoffset().total_seconds())
    return out


@dataclass(frozen=True)
class DayGrid:
    """``values[d, s]``: kWh on local day ``days[d]`` in wall-clock slot ``s`` (NaN = no reading)."""

    values: np.ndarray
    days: list[date]
    interval_minutes: int

    @property
    def slots_per_day(self) -> int:
        return 1440 // self.interval_minutes

    def index_of(self, day: date) -> int | None:
        try:
            return self.days.index(day)
        except ValueError:
            return None


def local_slots(starts: list[datetime], tz: str, interval_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """(local day ordinal, wall-clock slot) of each aware interval start."""
    epoch = np.array([int(s.timestamp()) for s in starts], dtype=np.int64)
    return local_slots_epoch(epoch, tz, interval_minutes)


def local_slots_epoch(epoch: np.ndarray, tz: str, interval_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    if epoch.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    local = epoch + utc_offsets(epoch, tz)
    day = local // 86400
    slot = (local - day * 86400) // (interval_minutes * 60)
    return day + EPOCH_ORDINAL, slot


def build_grid(
    *, epoch: np.ndarray, kwh: np.ndarray, tz: str, interval_minutes: int, first_day: date, last_day: date
) -> DayGrid:
    """The grid of local days ``first_day..last_day`` (inclusive) from readings at ``epoch`` seconds."""
    n_days = (last_day - first_day).days + 1
    spd = 1440 // interval_minutes
    total = np.zeros((n_days, spd))
    count = np.zeros((n_days, spd))
    if len(epoch):
        day, slot = local_slots_epoch(np.asarray(epoch, dtype=np.int64), tz, interval_minutes)
        row = day - first_day.toordinal()
        keep = (row >= 0) & (row < n_days)
        np.add.at(total, (row[keep], slot[keep]), np.asarray(kwh, dtype=np.float64)[keep])
        np.add.at(count, (row[keep], slot[keep]), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return DayGrid(
        values=values, days=[first_day + timedelta(days=i) for i in range(n_days)], interval_minutes=interval_minutes
    )


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """Aware UTC start and end of local ``day``."""
    zone = _zone(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    nxt = day + timedelta(days=1)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).astimezone(UTC)
