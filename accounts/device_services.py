"""Device registry services and read models: register or update a device at a premise, list what a user
may see, and the capability the platform counts (:mod:`accounts.capability`)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from flexplatform.core import egress
from flexplatform.errors import ApplicationError, NotPermitted

from .capability import Capability, DeviceSpec, assess_device
from .errors import AccountsError
from .models import Device, Membership, Premise
from .selectors import premises_visible_to, user_role

CAPABILITY_FIELDS = [f for f in DeviceSpec.__dataclass_fields__ if f not in ("kind", "control_channel")]


def devices_visible_to(user) -> QuerySet[Device]:
    return Device.objects.filter(premise__in=premises_visible_to(user)).select_related("premise")


def premises_device_writable_by(user) -> QuerySet[Premise]:
    """The premise owner, its enrolled aggregator and admins register devices; grid operators only read."""
    if user_role(user) not in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN):
        return Premise.objects.none()
    return premises_visible_to(user)


def _check(values: dict) -> None:
    errors: dict[str, list[str]] = {}
    rated, lo, hi = values.get("rated_kw"), values.get("min_kw", Decimal(0)), values.get("max_kw")
    if rated is None or rated <= 0:
        errors["rated_kw"] = ["Must be positive."]
    elif hi is None or not (0 <= lo <= hi <= rated):
        errors["max_kw"] = ["Need 0 <= min_kw <= max_kw <= rated_kw."]
    if values.get("min_event_minutes", 15) > values.get("max_event_minutes", 240):
        errors["max_event_minutes"] = ["Must not be below min_event_minutes."]
    if values.get("max_events_per_day", 1) > values.get("max_events_per_month", 20):
        errors["max_events_per_month"] = ["Must not be below max_events_per_day."]
    cmin, cmax = values.get("comfort_min_c"), values.get("comfort_max_c")
    if cmin is not None and cmax is not None and cmin >= cmax:
        errors["comfort_max_c"] = ["Must be above comfort_min_c."]
    smin, smax = values.get("soc_min_percent"), values.get("soc_max_percent")
    if smin is not None and smax is not None and not (0 <= smin < smax <= 100):
        errors["soc_max_percent"] = ["Need 0 <= soc_min_percent < soc_max_percent <= 100."]
    soc = values.get("soc_percent")
    if soc is not None and not (0 <= soc <= 100):
        errors["soc_percent"] = ["Between 0 and 100."]
    if values.get("kind") == Device.Kind.BATTERY and (values.get("capacity_kwh") is None or smin is None):
        errors["capacity_kwh"] = ["A battery needs capacity_kwh and soc_min_percent."]
    if errors:
        raise ApplicationError("The device's capabilities are inconsistent.", fields=errors)


def _check_s2(kind: str, address: str) -> None:
    """S2 (EN 50491-12-2, ADR 0039): the platform is the Resource Manager of a battery under Power Envelope Based
    Control; the address is the household energy manager's (CEM's) WebSocket URL."""
    if kind != Device.Kind.BATTERY:
        raise ApplicationError(
            "S2 control is offered for batteries.",
            code=AccountsError.INVALID_DEVICE,
            fields={"control_channel": ["S2 (power envelope) is available for battery storage only."]},
        )
    parsed = urlsplit(address or "")
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise ApplicationError(
            "An S2 device needs its energy manager's address.",
            code=AccountsError.INVALID_DEVICE,
            fields={"channel_address": ["The energy manager's WebSocket URL, ws://… or wss://…"]},
        )
    # The platform connects to it: the egress rule of every URL a user gives us (public addresses only; checked
    # again on the address connected to, activation.protocols.s2).
    egress.url_check(address.replace("ws", "http", 1), field="channel_address")


def device_register(
    *, premise: Premise, name: str, kind: str, control_channel: str, user=None, **capabilities
) -> Device:
    """Register a device at a premise, or update the capabilities of the one with that name.

    ``user`` None is a trusted internal caller (demo, admin); otherwise the user must be the premise owner,
    its enrolled aggregator or an admin."""
    if user is not None and not premises_device_writable_by(user).filter(pk=premise.pk).exists():
        raise NotPermitted("You may not register devices at this premise.")
    if kind not in Device.Kind.values:
        raise ApplicationError("Unknown device kind.", fields={"kind": [f"One of {', '.join(Device.Kind.values)}."]})
    if control_channel not in Device.Channel.values:
        raise ApplicationError(
            "Unknown control channel.", fields={"control_channel": [f"One of {', '.join(Device.Channel.values)}."]}
        )
    unknown = set(capabilities) - {
        *CAPABILITY_FIELDS,
        "manufacturer",
        "model",
        "channel_address",
        "rebound_minutes",
        "active",
    }
    if unknown:
        raise ApplicationError("Unknown fields.", fields={f: ["Unknown field."] for f in sorted(unknown)})
    _check({"kind": kind, **capabilities})
    station_id = capabilities.get("channel_address", "")
    if control_channel == Device.Channel.S2:
        address = capabilities.get("channel_address")
        if address is None:  # an update that leaves the address as it is
            address = (
                Device.objects.filter(premise=premise, name=name).values_list("channel_address", flat=True).first()
            )
        _check_s2(kind, address or "")
    if control_channel == Device.Channel.OCPP and station_id:
        # A station id names one charger: it is the station's username on the CSMS and its commands' address, so a
        # second device claiming it could sign in as the first one's station (ADR 0031).
        taken = Device.objects.filter(control_channel=Device.Channel.OCPP, channel_address=station_id).exclude(
            premise=premise, name=name
        )
        if taken.exists():
            raise ApplicationError(
                "This OCPP station id is registered to another device.",
                code=AccountsError.INVALID_DEVICE,
                fields={"channel_address": ["Already registered."]},
            )
    try:
        with transaction.atomic():
            device, created = Device.objects.select_for_update().get_or_create(
                premise=premise, name=name, defaults={"kind": kind, "control_channel": control_channel, **capabilities}
            )
            if not created:
                device.kind, device.control_channel = kind, control_channel
                for key, value in capabilities.items():
                    setattr(device, key, value)
                device.save(update_fields=["kind", "control_channel", *capabilities])
    except IntegrityError as exc:
        raise ApplicationError(
            "The device's capabilities are inconsistent.", code=AccountsError.INVALID_DEVICE
        ) from exc
    return device


def device_capability(device: Device, **event) -> Capability:
    return assess_device(DeviceSpec.of(device), **event)


def premise_controllable_kw(premise: Premise, **event) -> Decimal:
    """Sum of the kW counted for the premise's active devices."""
    return sum((device_capability(d, **event).kw for d in premise.devices.filter(active=True)), Decimal("0.000"))
