"""The one device selector: per premise and window, the kW each registered device can be commanded to shed, and
over which channel (ADR 0029).

``accounts.Device`` is the only description of what a premise can do; its kinds (``Device.Kind``) are the one
vocabulary every app uses. :func:`premise_controllable_devices` applies the device's capability rules
(:mod:`accounts.capability`: controllable range, ramp, comfort band, state of charge, event duration, notice,
per-day / per-month event budget) and the owner's declarations the caller passes (events already used, a declared
state of charge, devices the owner opted out of), and returns plain :class:`ControllableDevice` rows that the
capacity rule (assessment) and the dispatch allocation (activation) both read: what is sold is what is commanded.

Event usage is activation's fact; accounts sits below it, so the caller passes it (``usage``).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from ..capability import DeviceSpec, assess_device
from ..models import Device, Premise

ZERO = Decimal("0.000")
#: Channels the platform commands itself (a manual device is only notified; it counts 0 kW).
COMMANDED_CHANNELS = (
    Device.Channel.MQTT,
    Device.Channel.OCPP,
    Device.Channel.S2,
    Device.Channel.OPENADR_VEN,
    Device.Channel.VENDOR_API,
)


def device_ref(pk: int) -> str:
    """The device's platform address: its MQTT client id / username and topic segment, its outbox destination."""
    return f"dev-{pk}"


def device_pk_from_ref(ref: str) -> int | None:
    head, _, tail = ref.partition("-")
    return int(tail) if head == "dev" and tail.isdigit() else None


class ControllableDevice(NamedTuple):
    """One device's controllable kW for one window, and what the dispatch allocation needs to command it.

    Immutable plain data, a named tuple (ADR 0053): an emergency call builds 10,000, and a frozen dataclass set each
    of its 17 fields through ``object.__setattr__`` (four times the cost of building the tuple)."""

    pk: int
    ref: str
    premise_id: int
    name: str
    kind: str
    channel: str
    address: str
    rated_kw: Decimal
    min_kw: Decimal
    max_kw: Decimal
    kw: Decimal
    reasons: tuple[str, ...]
    max_event_minutes: int
    setpoint_c: Decimal | None = None
    comfort_min_c: Decimal | None = None
    comfort_max_c: Decimal | None = None
    #: the owner has not declared it unavailable nor opted it out (a manual device is asked only then)
    available: bool = True

    @property
    def usable(self) -> bool:
        return self.kw > 0 and self.channel in COMMANDED_CHANNELS

    def as_breakdown(self) -> dict:
        return {
            "device": self.pk,
            "name": self.name,
            "kind": self.kind,
            "channel": self.channel,
            "kw": str(self.kw),
            "reasons": list(self.reasons),
        }


def controllable_from(
    device: Device | DeviceRow,
    *,
    event_minutes: int,
    notice_minutes: int | None = None,
    events_today: int = 0,
    events_this_month: int = 0,
    soc_percent: Decimal | None = None,
    opted_out: bool = False,
) -> ControllableDevice:
    """One device's :class:`ControllableDevice` (plain data; no query)."""
    # The device (a ``Device`` or a ``DeviceRow``) has every attribute of a ``DeviceSpec``: it is assessed as it is,
    # a spec is built only to replace the battery's state of charge by the owner's declaration (a frozen
    # dataclass per device was a tenth of an emergency call's dispatch time, bench/bench_dispatch.py).
    spec = device
    if soc_percent is not None and device.kind == Device.Kind.BATTERY:
        spec = replace(DeviceSpec.of(device), soc_percent=soc_percent)
    cap = assess_device(
        spec,
        event_minutes=event_minutes,
        notice_minutes=notice_minutes,
        events_today=events_today,
        events_this_month=events_this_month,
    )
    kw, reasons = cap.kw, tuple(cap.reasons)
    active = device.active
    if not active:
        kw, reasons = ZERO, (*reasons, "Declared unavailable by its owner: counted as 0 kW.")
    elif opted_out:
        kw, reasons = ZERO, (*reasons, "The owner opted this device out: counted as 0 kW.")
    pk = device.pk
    # Positional, in the field order (17 keyword arguments cost three times the construction itself, 10,000 times;
    # test_devices checks the result against a keyword construction).
    return ControllableDevice(
        pk,
        device_ref(pk),
        device.premise_id,
        device.name,
        device.kind,
        device.control_channel,
        device.channel_address,
        device.rated_kw,
        device.min_kw,
        device.max_kw,
        kw,
        reasons,
        device.max_event_minutes,
        device.setpoint_c,
        device.comfort_min_c,
        device.comfort_max_c,
        active and not opted_out,
    )


def premise_controllable_devices(
    *,
    premise: Premise | int,
    start: datetime,
    end: datetime,
    notice_minutes: int | None = None,
    usage: Mapping[int, tuple[int, int]] | None = None,
    soc_percent: Decimal | None = None,
    opted_out: Iterable[int] = (),
    devices: Iterable[Device | DeviceRow] | None = None,
) -> list[ControllableDevice]:
    """The premise's registered devices with the kW each can shed over ``[start, end)``.

    ``usage``: device pk -> (events that local day, events that month) already used; ``soc_percent``: the owner's
    declared battery state of charge; ``opted_out``: device pks the owner took out of this event; ``devices``:
    the premise's devices already loaded (bulk callers), else read here."""
    premise_id = getattr(premise, "pk", premise)
    if devices is None:
        devices = Device.objects.filter(premise_id=premise_id).order_by("pk")
    minutes = int((end - start).total_seconds() // 60)
    usage = usage or {}
    skip = set(opted_out)
    out = []
    for device in devices:
        today, month = usage.get(device.pk, (0, 0))
        out.append(
            controllable_from(
                device,
                event_minutes=minutes,
                notice_minutes=notice_minutes,
                events_today=today,
                events_this_month=month,
                soc_percent=soc_percent,
                opted_out=device.pk in skip,
            )
        )
    return out


#: What :func:`controllable_from` reads of a device: its capability (``DeviceSpec``) and its identity.
DEVICE_ROW_FIELDS = tuple(
    dict.fromkeys(
        ("pk", "premise_id", "name", "control_channel", "channel_address", "active", *DeviceSpec.__dataclass_fields__)
    )
)
DeviceRow = namedtuple("DeviceRow", DEVICE_ROW_FIELDS)  # noqa: PYI024 - built from the field list above
DeviceRow.__doc__ = "A registered device as plain data (read by :func:`controllable_from`, as a ``Device`` is)."


def devices_by_premise(premise_ids: Iterable[int]) -> dict[int, list[DeviceRow]]:
    """The registered devices of many premises in one query (bulk dispatch), as :class:`DeviceRow` tuples: an
    emergency call reads 10,000 devices, and a model instance each cost more than the rest of the dispatch's
    reading together."""
    out: dict[int, list[DeviceRow]] = {}
    rows = Device.objects.filter(premise_id__in=list(premise_ids)).order_by("pk").values_list(*DEVICE_ROW_FIELDS)
    for row in rows:
        device = DeviceRow._make(row)
        out.setdefault(device.premise_id, []).append(device)
    return out


def controllable_kw(devices: Iterable[ControllableDevice]) -> Decimal:
    """What the devices can shed together (usable ones only)."""
    return sum((d.kw for d in devices if d.usable), ZERO)
