"""Flexibility measures count the premise's registered devices (with their assessed controllable kW)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.device_services import device_register
from accounts.models import Premise
from assessment.flexibility import DeviceConstraint
from assessment.selectors import SEGMENT_DEVICES, device_constraints_for

pytestmark = pytest.mark.django_db


def test_registered_devices_become_constraints_with_their_capability(world):
    premise = world.premises[0]
    premise.devices.all().delete()
    device_register(
        premise=premise, name="Battery", kind="battery", control_channel="vendor_api", rated_kw=Decimal("5"),
        max_kw=Decimal("5"), capacity_kwh=Decimal("13.5"), soc_min_percent=Decimal("20"),
        soc_max_percent=Decimal("100"), soc_percent=Decimal("80"),
    )  # fmt: skip
    device_register(
        premise=premise, name="EV", kind="ev_charger", control_channel="ocpp", rated_kw=Decimal("7.4"),
        min_kw=Decimal("1.4"), max_kw=Decimal("7.4"), max_event_minutes=240,
    )  # fmt: skip
    device_register(
        premise=premise, name="PV", kind="pv_inverter", control_channel="vendor_api", rated_kw=Decimal("6"),
        max_kw=Decimal("6"),
    )  # fmt: skip
    device_register(
        premise=premise, name="Manual pump", kind="pool_pump", control_channel="manual", rated_kw=Decimal("1.5"),
        max_kw=Decimal("1.5"),
    )  # fmt: skip

    constraints = device_constraints_for(premise=premise, typical_kw=12.0)

    by_kind = {c.kind: c for c in constraints}
    assert set(by_kind) == {"storage", "deferrable"}  # PV and the manually controlled pump count nothing
    battery = by_kind["storage"]
    assert battery.energy_kwh == 13.5 and battery.soc == 0.8 and battery.min_soc == 0.2
    assert 0 < battery.power_kw <= 5
    ev = by_kind["deferrable"]
    assert ev.power_kw == 6.0  # 7.4 kW rated, 1.4 kW minimum: 6 kW controllable
    assert ev.share_of_load == pytest.approx(0.5) and ev.max_shift_hours == 12.0


def test_a_premise_without_devices_uses_its_segment_defaults(world):
    premise = next(p for p in world.premises if p.segment == Premise.Segment.INDUSTRIAL)
    premise.devices.all().delete()
    constraints = device_constraints_for(premise=premise, typical_kw=100.0)
    assert [c.kind for c in constraints] == [d["kind"] for d in SEGMENT_DEVICES[Premise.Segment.INDUSTRIAL]]
    assert all(isinstance(c, DeviceConstraint) for c in constraints)
