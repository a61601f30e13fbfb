"""The demo world's weather as a weather source: the synthetic temperatures its load profiles were generated with
(:func:`assessment.synthetic.temperature_grid_c`, seeded per meter as the demo seeds it).

Only settings that run the demo name it in ``WEATHER_SOURCES``; production settings never do, so production
baselines never read synthetic weather."""

from __future__ import annotations

from accounts.models import Meter

from ..baselines.grid import DayGrid
from ..synthetic import temperature_grid_c
from .sources import Temperatures

METER_SEED = 7919  # the demo seeds a meter's weather with its primary key times this prime


class SyntheticWeather:
    def temperatures(self, *, meter: Meter, grid: DayGrid) -> Temperatures | None:
        values = temperature_grid_c(days=grid.days, slots_per_day=grid.slots_per_day, seed=meter.pk * METER_SEED)
        return Temperatures(values=values, source="synthetic")
