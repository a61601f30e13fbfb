"""Capability assessment: the kW counted per device and why, against worked numbers."""

from __future__ import annotations

from decimal import Decimal as D

from accounts.capability import DeviceSpec, assess_device


def spec(**kw):
    base = {"kind": "pool_pump", "control_channel": "mqtt", "rated_kw": D("1.5"), "min_kw": D("0"), "max_kw": D("1.5")}
    return DeviceSpec(**{**base, **kw})


def test_plain_range_counts_fully():
    cap = assess_device(spec())
    assert cap.kw == D("1.500") and cap.reasons[-1] == "Counted: 1.500 kW."


def test_battery_capped_by_state_of_charge():
    battery = spec(
        kind="battery", control_channel="vendor_api", rated_kw=D("5"), max_kw=D("5"),
        capacity_kwh=D("13.5"), soc_min_percent=D("20"), soc_max_percent=D("100"), soc_percent=D("40"),
    )  # fmt: skip
    # 13.5 kWh x (40 - 20) % = 2.7 kWh; over 1 h: 2.7 kW (< 5 kW inverter); over 2 h: 1.35 kW.
    assert assess_device(battery, event_minutes=60).kw == D("2.700")
    two_hours = assess_device(battery, event_minutes=120)
    assert two_hours.kw == D("1.350")
    assert "State of charge 40% with a 20% floor leaves 2.700 kWh" in " ".join(two_hours.reasons)
    full = assess_device(battery.__class__(**{**battery.__dict__, "soc_percent": D("90")}))
    assert full.kw == D("5.000")  # 9.45 kWh available: the inverter is the limit
    assert assess_device(battery.__class__(**{**battery.__dict__, "soc_percent": None})).kw == D("0.000")


def test_thermostat_capped_by_comfort_band():
    hvac = spec(
        kind="hvac", rated_kw=D("3.5"), min_kw=D("0.5"), max_kw=D("3.5"), setpoint_c=D("23"), comfort_max_c=D("24")
    )
    cap = assess_device(hvac)
    assert cap.kw == D("1.500")  # range 3 kW x 1 °C of the 2 °C needed
    assert "1 °C of the 2 °C a full shed needs" in " ".join(cap.reasons)
    roomy = spec(
        kind="hvac", rated_kw=D("3.5"), min_kw=D("0.5"), max_kw=D("3.5"), setpoint_c=D("22"), comfort_max_c=D("25")
    )
    assert assess_device(roomy).kw == D("3.000")
    at_limit = spec(kind="hvac", rated_kw=D("3.5"), max_kw=D("3.5"), setpoint_c=D("25"), comfort_max_c=D("25"))
    assert assess_device(at_limit).kw == D("0.000")


def test_water_heater_coasting_headroom():
    wh = spec(kind="water_heater", rated_kw=D("4.5"), max_kw=D("4.5"), setpoint_c=D("55"), comfort_min_c=D("52"))
    assert assess_device(wh).kw == D("2.700")  # 4.5 kW x 3/5


def test_ramp_rate_limits_what_is_reached_in_the_response_time():
    process = spec(
        kind="industrial_process", rated_kw=D("800"), min_kw=D("200"), max_kw=D("800"), ramp_kw_per_min=D("20")
    )
    cap = assess_device(process)
    assert cap.kw == D("300.000")  # 20 kW/min x 15 min, below the 600 kW range


def test_refusals_count_zero_with_the_reason():
    assert assess_device(spec(control_channel="manual")).kw == 0
    assert "PV inverter" in assess_device(spec(kind="pv_inverter")).reasons[-1]
    assert assess_device(spec(max_event_minutes=60), event_minutes=90).kw == 0
    assert (
        assess_device(spec(notice_minutes=60), notice_minutes=30).reasons[-1]
        == "30 minutes' notice; the device needs 60."
    )
    assert assess_device(spec(max_events_per_day=1), events_today=1).kw == 0
    assert assess_device(spec(max_events_per_month=4, max_events_per_day=1), events_this_month=4).kw == 0


def test_rebound_is_reported_not_deducted():
    cap = assess_device(spec(rebound_percent=D("50")), event_minutes=120)
    assert cap.kw == D("1.500") and cap.rebound_kwh == D("1.500")  # 1.5 kW x 2 h x 50 %
