"""The demo world is the same whatever rows the database held before it: its synthetic load, weather and event
responses are seeded by what a meter and an event are, never by their primary keys (ids differ after other tests
or on a reused database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from accounts.models import Meter, Premise
from activation.models import DREvent
from demo.history import _day_readings
from demo.weather import meter_seed


def _meter(pk: int) -> Meter:
    meter = Meter(pk=pk, meter_id="DEMO-M-0001", interval_minutes=15)
    Meter._meta.get_field("premise").set_cached_value(meter, Premise(pk=pk, segment="residential"))
    return meter


def test_a_meters_seed_is_its_meter_id_not_its_row_id():
    assert meter_seed(_meter(1)) == meter_seed(_meter(9_001))
    other = Meter(pk=1, meter_id="DEMO-M-0002")
    assert meter_seed(other) != meter_seed(_meter(1))
    assert 0 <= meter_seed(_meter(1)) < 2**31


def test_the_days_readings_and_responses_do_not_depend_on_ids():
    start = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    end = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    runs = []
    for pk in (3, 40_003):  # the same meter and event, other ids (as after other tests' rows)
        event = DREvent(pk=pk, premise_id=pk, target_kw=Decimal("2.5"), start=start, end=end, source="market")
        runs.append(_day_readings(meter=_meter(pk), day=date(2026, 12, 5), events=[event]))
    (starts_a, values_a, truth_a), (starts_b, values_b, truth_b) = runs
    assert starts_a == starts_b and values_a == values_b
    assert list(truth_a.values()) == list(truth_b.values())
