"""The demo world's weather, registered through the weather source interface (``WEATHER_SOURCES``,
:mod:`assessment.weather.sources`): the synthetic temperatures its load profiles were generated with
(:func:`assessment.synthetic.temperature_grid_c`, seeded per meter as the demo seeds it).

Only the settings that run the demo world (local, test) name it; production settings never do, so production
baselines never read synthetic weather."""

from __future__ import annotations

from accounts.models import Meter
from assessment.baselines.grid import DayGrid
from assessment.synthetic import temperature_grid_c
from assessment.weather.sources import Temperatures

METER_SEED = 7919  # the demo seeds a meter's weather with its primary key times this prime


class SyntheticWeather:
    def temperatures(self, *, meter: Meter, grid: DayGrid) -> Temperatures | None:
        values = temperature_grid_c(days=grid.days, slots_per_day=grid.slots_per_day, seed=meter.pk * METER_SEED)
        return Temperatures(values=values, source="synthetic")
