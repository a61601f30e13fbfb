"""Market fixtures: the small demo world with capacity accredited for a delivery day far ahead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from accounts.models import GridZone

from .factories import DAY, accredit_day


@dataclass
class MarketWorld:
    world: object
    iso: GridZone
    sub1: GridZone
    now: object

    @property
    def operator(self):
        return self.world.operator

    @property
    def aggregator(self):
        return self.world.aggregator

    def premise(self, i):
        return self.world.premises[i]


@pytest.fixture
def mw(small_world):
    """premises 0 (household, direct, feeder-e1a), 1 and 2 (households via the aggregator, e1b and e2a),
    3 and 4 (businesses, e2b and e1a), 5 (factory, e1b); each accredited 80 kW around DAY."""
    accredit_day(small_world.premises, 80)
    return MarketWorld(
        world=small_world,
        iso=GridZone.objects.get(code="iso-east"),
        sub1=GridZone.objects.get(code="sub-east-1"),
        now=DAY - timedelta(days=1),
    )
