"""One meter's file as compact channel series, and the checks every reading of it must pass (pure, no ORM).

Large files (a utility's Green Button download of several years) must not become one Python object per
reading: a parser appends each reading to typed arrays (``array('q')``: 8 bytes a value) and the checks run on
numpy views of them. Energy is held in tenths of a watt-hour (0.0001 kWh, the precision readings are stored
with), so every conversion is exact integer arithmetic.

Checks (each distinct problem reported once, with its count and first positions): the start lies on the meter's
interval boundary and the duration is the meter's interval; energy is not negative, not beyond the column's
range, and exact to 0.1 Wh; no interval appears twice on one channel.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .types import FIRST_POSITIONS, Problems

IMPORT, EXPORT = "import", "export"
TENTH_WH_MAX = 10**12  # 1e8 kWh, the bound of MeterReading.kwh (12 digits, 4 decimals)


@dataclass
class ChannelSeries:
    """Readings of one channel: start (epoch seconds, UTC), energy (0.1 Wh), position (for messages)."""

    starts: array = field(default_factory=lambda: array("q"))
    tenth_wh: array = field(default_factory=lambda: array("q"))
    positions: array = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.starts)

    def append(self, start: int, tenth_wh: int, position: int) -> None:
        self.starts.append(start)
        self.tenth_wh.append(tenth_wh)
        self.positions.append(position)

    def sorted_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, tenth_wh, positions) ordered by start."""
        starts = np.frombuffer(self.starts, dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        values = np.frombuffer(self.tenth_wh, dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        positions = np.frombuffer(self.positions, dtype=np.int64) if len(self) else np.zeros(0, np.int64)
        order = np.argsort(starts, kind="stable")
        return starts[order], values[order], positions[order]


@dataclass
class MeterFile:
    """What a file says about one meter: its channels, the problems found, and what it declares."""

    ref_of: Callable[[int], str]
    channels: dict[str, ChannelSeries] = field(
        default_factory=lambda: {IMPORT: ChannelSeries(), EXPORT: ChannelSeries()}
    )
    problems: Problems = field(default_factory=Problems)
    account_number: str = ""
    tz_offset_seconds: int | None = None
    skipped: int = 0
    qualities: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self):
        """The first records of each distinct problem."""
        return self.problems.examples

    @property
    def readings(self) -> int:
        return sum(len(c) for c in self.channels.values())

    def problem_at(self, positions: np.ndarray, message: str, problem: str | None = None) -> None:
        """Report ``problem`` at each of ``positions`` (exact count; the first few named)."""
        kind = problem or message
        positions = np.sort(positions)
        for pos in positions[:FIRST_POSITIONS].tolist():
            self.problems.add(self.ref_of(int(pos)), message, kind)
        if len(positions) > FIRST_POSITIONS:
            self.problems.counts[kind] += len(positions) - FIRST_POSITIONS


def check_readings(file: MeterFile, *, interval_seconds: int, durations: dict[str, np.ndarray] | None = None) -> None:
    """Record-level checks on every channel of ``file`` (problems added to ``file.problems``).

    ``durations``: per channel, the duration (s) of each reading in the channel's append order, when the
    format gives one."""
    minutes = interval_seconds // 60
    for name, series in file.channels.items():
        if not len(series):
            continue
        starts = np.frombuffer(series.starts, dtype=np.int64)
        values = np.frombuffer(series.tenth_wh, dtype=np.int64)
        positions = np.frombuffer(series.positions, dtype=np.int64)
        off = positions[starts % interval_seconds != 0]
        file.problem_at(off, f"start not on the meter's {minutes}-minute boundary")
        if durations is not None and name in durations:
            wrong = positions[durations[name] != interval_seconds]
            file.problem_at(wrong, f"duration is not the meter's interval ({interval_seconds} s)")
        file.problem_at(positions[values < 0], "negative energy")
        file.problem_at(positions[values >= TENTH_WH_MAX], "energy out of range (1e8 kWh or more)")
        if len(starts) > 1:
            order = np.argsort(starts, kind="stable")
            ordered = starts[order]
            again = positions[order][1:][ordered[1:] == ordered[:-1]]
            file.problem_at(np.sort(again), f"interval given twice on the {name} channel")
