"""The one device model drives dispatch: the allocation rule over registered devices, comfort and event limits
(refusals first), and the event's commands per device and channel."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Device
from accounts.selectors.devices import ControllableDevice, controllable_from, device_ref
from activation import services
from activation.devices import CommandOutsideLimits, DeviceCommand, command_check, translate
from activation.models import DeviceDispatch, OutboxMessage
from activation.selectors import premise_devices

D = Decimal


def _dev(pk, kind, kw, *, channel="mqtt", **extra) -> ControllableDevice:
    base = {
        "pk": pk,
        "ref": device_ref(pk),
        "premise_id": 1,
        "name": f"{kind}-{pk}",
        "kind": kind,
        "channel": channel,
        "address": "",
        "rated_kw": D(extra.pop("rated_kw", kw)),
        "min_kw": D(extra.pop("min_kw", "0")),
        "max_kw": D(extra.pop("max_kw", kw)),
        "kw": D(kw),
        "reasons": (),
        "max_event_minutes": extra.pop("max_event_minutes", 240),
    }
    return ControllableDevice(**base, **extra)


# --- refusals first -----------------------------------------------------------------------------------------


def test_a_setpoint_beyond_the_comfort_limit_is_refused():
    hvac = _dev(1, "hvac", "3.2", min_kw="0.3", max_kw="3.5", setpoint_c=D("24"), comfort_max_c=D("25"))
    beyond = DeviceCommand(device_id=hvac.ref, kind="hvac", command="SETPOINT_OFFSET", value=D("1.5"),
                           shed_kw=D("2.4"), duration_minutes=60)  # fmt: skip
    with pytest.raises(CommandOutsideLimits):
        command_check(hvac, beyond)
    # The allocation never asks for it: 100 kW wanted, the offset stops at the 1 °C of headroom.
    (cmd,) = translate(devices=[hvac], reduction_kw=D("100"), duration_minutes=60)
    assert cmd.command == "SETPOINT_OFFSET" and cmd.value == D("1.0") and cmd.shed_kw == D("1.600")


def test_a_device_at_its_comfort_limit_or_out_of_event_budget_gets_no_command(act_world):
    premise = act_world.premises[0]
    device = Device.objects.filter(premise=premise, kind="hvac").get()
    at_limit = controllable_from(device, event_minutes=60, notice_minutes=60)
    device.setpoint_c = device.comfort_max_c
    assert at_limit.kw > 0 and controllable_from(device, event_minutes=60).kw == 0
    spent = controllable_from(device, event_minutes=60, events_today=device.max_events_per_day)
    assert spent.kw == 0 and "per day" in spent.reasons[-1]
    month = controllable_from(device, event_minutes=60, events_this_month=device.max_events_per_month)
    assert month.kw == 0
    assert translate(devices=[spent, month], reduction_kw=D("5"), duration_minutes=60) == []


def test_a_charge_limit_below_the_device_minimum_is_refused():
    ev = _dev(2, "ev_charger", "38", min_kw="6", max_kw="44", channel="ocpp")
    with pytest.raises(CommandOutsideLimits):
        command_check(ev, DeviceCommand(device_id=ev.ref, kind="ev_charger", command="CHARGE_LIMIT_KW",
                                        value=D("2"), shed_kw=D("42"), duration_minutes=60))  # fmt: skip
    (cmd,) = translate(devices=[ev], reduction_kw=D("100"), duration_minutes=60)
    assert cmd.value == D("6.000") and cmd.shed_kw == D("38.000")


def test_manual_and_unusable_devices_are_never_commanded():
    manual = _dev(3, "battery", "5", channel="manual")
    zero = _dev(4, "battery", "0")
    assert translate(devices=[manual, zero], reduction_kw=D("3"), duration_minutes=60) == []


# --- the allocation rule ------------------------------------------------------------------------------------


def test_allocation_fills_in_merit_order_and_stops_at_the_need():
    devices = [
        _dev(10, "hvac", "3.2", min_kw="0.3", max_kw="3.5", setpoint_c=D("23"), comfort_max_c=D("25")),
        _dev(11, "water_heater", "4.5"),
        _dev(12, "battery", "5"),
    ]
    cmds = translate(devices=devices, reduction_kw=D("3"), duration_minutes=60)
    assert [(c.kind, c.shed_kw) for c in cmds] == [("battery", D("3.000"))]
    cmds = translate(devices=devices, reduction_kw=D("10"), duration_minutes=60)
    # battery 5, water heater 4.5 (switched off whole), then the thermostat's 0.5 °C step covers the last 0.5 kW.
    assert [(c.kind, c.command, c.value) for c in cmds] == [
        ("battery", "DISCHARGE_KW", D("5.000")),
        ("water_heater", "OFF", D("60")),
        ("hvac", "SETPOINT_OFFSET", D("0.5")),
    ]
    assert sum(c.shed_kw for c in cmds) == D("10.300")


def test_the_safety_limit_is_never_exceeded():
    devices = [_dev(20, "water_heater", "4.5"), _dev(21, "battery", "5")]
    cmds = translate(devices=devices, reduction_kw=D("100"), duration_minutes=60, safety_max_kw=D("7"))
    assert [(c.kind, c.shed_kw) for c in cmds] == [("battery", D("5.000"))]  # the heater's 4.5 kW step would pass 7


# --- dispatch from the registry -----------------------------------------------------------------------------


def test_dispatch_commands_only_registered_devices_over_their_own_channel(act_world):
    w = act_world
    premise = w.premises[3]  # a business: HVAC over a VEN, fleet chargers over OCPP, a building battery over MQTT
    start = w.now + timedelta(hours=3)
    event = services.event_create(
        program=w.program, premise=premise, target_kw=D("40"), start=start, end=start + timedelta(hours=1), now=w.now
    )
    registered = set(Device.objects.filter(premise=premise).values_list("pk", flat=True))
    dispatched = list(DeviceDispatch.objects.filter(event=event))
    assert dispatched and {d.device_id for d in dispatched} <= registered
    assert [(d.kind, d.channel, d.shed_kw) for d in dispatched] == [("battery", "mqtt", D("40.000"))]
    (row,) = OutboxMessage.objects.filter(event=event, channel="mqtt")
    assert row.destination == device_ref(dispatched[0].device_id)
    assert row.topic.endswith(f"/{row.destination}/commands")


def test_a_premise_without_the_kind_is_never_sent_its_command(act_world):
    """Premise 2 had an HVAC unit and a water heater, and was sent DISCHARGE_KW for a battery it did not own."""
    w = act_world
    premise = w.premises[1]
    kinds = set(Device.objects.filter(premise=premise).values_list("kind", flat=True))
    assert "battery" not in kinds
    start = w.now + timedelta(hours=3)
    event = services.event_create(
        program=w.program, premise=premise, target_kw=D("3"), start=start, end=start + timedelta(hours=1), now=w.now
    )
    sent = {r.payload["kind"] for r in OutboxMessage.objects.filter(event=event).exclude(channel="webhook")}
    assert (
        sent
        and sent <= kinds
        and "DISCHARGE_KW"
        not in {r.payload["command"] for r in OutboxMessage.objects.filter(event=event).exclude(channel="webhook")}
    )


def test_events_already_commanded_count_against_the_device_budget(act_world):
    w = act_world
    premise = w.premises[3]
    battery = Device.objects.get(premise=premise, kind="battery")
    Device.objects.filter(pk=battery.pk).update(max_events_per_day=1, max_events_per_month=1)
    start = w.now + timedelta(hours=3)
    services.event_create(
        program=w.program, premise=premise, target_kw=D("10"), start=start, end=start + timedelta(hours=1), now=w.now
    )
    later = start + timedelta(days=2)
    devices = {d.kind: d for d in premise_devices(premise, start=later, end=later + timedelta(hours=1))}
    assert devices["battery"].kw == 0 and "per month" in devices["battery"].reasons[-1]


# --- fairness: what the premise answers for is what the platform commanded and got out --------------------------


def _verify_nothing_delivered(event):
    from activation.services.performance import event_performance_record
    from activation.tests.factories import verification_make

    v = verification_make(event, [D("0")] * 4)
    rows = [(i.start, i.baseline_kwh, i.actual_kwh, i.delivered_kwh) for i in v.intervals.order_by("start")]
    event_performance_record(event=event, verification=v, rows=rows, now=event.end)


def _battery_event(w, hours_ahead):
    from activation.models import Penalty  # noqa: F401

    start = w.now + timedelta(hours=hours_ahead)
    return services.event_create(
        program=w.program, premise=w.premises[3], target_kw=D("40"), start=start, end=start + timedelta(hours=1),
        now=w.now,
    )  # fmt: skip


def test_a_command_the_platform_never_sent_is_not_the_consumers_penalty(act_world):
    from activation.models import Penalty
    from activation.selectors import event_accountable_kw

    event = _battery_event(act_world, 3)
    assert OutboxMessage.objects.get(event=event, channel="mqtt").status == OutboxMessage.Status.PENDING
    assert event_accountable_kw(event) == D("0.000")
    _verify_nothing_delivered(event)
    assert not Penalty.objects.filter(event=event).exists()


def test_a_device_that_got_its_command_and_did_nothing_is_the_consumers_shortfall(act_world):
    from activation.models import Penalty
    from activation.selectors import event_accountable_kw

    event = _battery_event(act_world, 3)
    OutboxMessage.objects.filter(event=event, channel="mqtt").update(status=OutboxMessage.Status.NO_ACK)
    assert event_accountable_kw(event) == D("40.000")
    _verify_nothing_delivered(event)
    assert Penalty.objects.get(event=event).shortfall_kwh == D("40.0000")


def test_the_owner_overrides_one_device_recorded_with_a_restore_and_it_stays_the_owners(act_world):
    from activation.selectors import event_accountable_kw
    from flexplatform.errors import NotPermitted

    w = act_world
    event = _battery_event(w, 3)
    dispatch = DeviceDispatch.objects.get(event=event)
    owner = Device.objects.get(pk=dispatch.device_id).premise.organisation.memberships.first().user
    with pytest.raises(NotPermitted):
        services.device_override(event_id=event.pk, device_id=dispatch.device_id, user=w.user("operator@demo.flex"))
    OutboxMessage.objects.filter(event=event, channel="mqtt").update(status=OutboxMessage.Status.ACKNOWLEDGED)
    services.device_override(event_id=event.pk, device_id=dispatch.device_id, user=owner, now=w.now)
    dispatch.refresh_from_db()
    assert dispatch.opted_out_at == w.now
    restore = OutboxMessage.objects.get(event=event, destination=f"dev-{dispatch.device_id}#override")
    assert restore.payload["command"] == "RESTORE"
    assert event_accountable_kw(event) == D("40.000")


def test_a_controllable_device_is_the_one_its_fields_name(act_world):
    """``controllable_from`` builds its named tuple positionally: the same as by field name (no field swapped)."""
    for device in Device.objects.filter(premise__in=act_world.premises):
        built = controllable_from(device, event_minutes=60, notice_minutes=60, opted_out=device.pk % 2 == 0)
        by_name = ControllableDevice(
            pk=device.pk, ref=device_ref(device.pk), premise_id=device.premise_id, name=device.name, kind=device.kind,
            channel=device.control_channel, address=device.channel_address, rated_kw=device.rated_kw,
            min_kw=device.min_kw, max_kw=device.max_kw, kw=built.kw, reasons=built.reasons,
            max_event_minutes=device.max_event_minutes, setpoint_c=device.setpoint_c,
            comfort_min_c=device.comfort_min_c, comfort_max_c=device.comfort_max_c,
            available=device.active and device.pk % 2 != 0,
        )  # fmt: skip
        assert built == by_name and built._asdict() == by_name._asdict()
    # ``_command`` builds a command positionally too.
    (cmd,) = translate(devices=[_dev(7, "battery", "5")], reduction_kw=D("3"), duration_minutes=60)
    assert cmd._asdict() == {
        "device_id": "dev-7", "kind": "battery", "command": "DISCHARGE_KW", "value": D("3.000"),
        "shed_kw": D("3.000"), "duration_minutes": 60, "channel": "mqtt", "device_pk": 7, "address": "",
    }  # fmt: skip


@pytest.mark.parametrize(
    "device_id, value, minutes",
    [
        ("dev-1", D("1.500"), 60),
        ('dev-"quoted"\\back\nline', D("-0E-3"), 0),
        ("dév-ünicode-🔋", D("1E+2"), 240),
        ("\x00\x1f\t", D("NaN"), 10**20),
    ],
)
def test_a_commands_json_text_is_the_encoders(device_id, value, minutes):
    """``as_payload_json`` writes exactly what the JSON encoder writes of ``as_payload`` (compact, ASCII)."""
    import json

    encode = json.JSONEncoder(separators=(",", ":")).encode
    for kind, command, channel in [("battery", "DISCHARGE_KW", "mqtt"), ("ev_charger", "CHARGE_LIMIT_KW", "ocpp")]:
        cmd = DeviceCommand(device_id, kind, command, value, value, minutes, channel, 3, "ws://x")
        assert cmd.as_payload_json() == encode(cmd.as_payload()) == json.dumps(cmd.as_payload(), separators=(",", ":"))
    odd = DeviceCommand("dev-1", "battery", "OFF", value, value, True)  # not a plain int: the encoder's own path
    assert odd.as_payload_json() == encode(odd.as_payload())
