"""The demo world's weather, registered through the weather source interface (``WEATHER_SOURCES``,
:mod:`assessment.weather.sources`): the synthetic temperatures its load profiles were generated with
(:func:`assessment.synthetic.temperature_grid_c`, seeded per meter as the demo seeds it).

Only the settings that run the demo world (local, test) name it; production settings never do, so production
baselines never read synthetic weather."""

from __future__ import annotations

import hashlib

from accounts.models import Meter
from assessment.baselines.grid import DayGrid
from assessment.synthetic import temperature_grid_c
from assessment.weather.sources import Temperatures


def meter_seed(meter: Meter) -> int:
    """The seed of a meter's synthetic load and weather: from its meter id, never its primary key, so the demo
    world is the same whatever rows a database held before it (ids differ after other tests or a reused
    database; the world's readings, responses and payments must not)."""
    return int.from_bytes(hashlib.blake2b(meter.meter_id.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


class SyntheticWeather:
    def temperatures(self, *, meter: Meter, grid: DayGrid) -> Temperatures | None:
        values = temperature_grid_c(days=grid.days, slots_per_day=grid.slots_per_day, seed=meter_seed(meter))
        return Temperatures(values=values, source="synthetic")
