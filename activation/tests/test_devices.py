from decimal import Decimal

from activation.devices import DeviceCapability, segment_devices, translate


def test_residential_commands_stay_within_comfort_limits():
    devices = segment_devices(prefix="p1", segment="residential")
    cmds = {c.kind: c for c in translate(devices=devices, reduction_kw=Decimal("100"), duration_minutes=180)}
    assert cmds["battery"].command == "DISCHARGE_KW" and cmds["battery"].value == Decimal("5.000")
    # Water heater off at most its comfort limit (120 min), even for a 3-hour event.
    assert cmds["water_heater"].command == "OFF" and cmds["water_heater"].duration_minutes == 120
    # EV keeps at least its comfort minimum charging power.
    assert cmds["ev_charger"].command == "CHARGE_LIMIT_KW" and cmds["ev_charger"].value == Decimal("1.400")
    # Thermostat offset capped at +2 °C: 2 x 0.8 kW.
    assert cmds["thermostat"].value == Decimal("2") and cmds["thermostat"].shed_kw == Decimal("1.600")


def test_translation_fills_in_merit_order_and_stops_at_the_need():
    devices = segment_devices(prefix="p1", segment="residential")
    cmds = translate(devices=devices, reduction_kw=Decimal("3"), duration_minutes=60)
    assert [c.kind for c in cmds] == ["battery"]
    assert cmds[0].shed_kw == Decimal("3.000")


def test_safety_limit_is_never_exceeded():
    devices = segment_devices(prefix="p9", segment="industrial")
    cmds = translate(devices=devices, reduction_kw=Decimal("1000"), duration_minutes=60, safety_max_kw=Decimal("300"))
    assert sum(c.shed_kw for c in cmds) <= Decimal("300")
    process = DeviceCapability(
        "x", "process", Decimal("400"), kw_per_unit=Decimal("20"), comfort_max_offset_c=Decimal("5")
    )
    (cmd,) = translate(devices=[process], reduction_kw=Decimal("35"), duration_minutes=60)
    assert cmd.command == "PROCESS_SETPOINT_DELTA" and cmd.value == Decimal("2.0") and cmd.shed_kw == Decimal("40.000")
