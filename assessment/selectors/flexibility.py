"""A premise's and a portfolio's flexibility for the portals: device constraints (registry or segment defaults),
the latest flexibility profile, baseline accuracy and the baseline-vs-actual chart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.utils import timezone

from accounts.capability import DeviceSpec, assess_device
from accounts.models import Meter, Premise

from ..flexibility import DeviceConstraint
from ..models import AvailabilityDeclaration, Baseline, BaselineAccuracy, FlexibilityProfile
from .capacity import availability_current
from .meters import meter_readings
from .performance import reliability_factor_for


def device_constraints_for(
    *, premise: Premise, typical_kw: float, now: datetime | None = None
) -> list[DeviceConstraint]:
    """The premise's flexible devices as :class:`DeviceConstraint` inputs (:func:`device_constraints_from`), with
    the availability declaration current at ``now`` (default: the present)."""
    now = now or timezone.now()
    declaration = availability_current(premise=premise, start=now, end=now + timedelta(minutes=1))
    return device_constraints_from(
        devices=list(premise.devices.filter(active=True).order_by("pk")),
        segment=premise.segment,
        typical_kw=typical_kw,
        declared_soc=declaration.soc_percent if declaration is not None else None,
    )


def declarations_current(*, premise_ids, start: datetime, end: datetime) -> dict[int, AvailabilityDeclaration]:
    """:func:`.capacity.availability_current` of many premises, in one read: per premise with one, the latest
    declaration covering any part of ``[start, end)``."""
    found: dict[int, AvailabilityDeclaration] = {}
    for declaration in AvailabilityDeclaration.objects.filter(
        premise_id__in=list(premise_ids), valid_from__lt=end, valid_until__gt=start
    ).order_by("-created_at", "-pk"):
        found.setdefault(declaration.premise_id, declaration)
    return found


def device_constraints_from(
    *, devices, segment: str, typical_kw: float, declared_soc: Decimal | None
) -> list[DeviceConstraint]:
    """The premise's flexible devices as :class:`DeviceConstraint` inputs (no query).

    From the device registry (``devices``: the premise's active ``accounts.Device`` rows, or ``DeviceRow`` tuples,
    by pk): each counts with the controllable kW its capability assessment gives (``accounts.capability.assess_device``:
    control channel, range, ramp, comfort band, state of charge); batteries are storage, EV chargers / water
    heaters / pool pumps / processes are deferrable, thermostats curtailable; PV inverters and manual devices count
    nothing. A premise without registered devices falls back to its ``segment``'s typical devices
    (``SEGMENT_DEVICES``). A current availability declaration's state of charge (``declared_soc``, percent) sets
    the storage's SoC.
    """
    declared = float(declared_soc) / 100.0 if declared_soc is not None else None
    out: list[DeviceConstraint] = []
    if devices:
        for device in devices:
            kw = float(assess_device(DeviceSpec.of(device)).kw)
            kind = DEVICE_KIND_CLASS.get(device.kind)
            if kind is None or kw <= 0:
                continue
            share = min(kw / typical_kw, 1.0) if typical_kw > 0 else 0.0
            if kind == "storage":
                soc = declared if declared is not None else float(device.soc_percent or 50) / 100.0
                out.append(
                    DeviceConstraint(
                        kind=kind,
                        power_kw=kw,
                        energy_kwh=float(device.capacity_kwh or 0),
                        soc=soc,
                        min_soc=float(device.soc_min_percent or 10) / 100.0,
                    )
                )
            else:
                out.append(
                    DeviceConstraint(
                        kind=kind,
                        power_kw=kw,
                        share_of_load=share,
                        max_shift_hours=DEFERRAL_HOURS.get(device.kind, 24.0),
                    )
                )
        return out
    for d in SEGMENT_DEVICES.get(segment, []):
        power = d["power_share"] * typical_kw
        energy = d.get("hours", 0.0) * power
        soc = d.get("soc", 0.5)
        if d["kind"] == "storage" and declared is not None:
            soc = declared
        out.append(
            DeviceConstraint(
                kind=d["kind"],
                power_kw=power,
                share_of_load=d.get("share_of_load", 0.0),
                energy_kwh=energy,
                soc=soc,
                max_shift_hours=d.get("max_shift_hours", 24.0),
            )
        )
    return out


# How long a deferrable device's consumption may typically be moved: an EV to its overnight departure, a
# water heater within its tank's standing losses, a pool pump within the day, a batch process by a shift.
DEFERRAL_HOURS = {"ev_charger": 12.0, "water_heater": 8.0, "pool_pump": 24.0, "industrial_process": 12.0}


# How each registered device kind counts in the flexibility measures.
DEVICE_KIND_CLASS = {
    "battery": "storage",
    "ev_charger": "deferrable",
    "water_heater": "deferrable",
    "pool_pump": "deferrable",
    "industrial_process": "deferrable",
    "hvac": "curtailable",
}


# Segment defaults (fractions of the premise's typical demand): what a typical site of the segment has.
SEGMENT_DEVICES: dict[str, list[dict]] = {
    Premise.Segment.RESIDENTIAL: [
        {"kind": "curtailable", "power_share": 0.35, "share_of_load": 0.30},  # HVAC set-back
        {"kind": "deferrable", "power_share": 0.25, "share_of_load": 0.15, "max_shift_hours": 8.0},  # water heater / EV
    ],
    Premise.Segment.COMMERCIAL: [
        {"kind": "curtailable", "power_share": 0.25, "share_of_load": 0.20},  # HVAC, lighting
        {"kind": "deferrable", "power_share": 0.10, "share_of_load": 0.05, "max_shift_hours": 4.0},
    ],
    Premise.Segment.INDUSTRIAL: [
        {"kind": "curtailable", "power_share": 0.10, "share_of_load": 0.10},
        {"kind": "deferrable", "power_share": 0.10, "share_of_load": 0.08, "max_shift_hours": 12.0},  # batch process
        {"kind": "storage", "power_share": 0.05, "hours": 2.0, "soc": 0.8},
    ],
}


def flexibility_profile_latest(*, premise: Premise) -> FlexibilityProfile | None:
    return FlexibilityProfile.objects.filter(premise=premise).order_by("-as_of").first()


def accuracy_report(*, meter: Meter) -> list[BaselineAccuracy]:
    latest = BaselineAccuracy.objects.filter(meter=meter).order_by("-as_of").values_list("as_of", flat=True).first()
    if latest is None:
        return []
    return list(BaselineAccuracy.objects.filter(meter=meter, as_of=latest).order_by("cvrmse_pct", "method"))


def baseline_vs_actual(*, premise: Premise) -> dict:
    """The premise's latest baseline against its metered load (chart data; floats for display only)."""
    meter = premise.meters.order_by("id").first()
    baseline = (
        None
        if meter is None
        else Baseline.objects.filter(meter=meter).order_by("-window_start", "-computed_at").first()
    )
    if baseline is None:
        return {"labels": [], "baseline": [], "actual": [], "method": None, "days_used": []}
    zone = ZoneInfo(premise.timezone)
    base = list(baseline.intervals.values_list("start", "kwh"))
    actual = dict(
        meter_readings(meter=meter, start=baseline.window_start, end=baseline.window_end).values_list("start", "kwh")
    )
    return {
        "labels": [s.astimezone(zone).strftime("%H:%M") for s, _ in base],
        "baseline": [float(k) for _, k in base],
        "actual": [float(actual[s]) if s in actual else None for s, _ in base],
        "method": baseline.method,
        "parameters": baseline.parameters,
        "days_used": baseline.days_used,
        "window_start": baseline.window_start,
    }


def premise_flexibility_summary(*, premise: Premise) -> dict:
    """For the consumer portal: flexibility score and what drives it, and the baseline-vs-actual chart."""
    profile = flexibility_profile_latest(premise=premise)
    meter = premise.meters.order_by("id").first()
    report = [] if meter is None else accuracy_report(meter=meter)
    return {
        "premise": premise,
        "recommended": next((a for a in report if a.recommended), None),
        "profile": profile,
        "reliability_factor": reliability_factor_for(premise=premise),
        "chart": baseline_vs_actual(premise=premise),
        "chart_id": f"baseline-{premise.pk}",
    }


def coming_day(*, premises) -> date:
    """Tomorrow in the premises' local time (the first premise's zone; UTC without premises)."""
    tz = ZoneInfo(premises[0].timezone) if premises else UTC
    return (timezone.now().astimezone(tz) + timedelta(days=1)).date()


def portfolio_flexibility(*, premises) -> dict:
    """Flexibility measures summed over a portfolio (latest profile of each premise).

    Peak-shaving kW and load-shifting kWh add up; the availability score by hour of week is the
    average of the members' scores weighted by their peak-shaving kW (members without a profile count 0).
    """
    profiles = [p for p in (flexibility_profile_latest(premise=x) for x in premises) if p is not None]
    weights = np.array([float(p.peak_shaving_kw) for p in profiles])
    scores = np.array([p.availability_scores for p in profiles], dtype=float) if profiles else np.zeros((0, 168))
    if profiles and weights.sum() > 0:
        by_hour = np.rint(weights @ scores / weights.sum()).astype(int).tolist()
    else:
        by_hour = [0] * 168
    return {
        "members": len(premises),
        "profiled": len(profiles),
        "peak_shaving_kw": sum((p.peak_shaving_kw for p in profiles), Decimal("0")),
        "load_shift_kwh": sum((p.load_shift_kwh for p in profiles), Decimal("0")),
        "availability_scores": by_hour,
    }


def consumer_meter_charts(premises, *, days: int = 14) -> dict:
    """The consumer home's meter-data read model for all its premises at once, in five queries whatever the number
    of premises, events or readings' history: the daily load chart (:func:`.meters.premises_daily_load`) and, per
    premise, what :func:`premise_flexibility_summary` shows (latest profile, recommended baseline, reliability
    factor, the latest baseline against the metered load).

    ``premises``: with their ``meters`` prefetched (the first by id is the premise's chart meter)."""
    from collections import defaultdict

    from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Q, Subquery, Value

    from flexplatform import plausible

    from .. import hooks
    from ..flexibility import reliability_factor
    from ..models import BaselineInterval, MeterReading
    from .meters import plausible_readings
    from .performance import PERFORMANCE_EVENTS

    premises = list(premises)
    ids = [p.pk for p in premises]
    meter_ids = [m.pk for p in premises for m in p.meters.all()]
    first_meter = {p.pk: min(p.meters.all(), key=lambda m: m.pk) for p in premises if p.meters.all()}
    firsts = [m.pk for m in first_meter.values()]
    latest_profile = FlexibilityProfile.objects.filter(premise=OuterRef("premise")).order_by("-as_of", "-pk")
    profiles = {
        f.premise_id: f
        for f in FlexibilityProfile.objects.filter(premise_id__in=ids, pk=Subquery(latest_profile.values("pk")[:1]))
    }
    latest_accuracy = BaselineAccuracy.objects.filter(meter=OuterRef("meter")).order_by("-as_of")
    recommended: dict[int, BaselineAccuracy] = {}
    for a in BaselineAccuracy.objects.filter(
        meter_id__in=firsts, recommended=True, as_of=Subquery(latest_accuracy.values("as_of")[:1])
    ).order_by("meter_id", "cvrmse_pct", "method"):
        recommended.setdefault(a.meter_id, a)
    history = hooks.activation().verified_events_many(ids, limit=PERFORMANCE_EVENTS) if ids else {}
    latest_baseline = Baseline.objects.filter(meter=OuterRef("baseline__meter")).order_by(
        "-window_start", "-computed_at"
    )
    baselines: dict[int, Baseline] = {}
    base_rows: dict[int, list] = defaultdict(list)
    for i in (
        BaselineInterval.objects.filter(
            baseline__meter_id__in=firsts, baseline_id=Subquery(latest_baseline.values("pk")[:1])
        )
        .select_related("baseline")
        .order_by("baseline_id", "start")
    ):
        baselines[i.baseline.meter_id] = i.baseline
        base_rows[i.baseline.meter_id].append((i.start, i.kwh))
    # One query for both charts: the last ``days`` days of every meter (after the latest plausible reading, as
    # :func:`.meters.premises_daily_load` reads them), and each baseline's window of its meter.
    latest = (
        plausible_readings(MeterReading.objects.filter(meter_id__in=meter_ids)).order_by("-start").values("start")[:1]
    )
    since = ExpressionWrapper(Subquery(latest) - Value(timedelta(days=days)), output_field=DateTimeField())
    wanted = Q(meter_id__in=meter_ids, start__gt=since)
    for meter_id, b in baselines.items():
        wanted |= Q(meter_id=meter_id, start__gte=b.window_start, start__lt=b.window_end)
    rows = list(MeterReading.objects.filter(wanted).values_list("meter_id", "start", "kwh")) if meter_ids else []
    # The latest plausible reading is among the rows (it is after ``since``), and no baseline window passes it.
    low, high = plausible.datetime_bounds()
    newest = max((start for _, start, _ in rows if low <= start < high), default=None)
    tz = ZoneInfo(premises[0].timezone) if premises else ZoneInfo("UTC")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    actual: dict[int, dict] = defaultdict(dict)
    for meter_id, start, kwh in rows:
        if newest is not None and start > newest - timedelta(days=days):
            totals[start.astimezone(tz).date().isoformat()] += kwh
        b = baselines.get(meter_id)
        if b is not None and b.window_start <= start < b.window_end:
            actual[meter_id][start] = kwh
    labels = sorted(totals)
    flexibility = []
    for p in premises:
        meter = first_meter.get(p.pk)
        b = baselines.get(meter.pk) if meter is not None else None
        events = history.get(p.pk, [])
        factor = reliability_factor([float(e.delivered_kwh) for e in events], [float(e.committed_kwh) for e in events])
        if b is None:
            chart = {"labels": [], "baseline": [], "actual": [], "method": None, "days_used": []}
        else:
            zone, base, got = ZoneInfo(p.timezone), base_rows[meter.pk], actual[meter.pk]
            chart = {
                "labels": [s.astimezone(zone).strftime("%H:%M") for s, _ in base],
                "baseline": [float(k) for _, k in base],  # chart display only
                "actual": [float(got[s]) if s in got else None for s, _ in base],
                "method": b.method,
                "parameters": b.parameters,
                "days_used": b.days_used,
                "window_start": b.window_start,
            }
        flexibility.append(
            {
                "premise": p,
                "recommended": recommended.get(meter.pk) if meter is not None else None,
                "profile": profiles.get(p.pk),
                "reliability_factor": Decimal(repr(factor)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN),
                "chart": chart,
                "chart_id": f"baseline-{p.pk}",
            }
        )
    return {"load_chart": {"labels": labels, "values": [float(totals[d]) for d in labels]}, "flexibility": flexibility}
