"""VEN reports in measurement and verification: where meter data is missing (or the resource has no meter), the
usage a VEN reported over OpenADR 3 is the measured actual, live and in ``event_verify``; meter data wins where
both exist; the verification says which source it used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import demo
from accounts import services as accounts_services
from activation import selectors, services
from activation.models import DataSource
from activation.openadr_reports import common_minutes, on_grid, report_readings, window_period
from assessment.services import baseline_compute, meter_readings_record
from flexplatform.errors import ApplicationError

from .conftest import ven_client

BASE = "/openadr3/3.0.1"


@pytest.fixture
def metered(small_world):
    """A household of the aggregator with 21 days of meter data, enrolled, with its VEN and an event yesterday
    17:00-19:00 (eight 15-minute intervals) for 2 kW, i.e. 4 kWh committed."""
    premise = small_world.premises[1]
    program = services.program_create(code="ven-verified", name="VEN verified", notice_minutes=0)
    services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("3"))
    client, ven = ven_client("house-ven", "house-client", small_world.aggregator, premise)
    start, end = demo.event_window(small_world.day)
    event = services.event_create(
        program=program, premise=premise, target_kw=Decimal("2"), start=start, end=end, now=start - timedelta(hours=1)
    )
    meter = premise.meters.get()
    baseline = baseline_compute(meter=meter, window_start=start, window_end=end, now=start - timedelta(hours=1))
    return client, event, meter, [(i.start, i.kwh) for i in baseline.intervals.order_by("start")]


def _report(event, resource_name, rows, *, usage_type="USAGE", units="KWH", minutes=15):
    """A report of ``rows`` = [(usage, baseline or None)] from the event start, one interval each."""
    return {
        "programID": str(event.program_id),
        "eventID": str(event.pk),
        "clientName": resource_name,
        "payloadDescriptors": [
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": usage_type, "units": units},
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "BASELINE", "units": "KWH"},
        ],
        "resources": [
            {
                "resourceName": resource_name,
                "intervalPeriod": {"start": event.start.isoformat(), "duration": f"PT{minutes}M"},
                "intervals": [
                    {
                        "id": k,
                        "payloads": [{"type": usage_type, "values": [float(u)]}]
                        + ([{"type": "BASELINE", "values": [float(b)]}] if b is not None else []),
                    }
                    for k, (u, b) in enumerate(rows)
                ],
            }
        ],
    }


def _complete(event):
    services.event_activate(event_id=event.pk, now=event.start)
    services.event_complete(event_id=event.pk, now=event.end)


def test_an_event_without_meter_data_is_verified_from_the_ven_report(metered):
    client, event, meter, baseline = metered
    # The VEN reports, for each interval, 0.5 kWh under the baseline: 8 x 0.5 = 4 kWh delivered.
    usage = [(b - Decimal("0.5"), None) for _, b in baseline]
    r = client.post(f"{BASE}/reports", _report(event, "house-ven-site", usage), format="json")
    assert r.status_code == 201, r.json()
    _complete(event)
    v = services.event_verify(event_id=event.pk, now=event.end + timedelta(hours=1))
    assert v.actual_source == DataSource.VEN_REPORT and v.baseline_source == DataSource.METER
    assert v.delivered_kwh == Decimal("4.0000") == v.committed_kwh
    assert v.actual_kwh == sum(b for _, b in baseline) - Decimal("4")
    assert {i.actual_source for i in v.intervals.all()} == {DataSource.VEN_REPORT}
    assert event.performance.magnitude_achievement == Decimal("1.0000")


def test_meter_data_takes_precedence_over_the_ven_report(metered):
    client, event, meter, baseline = metered
    # Meter: 0.25 kWh under the baseline for the first hour only; VEN: 0.5 kWh under it for both hours.
    meter_readings_record(meter=meter, readings=[(s, b - Decimal("0.25")) for s, b in baseline[:4]])
    usage = [(b - Decimal("0.5"), None) for _, b in baseline]
    assert client.post(f"{BASE}/reports", _report(event, "house-ven-site", usage), format="json").status_code == 201
    _complete(event)
    v = services.event_verify(event_id=event.pk, now=event.end + timedelta(hours=1))
    # 4 x 0.25 (meter) + 4 x 0.5 (VEN) = 3 kWh
    assert v.delivered_kwh == Decimal("3.0000")
    assert v.actual_source == DataSource.MIXED
    assert [i.actual_source for i in v.intervals.all()] == [DataSource.METER] * 4 + [DataSource.VEN_REPORT] * 4


def test_full_meter_data_ignores_the_report_and_a_gap_in_both_waits(metered):
    client, event, meter, baseline = metered
    usage = [(b - Decimal("0.5"), None) for _, b in baseline[:6]]  # the VEN reported 6 of 8 intervals
    assert client.post(f"{BASE}/reports", _report(event, "house-ven-site", usage), format="json").status_code == 201
    _complete(event)
    with pytest.raises(ApplicationError) as exc:
        services.event_verify(event_id=event.pk, now=event.end + timedelta(hours=1))
    assert exc.value.code == "meter_data_incomplete"
    meter_readings_record(meter=meter, readings=[(s, b - Decimal("0.1")) for s, b in baseline])
    v = services.event_verify(event_id=event.pk, now=event.end + timedelta(hours=1))
    assert v.actual_source == DataSource.METER and v.delivered_kwh == Decimal("0.8000")


def test_live_response_reads_the_ven_report_when_the_meter_has_not_reported(metered):
    client, event, meter, baseline = metered
    services.event_activate(event_id=event.pk, now=event.start)
    now = event.start + timedelta(minutes=40)
    assert selectors.event_measured_kw(event=event, now=now) == Decimal("0")
    # Two 15-minute intervals reported, the latest 0.45 kWh under the baseline -> 1.8 kW.
    usage = [(baseline[0][1] - Decimal("0.5"), None), (baseline[1][1] - Decimal("0.45"), None)]
    assert client.post(f"{BASE}/reports", _report(event, "house-ven-site", usage), format="json").status_code == 201
    assert selectors.event_measured_kw(event=event, now=now) == Decimal("1.800")
    # A meter reading for that interval takes over.
    meter_readings_record(meter=meter, readings=[(baseline[1][0], baseline[1][1] - Decimal("0.25"))])
    assert selectors.event_measured_kw(event=event, now=now) == Decimal("1.000")


def test_a_telemetry_only_resource_is_verified_from_its_ven_report(small_world):
    """No meter: the VEN's reported BASELINE and USAGE. 8 intervals x (1.2 - 0.7) kWh = 4 kWh delivered."""
    business = small_world.premises[3]
    site = accounts_services.premise_create(
        organisation=business.organisation,
        name="Business rooftop battery",
        segment=business.segment,
        grid_zone=business.grid_zone,
        timezone=business.timezone,
    )
    assert not site.meters.exists()
    program = services.program_create(code="battery", name="Battery", notice_minutes=0)
    services.enrollment_create(program=program, premise=site, committed_kw=Decimal("5"))
    client, _ = ven_client("battery-ven", "battery-client", business.organisation, site)
    start, end = demo.event_window(small_world.day)
    event = services.event_create(
        program=program, premise=site, target_kw=Decimal("2"), start=start, end=end, now=start - timedelta(hours=1)
    )
    rows = [(Decimal("0.7"), Decimal("1.2"))] * 8
    assert client.post(f"{BASE}/reports", _report(event, "battery-ven-site", rows), format="json").status_code == 201
    services.event_activate(event_id=event.pk, now=start)
    assert selectors.event_measured_kw(event=event, now=start + timedelta(minutes=20)) == Decimal("2.000")
    services.event_complete(event_id=event.pk, now=end)
    v = services.event_verify(event_id=event.pk, now=end + timedelta(hours=1))
    assert v.baseline is None
    assert (v.actual_source, v.baseline_source) == (DataSource.VEN_REPORT, DataSource.VEN_REPORT)
    assert (v.baseline_kwh, v.actual_kwh, v.delivered_kwh) == (Decimal("9.6"), Decimal("5.6"), Decimal("4.0"))
    assert v.intervals.count() == 8


def test_report_readings_units_demand_and_finer_intervals():
    t0 = datetime(2031, 6, 10, 17, tzinfo=UTC)
    resources = [
        {
            "resourceName": "a",
            "intervalPeriod": {"start": "2031-06-10T17:00:00Z", "duration": "PT5M"},
            # DEMAND 6 kW for 5 minutes = 0.5 kWh, three times -> 1.5 kWh in the 15-minute interval
            "intervals": [{"id": 9 - k, "payloads": [{"type": "DEMAND", "values": [6]}]} for k in range(3)],
        },
        {
            "resourceName": "b",
            "intervals": [
                {
                    "id": 0,
                    "intervalPeriod": {"start": "2031-06-10T17:00:00Z", "duration": "PT15M"},
                    "payloads": [{"type": "USAGE", "values": [250]}, {"type": "SIMPLE", "values": [1]}],
                }
            ],
        },
    ]
    readings = report_readings(
        resources=resources,
        payload_descriptors=[{"payloadType": "USAGE", "units": "WH"}, {"payloadType": "DEMAND", "units": "KW"}],
    )
    assert [r.start for r in readings] == [t0, t0 + timedelta(minutes=5), t0 + timedelta(minutes=10), t0]
    assert common_minutes(readings) == 5
    by = {"a": [r for r in readings if r.resource_name == "a"], "b": [r for r in readings if r.resource_name == "b"]}
    grid = on_grid(by, [t0, t0 + timedelta(minutes=15)], 15)
    assert grid[t0].usage_kwh == Decimal("1.75")  # 1.5 + 0.25 (250 Wh)
    assert t0 + timedelta(minutes=15) not in grid  # nothing reported: missing, not zero
    # Without any intervalPeriod the event's applies; with none at all the interval cannot be placed.
    bare = [{"resourceName": "x", "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1]}]}]}]
    with pytest.raises(ValueError):
        report_readings(resources=bare, payload_descriptors=None)
    (whole,) = report_readings(
        resources=bare, payload_descriptors=None, default_period=window_period(t0, t0 + timedelta(hours=2))
    )
    assert (whole.start, whole.end, whole.usage_kwh) == (t0, t0 + timedelta(hours=2), Decimal("1"))
