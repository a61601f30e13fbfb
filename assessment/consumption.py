"""Historical consumption analysis of one meter for its consumer (plain data in, plain data out).

Definitions (as used in utility load research, e.g. the load-profile terms of the EIA glossary and of
ANSI/ASHRAE Guideline 14):
- demand (kW) of an interval = kWh x 60 / interval minutes;
- average daily load shape: mean demand per local hour of the day (0-23); weekly: per weekday and hour;
- peak demand: the highest interval demand, and when it happened (local time);
- base load: the 5th percentile of interval demand (the always-on load, robust to a few zero readings);
- load factor: average demand / peak demand over the period;
- seasonal split: energy and average kWh per day by meteorological season of the local date
  (winter Dec-Feb, spring Mar-May, summer Jun-Aug, autumn Sep-Nov; northern hemisphere).
Local days follow the premise's timezone, so 23- and 25-hour days are counted as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

SEASON_OF_MONTH = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
                   6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}  # fmt: skip
SEASONS = ("winter", "spring", "summer", "autumn")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KW = Decimal("0.001")


def _d(x: float) -> Decimal:
    return Decimal(str(float(x))).quantize(KW)


@dataclass
class ConsumptionAnalysis:
    intervals: int = 0
    days: int = 0
    total_kwh: Decimal = Decimal("0")
    daily_shape_kw: list[Decimal] = field(default_factory=list)  # 24 values
    weekly_shape_kw: list[list[Decimal]] = field(default_factory=list)  # 7 x 24
    peak_kw: Decimal = Decimal("0")
    peak_at: datetime | None = None  # local time
    base_load_kw: Decimal = Decimal("0")
    average_kw: Decimal = Decimal("0")
    load_factor: Decimal = Decimal("0")
    seasons: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "intervals": self.intervals,
            "days": self.days,
            "total_kwh": str(self.total_kwh),
            "daily_shape_kw": [str(v) for v in self.daily_shape_kw],
            "weekly_shape_kw": {WEEKDAYS[i]: [str(v) for v in row] for i, row in enumerate(self.weekly_shape_kw)},
            "peak_kw": str(self.peak_kw),
            "peak_at": self.peak_at.isoformat() if self.peak_at else None,
            "base_load_kw": str(self.base_load_kw),
            "average_kw": str(self.average_kw),
            "load_factor": str(self.load_factor),
            "seasons": {
                k: {"kwh": str(v["kwh"]), "days": v["days"], "kwh_per_day": str(v["kwh_per_day"])}
                for k, v in self.seasons.items()
            },  # fmt: skip
        }


def analyse(readings: list[tuple[datetime, Decimal]], *, tz: str, interval_minutes: int) -> ConsumptionAnalysis:
    out = ConsumptionAnalysis()
    if not readings:
        return out
    zone = ZoneInfo(tz)
    local = [s.astimezone(zone) for s, _ in readings]
    kwh = np.array([float(v) for _, v in readings])
    kw = kwh * 60.0 / interval_minutes
    hours = np.array([t.hour for t in local])
    weekdays = np.array([t.weekday() for t in local])
    out.intervals = len(readings)
    dates = [t.date() for t in local]
    out.days = len(set(dates))
    out.total_kwh = sum((v for _, v in readings), Decimal("0"))
    out.daily_shape_kw = [_d(kw[hours == h].mean()) if (hours == h).any() else Decimal("0.000") for h in range(24)]
    out.weekly_shape_kw = [
        [_d(kw[m].mean()) if (m := (weekdays == d) & (hours == h)).any() else Decimal("0.000") for h in range(24)]
        for d in range(7)
    ]
    i = int(kw.argmax())
    out.peak_kw, out.peak_at = _d(kw[i]), local[i]
    out.base_load_kw = _d(np.percentile(kw, 5))
    out.average_kw = _d(kw.mean())
    out.load_factor = (Decimal(str(float(kw.mean() / kw[i]))) if kw[i] > 0 else Decimal(0)).quantize(KW)
    for season in SEASONS:
        days = {d for d in dates if SEASON_OF_MONTH[d.month] == season}
        if not days:
            continue
        energy = sum((v for (_, v), d in zip(readings, dates, strict=True) if SEASON_OF_MONTH[d.month] == season),
                     Decimal("0"))  # fmt: skip
        out.seasons[season] = {"kwh": energy, "days": len(days), "kwh_per_day": (energy / len(days)).quantize(KW)}
    return out
