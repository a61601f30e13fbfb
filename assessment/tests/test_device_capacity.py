"""Capacity from devices (ADR 0029): refusals first (a premise without devices sells nothing unless it has a
labelled estimate), then the per-device breakdown and the cap by demand."""

from __future__ import annotations

from decimal import Decimal

import pytest

import demo
from accounts.device_services import device_register
from accounts.models import Device
from assessment import selectors, services
from assessment.device_capacity import capacity_estimate_declare, metered_peak_kw, premise_device_capacity
from flexplatform.errors import ApplicationError
from market.services import offer_submit

D = Decimal


def _strip_devices(premise):
    """The premise's devices declared unavailable (devices are never deleted: dispatch records point at them)."""
    Device.objects.filter(premise=premise).update(active=False)


def _offer(premise, window, kw):
    return offer_submit(
        seller=premise.organisation,
        premise=premise,
        zone=premise.grid_zone,
        price_per_mwh=D("100"),
        kw=D(kw),
        window_start=window[0],
        window_end=window[1],
    )


def test_a_premise_without_devices_sells_nothing_by_default(small_world):
    premise = small_world.premises[4]  # a business selling directly
    window = demo.event_window(small_world.day)
    _strip_devices(premise)
    assessed = services.flexibility_assess(premise=premise, window_start=window[0], window_end=window[1])
    assert assessed.capacity_kw == 0 and assessed.method == "no-devices"
    assert assessed.baseline_kw > 0  # it has load; the old rule sold 20 % of it
    with pytest.raises(ApplicationError) as exc:
        _offer(premise, window, "0.5")
    assert exc.value.code == "over_capacity"


def test_a_household_may_not_sell_on_an_estimate(small_world):
    premise = small_world.premises[0]
    with pytest.raises(ApplicationError) as exc:
        capacity_estimate_declare(premise=premise, kw=D("1"), label="declared load", basis="guess")
    assert "premise" in exc.value.fields


def test_an_estimate_above_the_metered_peak_or_without_a_label_is_refused(small_world):
    premise = small_world.premises[5]  # the factory
    peak = metered_peak_kw(premise=premise, now=demo.event_window(small_world.day)[0])
    assert peak > 0
    with pytest.raises(ApplicationError) as exc:
        capacity_estimate_declare(premise=premise, kw=peak + 1, label="curtailable load", basis="line 2 off")
    assert "kw" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        capacity_estimate_declare(premise=premise, kw=D("1"), label=" ", basis="")
    assert {"label", "basis"} <= set(exc.value.fields)


def test_a_site_without_devices_sells_under_its_labelled_estimate(small_world):
    premise = small_world.premises[4]
    window = demo.event_window(small_world.day)
    _strip_devices(premise)
    capacity_estimate_declare(
        premise=premise, kw=D("2.5"), label="declared curtailable load", basis="chillers off", now=window[0]
    )
    assessed = services.flexibility_assess(premise=premise, window_start=window[0], window_end=window[1])
    assert assessed.method == "estimate:declared curtailable load"
    assert assessed.capacity_kw == min(D("2.5"), assessed.baseline_kw)
    assert any(row["kind"] == "estimate" for row in assessed.breakdown)
    assert _offer(premise, window, assessed.capacity_kw).kw == assessed.capacity_kw


def test_capacity_is_what_the_devices_deliver_with_a_breakdown_per_device(small_world):
    premise = small_world.premises[0]  # a household: thermostat, water heater, (EV, pool pump ...)
    window = demo.event_window(small_world.day)
    assessed = services.flexibility_assess(premise=premise, window_start=window[0], window_end=window[1])
    assert assessed.method == "devices"
    rows = {r["name"]: r for r in assessed.breakdown if r["device"]}
    assert set(rows) == set(premise.devices.values_list("name", flat=True))
    device_sum = sum(D(r["kw"]) for r in rows.values() if r["channel"] != "manual")
    assert assessed.capacity_kw == min(device_sum, assessed.baseline_kw)
    assert all(r["reasons"] for r in rows.values())
    # Accredited capacity follows the assessment (no share of the baseline anywhere).
    assert selectors.accredited_capacity_kw(premise=premise, start=window[0], end=window[1]) == assessed.capacity_kw


def test_a_manual_device_counts_zero_and_the_factory_is_capped_by_its_demand(small_world):
    premise = small_world.premises[5]
    window = demo.event_window(small_world.day)
    device_register(premise=premise, name="Manual chiller", kind="hvac", control_channel="manual",
                    rated_kw=D("100"), max_kw=D("100"), comfort_max_c=D("26"), setpoint_c=D("22"))  # fmt: skip
    cap = premise_device_capacity(premise=premise, start=window[0], end=window[1], baseline_kw=D("50"))
    manual = next(r for r in cap.breakdown if r["name"] == "Manual chiller")
    assert manual["kw"] == "0.000" and "Manual control" in manual["reasons"][-1]
    assert cap.kw == D("50.000") and cap.breakdown[-1]["kind"] == "cap"
