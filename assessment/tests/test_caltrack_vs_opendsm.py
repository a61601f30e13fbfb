"""The CalTRACK hourly baseline against OpenDSM's CalTRACK hourly model, on OpenDSM's own sample meters.

OpenDSM (PyPI ``opendsm`` 1.2.7, with ``multimethod<2``) brings ~60 packages, so it lives in its own venv
(``make opendsm-venv``, at ``var/opendsm-venv`` or ``$OPENDSM_PYTHON``) and runs ``tools/opendsm_caltrack.py`` in a
subprocess. Both models are fitted on the same 365 days of the sample and predict an event window (16:00-20:00
local) two days later, in every season; the project's NMBE over the window must be within 5 points of OpenDSM's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from assessment.baselines.compute import compute
from assessment.baselines.grid import DayGrid

ROOT = Path(__file__).resolve().parents[2]
PYTHON = Path(os.environ.get("OPENDSM_PYTHON", ROOT / "var" / "opendsm-venv" / "bin" / "python"))
HOURS = (16, 20)
# (fit up to, event day): winter, spring, summer, autumn, and the December case of issue #18
SEASONS = [
    ("2017-01-16", "2017-01-18"),
    ("2017-04-10", "2017-04-12"),
    ("2017-07-17", "2017-07-19"),
    ("2017-10-16", "2017-10-18"),
    ("2017-12-11", "2017-12-13"),
]

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason="OpenDSM venv missing: run `make opendsm-venv`")


def _opendsm(sample: str) -> dict:
    spec = {"sample": sample, "seasons": [{"fit_end": f, "days": [d], "hours": list(HOURS)} for f, d in SEASONS]}
    done = subprocess.run(  # noqa: S603 (our own script, JSON argument)
        [str(PYTHON), str(ROOT / "tools" / "opendsm_caltrack.py"), json.dumps(spec)],
        capture_output=True,
        check=True,
        text=True,
        timeout=3600,
    )
    return json.loads(done.stdout)


def _grid(data: dict) -> tuple[DayGrid, np.ndarray]:
    rows: dict[date, list] = {}
    temps: dict[date, list] = {}
    for stamp, kwh, tf in zip(data["hours"], data["load"], data["temp_f"], strict=True):
        t = datetime.strptime(stamp, "%Y-%m-%dT%H")  # noqa: DTZ007 (the sample's local hours)
        rows.setdefault(t.date(), [np.nan] * 24)[t.hour] = np.nan if kwh in (None, 0) else kwh
        temps.setdefault(t.date(), [np.nan] * 24)[t.hour] = np.nan if tf is None else (tf - 32) * 5 / 9
    days = sorted(d for d in rows if len(rows[d]) == 24)
    return (
        DayGrid(values=np.array([rows[d] for d in days]), days=days, interval_minutes=60),
        np.array([temps[d] for d in days]),
    )


@pytest.mark.parametrize("sample", ["il-electricity-cdd-only-hourly", "il-electricity-cdd-hdd-hourly"])
def test_nmbe_within_five_points_of_opendsm_in_every_season(sample):
    data = _opendsm(sample)
    grid, temperature = _grid(data)
    for (fit_end, day), reference in zip(SEASONS, data["predictions"], strict=True):
        target, last_fit = date.fromisoformat(day), date.fromisoformat(fit_end)
        t = grid.index_of(target)
        actual = float(np.nansum(grid.values[t, HOURS[0] : HOURS[1]]))
        ours = compute(
            method="caltrack-hourly",
            grid=DayGrid(values=grid.values[: t + 1], days=grid.days[: t + 1], interval_minutes=60),
            target_day=target,
            start_slot=HOURS[0],
            end_slot=HOURS[1],
            excluded_days=[last_fit + timedelta(days=k) for k in range((target - last_fit).days)],
            parameters={"lookback_days": 365 + (target - last_fit).days},
            temperature=temperature[: t + 1],
        ).values.sum()
        nmbe_ours = (ours - actual) / actual * 100
        nmbe_opendsm = (reference["kwh"] - actual) / actual * 100
        print(f"{sample} {day}: actual {actual:.2f} kWh, ours {nmbe_ours:+.1f} %, OpenDSM {nmbe_opendsm:+.1f} %")
        assert abs(nmbe_ours - nmbe_opendsm) <= 5.0, (day, nmbe_ours, nmbe_opendsm)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s"]))
