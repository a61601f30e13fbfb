"""Capacity from devices (ADR 0029): the kW a premise may sell is what its registered devices can deliver over
the window, not a share of its baseline.

Rule, for a window ``[start, end)``:

1. each registered device counts the kW the one device selector gives it for the window
   (``accounts.selectors.devices``: capability, comfort band, state of charge, duration, its per-day / per-month
   event budget already used, the owner's declared state of charge); a manual device and a PV inverter count 0;
2. the devices' sum is capped by the premise's forecast demand over the window (a load reduction cannot take the
   site below zero import): ``min(Σ device kW, baseline kW)``; method ``devices``;
3. a premise with no device that counts may sell only under a labelled estimate
   (:class:`assessment.models_estimates.CapacityEstimate`: a commercial or industrial site's declared curtailable
   load, never more than the peak demand its meter recorded), also capped by the baseline; method
   ``estimate:<label>``;
4. otherwise 0 kW, method ``no-devices``: nothing is sold by default.

Reliability, derate and availability declarations are applied on top, as before
(``assessment.selectors.capacity.accredited_capacity_from``). The per-device breakdown is kept with the
assessment, for the owner and the aggregator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Premise
from accounts.selectors.devices import (
    ControllableDevice,
    DeviceRow,
    controllable_kw,
    devices_by_premise,
    premise_controllable_devices,
)
from flexplatform.errors import ApplicationError

from . import hooks
from .models import AvailabilityDeclaration, MeterReading
from .models_estimates import CapacityEstimate

KW = Decimal("0.001")
ESTIMATE_SEGMENTS = (Premise.Segment.COMMERCIAL, Premise.Segment.INDUSTRIAL)
HISTORY_DAYS = 90


@dataclass(frozen=True)
class DeviceCapacity:
    kw: Decimal
    method: str
    breakdown: list[dict]


def _declared_soc(premise: Premise, start: datetime, end: datetime) -> Decimal | None:
    declaration = (
        AvailabilityDeclaration.objects.filter(
            premise=premise, valid_from__lt=end, valid_until__gt=start, soc_percent__isnull=False
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    return declaration.soc_percent if declaration is not None else None


def premise_device_capacity(
    *, premise: Premise, start: datetime, end: datetime, baseline_kw: Decimal | None = None
) -> DeviceCapacity:
    """The premise's sellable kW over ``[start, end)`` by the rule above, with its per-device breakdown."""
    day = start.astimezone(ZoneInfo(premise.timezone)).date()
    device_ids = list(premise.devices.values_list("pk", flat=True))
    usage = hooks.activation().device_usage(device_ids=device_ids, day=day) if device_ids else {}
    devices = premise_controllable_devices(
        premise=premise, start=start, end=end, usage=usage, soc_percent=_declared_soc(premise, start, end)
    )
    return _capacity(devices, lambda: capacity_estimate_current(premise=premise), baseline_kw)


def premises_device_capacity(
    *,
    premises: Sequence[Premise],
    start: datetime,
    end: datetime,
    baseline_kw: Mapping[int, Decimal] | None = None,
    devices: Mapping[int, list[DeviceRow]] | None = None,
) -> dict[int, DeviceCapacity]:
    """:func:`premise_device_capacity` of each premise (``baseline_kw``: premise id -> its forecast demand), read
    set-based: the devices in one query, their event usage in one per local day of the window's start (one for
    premises of one timezone), the declared states of charge in one, the labelled estimates of the premises
    whose devices count nothing in one. The same rule, applied per premise to what was read. No ``baseline_kw``:
    no demand cap (the nightly recompute's profiles); ``devices``: the premises' devices as
    ``accounts.selectors.devices.devices_by_premise`` reads them, when the caller has them already."""
    ids = [p.pk for p in premises]
    if devices is None:
        devices = devices_by_premise(ids)
    baseline_kw = baseline_kw or {}
    by_day: dict[date, list[int]] = {}
    for p in premises:
        by_day.setdefault(start.astimezone(ZoneInfo(p.timezone)).date(), []).extend(d.pk for d in devices.get(p.pk, ()))
    usage: dict[int, tuple[int, int]] = {}
    for day, device_ids in by_day.items():
        if device_ids:
            usage.update(hooks.activation().device_usage(device_ids=device_ids, day=day))
    soc: dict[int, Decimal] = {}
    for premise_id, percent in (
        AvailabilityDeclaration.objects.filter(
            premise_id__in=ids, valid_from__lt=end, valid_until__gt=start, soc_percent__isnull=False
        )
        .order_by("premise_id", "created_at", "pk")
        .values_list("premise_id", "soc_percent")
    ):
        soc[premise_id] = percent  # the latest declaration wins, as in _declared_soc
    controllable = {
        p.pk: premise_controllable_devices(
            premise=p, start=start, end=end, usage=usage, soc_percent=soc.get(p.pk), devices=devices.get(p.pk, ())
        )
        for p in premises
    }
    bare = [pk for pk, found in controllable.items() if controllable_kw(found) <= 0]
    estimates: dict[int, CapacityEstimate] = {}
    if bare:
        for estimate in CapacityEstimate.objects.filter(premise_id__in=bare, withdrawn_at__isnull=True).order_by(
            "premise_id", "-created_at", "-pk"
        ):
            estimates.setdefault(estimate.premise_id, estimate)  # the first in the model's order, as .first()
    return {
        p.pk: _capacity(controllable[p.pk], lambda pk=p.pk: estimates.get(pk), baseline_kw.get(p.pk)) for p in premises
    }


def _capacity(
    devices: list[ControllableDevice], estimate_of: Callable[[], CapacityEstimate | None], baseline_kw: Decimal | None
) -> DeviceCapacity:
    """The rule above on what was read: the devices' kW, else the labelled estimate (``estimate_of``, asked only
    then), else 0; capped by the forecast demand."""
    breakdown = [d.as_breakdown() for d in devices]
    total = controllable_kw(devices)
    if total > 0:
        kw, method = total, "devices"
    else:
        estimate = estimate_of()
        if estimate is None:
            return DeviceCapacity(Decimal("0.000"), "no-devices", breakdown)
        kw, method = estimate.kw, f"estimate:{estimate.label}"[:40]
        breakdown.append(
            {"device": None, "name": estimate.label, "kind": "estimate", "channel": "", "kw": str(estimate.kw),
             "reasons": [f"Labelled estimate: {estimate.basis}", f"Metered peak {estimate.verified_peak_kw} kW."]}
        )  # fmt: skip
    if baseline_kw is not None and kw > baseline_kw:
        breakdown.append(
            {"device": None, "name": "Site demand", "kind": "cap", "channel": "", "kw": str(baseline_kw),
             "reasons": [f"Forecast demand {baseline_kw} kW over the window caps the reduction."]}
        )  # fmt: skip
        kw = baseline_kw
    return DeviceCapacity(kw.quantize(KW, rounding=ROUND_DOWN), method, breakdown)


def capacity_estimate_current(*, premise: Premise) -> CapacityEstimate | None:
    return CapacityEstimate.objects.filter(premise=premise, withdrawn_at__isnull=True).first()


def metered_peak_kw(*, premise: Premise, now: datetime, days: int = HISTORY_DAYS) -> Decimal:
    """The highest interval demand (kW) the premise's revenue meter recorded over the last ``days``."""
    meter = premise.meters.order_by("id").first()
    if meter is None:
        return Decimal("0")
    peak = MeterReading.objects.filter(meter=meter, start__gte=now - timedelta(days=days), start__lt=now).aggregate(
        m=Max("kwh")
    )["m"]
    if peak is None:
        return Decimal("0")
    return (peak * Decimal(60) / Decimal(meter.interval_minutes)).quantize(KW, rounding=ROUND_DOWN)


@transaction.atomic
def capacity_estimate_declare(
    *, premise: Premise, kw: Decimal, label: str, basis: str, user=None, now: datetime | None = None
) -> CapacityEstimate:
    """Declare a labelled estimate of the premise's curtailable load (replacing its current one). Refused for a
    household (register devices instead), without a label or basis, or above the peak its meter recorded over
    the last 90 days."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if premise.segment not in ESTIMATE_SEGMENTS:
        errors["premise"] = ["Only a commercial or industrial site may sell on an estimate; register devices."]
    if not label.strip():
        errors["label"] = ["Say what the estimate is."]
    if not basis.strip():
        errors["basis"] = ["Say how the figure was arrived at."]
    if kw <= 0:
        errors["kw"] = ["Must be positive."]
    peak = metered_peak_kw(premise=premise, now=now)
    if not errors and kw > peak:
        errors["kw"] = [f"Above the {peak} kW peak demand the meter recorded over {HISTORY_DAYS} days."]
    if errors:
        raise ApplicationError("The capacity estimate is refused.", fields=errors)
    CapacityEstimate.objects.filter(premise=premise, withdrawn_at__isnull=True).update(withdrawn_at=now)
    return CapacityEstimate.objects.create(
        premise=premise,
        label=label.strip()[:32],
        kw=kw.quantize(KW),
        basis=basis.strip(),
        verified_peak_kw=peak,
        declared_by=user,
        created_at=now,
    )


def capacity_breakdowns(*, premises) -> list[dict]:
    """The latest assessment of each premise with its per-device breakdown (portal: owner and aggregator)."""
    from .models import FlexibilityAssessment

    out = []
    for premise in premises:
        latest = FlexibilityAssessment.objects.filter(premise=premise).order_by("-window_start", "-assessed_at").first()
        estimate = capacity_estimate_current(premise=premise)
        out.append({"premise": premise, "assessment": latest, "estimate": estimate})
    return out
