"""Benchmark: CAISO 10-in-10 (with day-of adjustment) and PJM CBL (highest 4 of 5, SAA) for N meters x one
event day from 60 days of 15-minute history.

    .venv/bin/python bench/bench_baselines.py [meters] [chunk]

Data: a (meters x 60 days x 96 slots) float64 array of synthetic load (daily shape x per-meter scale x noise),
1 % of readings missing, 2-4 random event days per meter excluded, NERC holidays and weekends typed by the
calendar. The timed part is the vectorised baseline computation over the whole fleet (in chunks of meters, to
bound memory), including day selection and the adjustment; array generation is not timed.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta

import numpy as np

sys.path.insert(0, ".")

from assessment.baselines.caiso import caiso_10in10  # noqa: E402
from assessment.baselines.calendar import is_nerc_holiday  # noqa: E402
from assessment.baselines.pjm import pjm_cbl  # noqa: E402

DAYS, SLOTS, SPH = 60, 96, 4
EVENT = (17 * SPH, 19 * SPH)  # 17:00-19:00 local


def fleet(meters: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    hour = (np.arange(SLOTS) + 0.5) / SPH
    shape = 0.3 + 0.5 * np.exp(-0.5 * ((hour - 19) / 1.5) ** 2) + 0.2 * np.exp(-0.5 * ((hour - 7.5) / 1.0) ** 2)
    scale = rng.uniform(1.0, 100.0, meters)[:, None, None]
    day = rng.normal(1.0, 0.05, (meters, DAYS + 1, 1))
    noise = rng.normal(1.0, 0.06, (meters, DAYS + 1, SLOTS))
    values = scale * shape[None, None, :] * day * noise
    values[rng.random(values.shape) < 0.01] = np.nan
    history, day_of = values[:, :DAYS], values[:, DAYS].copy()
    day_of[:, EVENT[0] :] = np.nan  # the event day is known up to the event
    target = date(2025, 7, 16)  # a Wednesday
    days = [target - timedelta(days=DAYS - i) for i in range(DAYS)]
    weekday = np.array([d.weekday() < 5 and not is_nerc_holiday(d) for d in days])
    events = np.zeros((meters, DAYS), dtype=bool)
    for k in range(4):
        pick = rng.integers(0, DAYS, meters)
        events[np.arange(meters), pick] |= rng.random(meters) < (1.0 if k < 2 else 0.5)
    eligible = weekday[None, :] & ~events
    return history, eligible, day_of


def run(fn, history, eligible, day_of, chunk: int, **kw) -> tuple[float, int]:
    t0 = time.perf_counter()
    ok = 0
    for i in range(0, history.shape[0], chunk):
        # Both methods look back 45 calendar days.
        r = fn(
            history[i : i + chunk, -45:],
            eligible[i : i + chunk, -45:],
            day_of[i : i + chunk],
            event_start=EVENT[0],
            event_end=EVENT[1],
            slots_per_hour=SPH,
            **kw,
        )
        ok += int(r.ok.sum())
    return time.perf_counter() - t0, ok


def main() -> None:
    meters = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    history, eligible, day_of = fleet(meters)
    print(f"{meters} meters x {DAYS} days x {SLOTS} slots ({history.nbytes / 1e6:.0f} MB), chunks of {chunk}")
    for name, fn in (("CAISO 10-in-10 + day-of adjustment", caiso_10in10), ("PJM CBL 4-of-5 + SAA", pjm_cbl)):
        best = min(run(fn, history, eligible, day_of, chunk) for _ in range(3))
        seconds, ok = best
        print(f"{name:38s} {seconds:7.3f} s  {meters / seconds:12,.0f} meters/s  ({ok} meters with a baseline)")
    # The one-meter path the services use (compute(): day typing, exclusions, batch of one), for comparison.
    from assessment.baselines.compute import compute
    from assessment.baselines.grid import DayGrid

    target = date(2025, 7, 16)
    days = [target - timedelta(days=DAYS - i) for i in range(DAYS + 1)]
    n = min(meters, 1000)
    t0 = time.perf_counter()
    for m in range(n):
        grid = DayGrid(values=np.vstack([history[m], day_of[m][None]]), days=days, interval_minutes=15)
        compute(method="caiso-10in10", grid=grid, target_day=target, start_slot=EVENT[0], end_slot=EVENT[1])
    seconds = time.perf_counter() - t0
    print(
        f"{'CAISO one meter at a time (compute())':38s} {seconds:7.3f} s  {n / seconds:12,.0f} meters/s  ({n} meters)"
    )


if __name__ == "__main__":
    main()
