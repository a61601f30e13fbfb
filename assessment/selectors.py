"""Read models for assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Meter, Premise

from .baselines.grid import DayGrid, build_grid, local_day_bounds
from .flexibility import DeviceConstraint, reliability_factor
from .models import (
    AvailabilityDeclaration,
    Baseline,
    BaselineAccuracy,
    FlexibilityAssessment,
    FlexibilityProfile,
    MeterReading,
    MeterStatus,
)


def meter_readings(*, meter: Meter, start: datetime, end: datetime) -> QuerySet[MeterReading]:
    return MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).order_by("start")


# --- Baseline inputs, performance, availability and capacity read models (assessment issue) --------

ACCREDITED_QUANT = Decimal("0.001")
PERFORMANCE_EVENTS = 10  # the reliability factor looks at the most recent verified events


def meter_day_grid(*, meter: Meter, first_day: date, last_day: date) -> DayGrid:
    """The meter's readings for local days ``first_day..last_day`` as a (days x slots) grid."""
    tz = meter.premise.timezone
    start, _ = local_day_bounds(first_day, tz)
    _, end = local_day_bounds(last_day, tz)
    rows = list(MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).values_list("start", "kwh"))
    epoch = np.array([int(s.timestamp()) for s, _ in rows], dtype=np.int64)
    kwh = np.array([float(k) for _, k in rows], dtype=np.float64)
    return build_grid(
        epoch=epoch, kwh=kwh, tz=tz, interval_minutes=meter.interval_minutes, first_day=first_day, last_day=last_day
    )


def outage_days(grid: DayGrid) -> set[date]:
    """Days the meter read but recorded no load at all (supply outage): excluded like event days."""
    vals = grid.values
    read = ~np.isnan(vals)
    zero = read.any(axis=1) & (np.where(read, vals, 0.0).sum(axis=1) == 0)
    return {d for d, z in zip(grid.days, zero, strict=True) if z}


def baseline_excluded_days(*, meter: Meter, grid: DayGrid, before: date) -> set[date]:
    """Event days of the premise and outage days (NERC holidays are handled by day type)."""
    from activation.selectors import event_days_for_premise

    events = event_days_for_premise(premise_id=meter.premise_id, tz=meter.premise.timezone)
    return {d for d in events if d < before} | outage_days(grid)


def temperature_grid(*, meter: Meter, grid: DayGrid):
    """Outdoor temperature (°C) per grid cell at the premise, through the weather source interface
    (:mod:`assessment.weather.sources`; nearest station's observations), or None when no source has data."""
    from .weather.sources import temperatures_for

    return temperatures_for(meter=meter, grid=grid)


def performance_history(*, premise: Premise, limit: int | None = None) -> list[dict]:
    """Delivered vs committed per past verified event of the premise, newest first."""
    from activation.models import EventVerification

    qs = (
        EventVerification.objects.filter(event__premise=premise)
        .select_related("event")
        .order_by("-event__start", "-pk")
    )
    if limit:
        qs = qs[:limit]
    out = []
    for v in qs:
        ratio = v.delivered_kwh / v.committed_kwh if v.committed_kwh else None
        out.append(
            {
                "event": v.event_id,
                "start": v.event.start,
                "end": v.event.end,
                "committed_kwh": v.committed_kwh,
                "delivered_kwh": v.delivered_kwh,
                "performance": None if ratio is None else ratio.quantize(Decimal("0.0001")),
            }
        )
    return out


def reliability_factor_for(*, premise: Premise) -> Decimal:
    """Σ min(delivered, committed) / Σ committed over the last ``PERFORMANCE_EVENTS`` events; 1 without history."""
    history = performance_history(premise=premise, limit=PERFORMANCE_EVENTS)
    factor = reliability_factor(
        [float(h["delivered_kwh"]) for h in history], [float(h["committed_kwh"]) for h in history]
    )
    return Decimal(repr(factor)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


def availability_current(*, premise: Premise, start: datetime, end: datetime) -> AvailabilityDeclaration | None:
    """The latest availability declaration covering any part of ``[start, end)``."""
    return (
        AvailabilityDeclaration.objects.filter(premise=premise, valid_from__lt=end, valid_until__gt=start)
        .order_by("-created_at", "-pk")
        .first()
    )


#: the meter kind whose validation makes a premise's flexibility count: the revenue-grade (AMI) meter that
#: settlement measures delivery with; sub-meters and device telemetry do not settle.
SETTLEMENT_METER_KINDS = (Meter.Kind.AMI,)


def validated_meter_premise_ids() -> QuerySet:
    """Ids of premises with a validated revenue meter (``MeterStatus.validated``: ownership shown,
    ``METER_VALIDATION_MIN_DAYS`` of history at ``METER_VALIDATION_MIN_COMPLETENESS`` clean, not offline), as a
    subquery for ``pk__in``. The status is refreshed by ``meter_status_refresh`` (hourly beat, after new data)."""
    return MeterStatus.objects.filter(validated=True, meter__kind__in=SETTLEMENT_METER_KINDS).values(
        "meter__premise_id"
    )


def meter_validated_since(premise_ids: list[int]) -> dict[int, datetime | None]:
    """Per premise with a validated revenue meter: since when (the earliest of its validated meters)."""
    out: dict[int, datetime | None] = {}
    rows = MeterStatus.objects.filter(
        validated=True, meter__kind__in=SETTLEMENT_METER_KINDS, meter__premise_id__in=premise_ids
    ).values_list("meter__premise_id", "validated_at")
    for pid, at in rows:
        if pid not in out or (at is not None and (out[pid] is None or at < out[pid])):
            out[pid] = at
    return out


def premise_meter_validated(premise: Premise | int) -> bool:
    """The premise has a validated revenue meter (the rule of :func:`validated_meter_premise_ids`)."""
    return validated_meter_premise_ids().filter(meter__premise_id=getattr(premise, "pk", premise)).exists()


def premise_meter_validation_reasons(premise: Premise) -> list[str]:
    """Why the premise has no validated revenue meter (empty when it has one), in words for its owner."""
    meters = list(premise.meters.filter(kind__in=SETTLEMENT_METER_KINDS).order_by("meter_id"))
    if not meters:
        return [f"{premise.name}: no revenue (AMI) meter is registered, so its flexibility cannot be measured."]
    statuses = {s.meter_id: s for s in MeterStatus.objects.filter(meter__in=meters)}
    if any(s.validated for s in statuses.values()):
        return []
    out = []
    for meter in meters:
        status = statuses.get(meter.pk)
        if status is None or status.checked_at is None:
            out.append(f"{premise.name}: meter {meter.meter_id} is not validated yet (no quality check has run).")
        else:
            why = " ".join(status.reasons) or "quality check failed."
            out.append(f"{premise.name}: meter {meter.meter_id} is not validated: {why}")
    return out


@dataclass(frozen=True)
class CapacityProfile:
    """Everything a premise's accredited capacity is made of, for windows starting at or after ``since``:
    its assessments and availability declarations there, and the window-free factors. Built by
    :func:`capacity_profile`; :func:`accredited_capacity_from` turns it into the kW for one window."""

    premise_id: int
    since: datetime
    #: (window_start, window_end, assessed_at, pk, capacity_kw)
    assessments: tuple[tuple[datetime, datetime, datetime, int, Decimal], ...]
    #: (valid_from, valid_until, created_at, pk, available_kw)
    declarations: tuple[tuple[datetime, datetime, datetime, int, Decimal], ...]
    suspended: bool
    meter_validated: bool
    reliability: Decimal
    derate: Decimal

    def expires_at(self) -> datetime | None:
        """When this profile may give another answer for the same window without any write: the end of the
        earliest assessment or declaration in it (it stops covering windows from then)."""
        ends = [a[1] for a in self.assessments] + [d[1] for d in self.declarations]
        return min(ends) if ends else None


def capacity_profile(*, premise: Premise | int, since: datetime, until: datetime | None = None) -> CapacityProfile:
    """The premise's :class:`CapacityProfile` for windows in ``[since, until)`` (no ``until``: every later
    window; the market keeps that one per process, ``market.services.eligibility``).

    Reads only what can change the answer, as the rule reads it: the assessments and whether the revenue meter
    is validated (two queries; what an unassessed premise costs); the suspension only if there is an
    assessment; the reliability, derate and declarations only if the premise is neither suspended nor without
    a validated meter (the answer is then 0 kW whatever they are). Factors not read keep their neutral values
    (1, no declaration); any write to them renews the kept profile (``market.services.eligibility``)."""
    from activation.selectors import resource_derate, resource_suspended

    premise_id = getattr(premise, "pk", premise)
    assessments = FlexibilityAssessment.objects.filter(premise_id=premise_id, window_end__gt=since)
    declarations = AvailabilityDeclaration.objects.filter(premise_id=premise_id, valid_until__gt=since)
    if until is not None:
        assessments = assessments.filter(window_start__lt=until)
        declarations = declarations.filter(valid_from__lt=until)
    assessed = tuple(assessments.values_list("window_start", "window_end", "assessed_at", "pk", "capacity_kw"))
    meter_validated = premise_meter_validated(premise_id)
    suspended = bool(assessed) and resource_suspended(premise_id)
    counted = bool(assessed) and meter_validated and not suspended
    return CapacityProfile(
        premise_id=premise_id,
        since=since,
        assessments=assessed,
        declarations=(
            tuple(declarations.values_list("valid_from", "valid_until", "created_at", "pk", "available_kw"))
            if counted
            else ()
        ),
        suspended=suspended,
        meter_validated=meter_validated,
        reliability=reliability_factor_for(premise=premise_id) if counted else Decimal("1"),
        derate=resource_derate(premise_id) if counted else Decimal("1"),
    )


def accredited_capacity_from(profile: CapacityProfile, *, start: datetime, end: datetime) -> Decimal | None:
    """The kW the market lets the premise sell over ``[start, end)`` (within the profile's ``since``), or None
    if no assessment covers the window: the rule of :func:`accredited_capacity_kw`, on plain data."""
    if start < profile.since:
        raise ValueError(f"the profile starts at {profile.since}, after {start}")
    covering = [a for a in profile.assessments if a[0] <= start and a[1] >= end]
    if not covering:
        return None
    if profile.suspended or not profile.meter_validated:
        return Decimal("0")
    assessed = max(covering, key=lambda a: (a[2], a[3]))  # the latest assessment (then the latest row)
    kw = (assessed[4] * profile.reliability * profile.derate).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN)
    declared = [d for d in profile.declarations if d[0] < end and d[1] > start]
    if declared:
        kw = min(kw, max(declared, key=lambda d: (d[2], d[3]))[4])  # the latest declaration
    return kw


def accredited_capacity_kw(*, premise: Premise, start: datetime, end: datetime) -> Decimal | None:
    """The kW the market lets a premise sell over ``[start, end)``, or None if it has not been assessed.

    The single capacity gate the market calls: assessed capacity × reliability factor (from delivered vs
    committed on past events) × the activation app's derate for repeated non-compliance (0 while the
    resource is suspended), and never more than a current availability declaration covering the window.
    A premise without a validated revenue meter (:func:`validated_meter_premise_ids`) has 0 kW to sell: what
    it delivers could not be measured against enough clean history. The rule itself is
    :func:`accredited_capacity_from`; this reads what it needs for the one window.
    """
    return accredited_capacity_from(capacity_profile(premise=premise, since=start, until=end), start=start, end=end)


def accredited_capacity_latest_kw(*, premise: Premise, now: datetime | None = None) -> Decimal:
    """The accredited capacity of the premise's next assessed window (the earliest that has not ended; else its
    latest): the number the compliance status sums into an aggregator's portfolio when no delivery window
    is in question. 0 without an assessment."""
    now = now or timezone.now()
    qs = FlexibilityAssessment.objects.filter(premise=premise)
    latest = (
        qs.filter(window_end__gt=now).order_by("window_start", "-assessed_at").first()
        or qs.order_by("-window_end", "-assessed_at").first()
    )
    if latest is None:
        return Decimal("0")
    return accredited_capacity_kw(premise=premise, start=latest.window_start, end=latest.window_end) or Decimal("0")


def device_constraints_for(*, premise: Premise, typical_kw: float) -> list[DeviceConstraint]:
    """The premise's flexible devices as :class:`DeviceConstraint` inputs.

    From the device registry (``accounts.Device``): each active device counts with the controllable kW its
    capability assessment gives (``accounts.capability.assess_device``: control channel, range, ramp, comfort
    band, state of charge); batteries are storage, EV chargers / water heaters / pool pumps / processes are
    deferrable, thermostats curtailable; PV inverters and manual devices count nothing. A premise without
    registered devices falls back to its segment's typical devices (``SEGMENT_DEVICES``). A current
    availability declaration with a state of charge sets the storage's SoC.
    """
    from accounts.capability import DeviceSpec, assess_device

    now = timezone.now()
    declaration = availability_current(premise=premise, start=now, end=now + timedelta(minutes=1))
    declared_soc = (
        float(declaration.soc_percent) / 100.0
        if declaration is not None and declaration.soc_percent is not None
        else None
    )
    devices = list(premise.devices.filter(active=True).order_by("pk"))
    out: list[DeviceConstraint] = []
    if devices:
        for device in devices:
            kw = float(assess_device(DeviceSpec.of(device)).kw)
            kind = DEVICE_KIND_CLASS.get(device.kind)
            if kind is None or kw <= 0:
                continue
            share = min(kw / typical_kw, 1.0) if typical_kw > 0 else 0.0
            if kind == "storage":
                soc = declared_soc if declared_soc is not None else float(device.soc_percent or 50) / 100.0
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
    for d in SEGMENT_DEVICES.get(premise.segment, []):
        power = d["power_share"] * typical_kw
        energy = d.get("hours", 0.0) * power
        soc = d.get("soc", 0.5)
        if d["kind"] == "storage" and declared_soc is not None:
            soc = declared_soc
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


def hourly_capacity_forecast(*, premises, day: date) -> dict[int, list[Decimal]]:
    """Accredited kW per local hour of ``day`` for each premise (premise id -> 24 values; fewer on DST days
    are padded with zeros): the CAISO 10-in-10 forecast (unadjusted) of each hour's demand × the segment's
    flexible share × the reliability factor, capped by availability declarations covering the hour."""
    from .baselines.compute import compute as compute_baseline
    from .services import FLEX_SHARE

    out: dict[int, list[Decimal]] = {}
    for premise in premises:
        meter = premise.meters.order_by("id").first()
        hours = [Decimal("0")] * 24
        out[premise.pk] = hours
        if meter is None:
            continue
        grid = meter_day_grid(meter=meter, first_day=day - timedelta(days=45), last_day=day)
        try:
            outcome = compute_baseline(
                method="caiso-10in10-unadjusted",
                grid=grid,
                target_day=day,
                start_slot=0,
                end_slot=grid.slots_per_day,
                excluded_days=baseline_excluded_days(meter=meter, grid=grid, before=day),
            )
        except ValueError:
            continue
        sph = 60 // meter.interval_minutes
        hourly_kwh = np.nan_to_num(outcome.values.reshape(24, sph)).sum(axis=1)
        factor = reliability_factor_for(premise=premise) * FLEX_SHARE[premise.segment]
        start, _ = local_day_bounds(day, premise.timezone)
        zone = ZoneInfo(premise.timezone)
        declarations = list(
            AvailabilityDeclaration.objects.filter(
                premise=premise, valid_until__gt=start, valid_from__lt=start + timedelta(hours=25)
            ).order_by("-created_at", "-pk")
        )
        for h in range(24):
            kw = (Decimal(repr(float(hourly_kwh[h]))) * factor).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN)
            local = datetime(day.year, day.month, day.day, h, tzinfo=zone)
            h_start = local.astimezone(UTC)
            h_end = h_start + timedelta(hours=1)
            for dcl in declarations:
                if dcl.valid_from < h_end and dcl.valid_until > h_start:
                    kw = min(kw, dcl.available_kw)
                    break
            hours[h] = kw
    return out


def portfolio_capacity_by_hour(*, premises, day: date) -> list[Decimal]:
    """Sum over the portfolio of accredited kW per local hour of ``day``."""
    per = hourly_capacity_forecast(premises=premises, day=day)
    return [sum((v[h] for v in per.values()), Decimal("0")) for h in range(24)]


def accredited_capacity_by_zone_hour(*, zone_ids: set[int], day: date) -> dict[str, list[Decimal]]:
    """Accredited kW per grid zone (code) and local hour of ``day``, for premises in the zones given."""
    premises = list(Premise.objects.filter(grid_zone_id__in=zone_ids).select_related("grid_zone").order_by("pk"))
    per = hourly_capacity_forecast(premises=premises, day=day)
    out: dict[str, list[Decimal]] = {}
    for p in premises:
        row = out.setdefault(p.grid_zone.code, [Decimal("0")] * 24)
        for h in range(24):
            row[h] += per[p.pk][h]
    return dict(sorted(out.items()))


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


def meters_readable_by(user) -> QuerySet[Meter]:
    """Meters at the premises the user may see (owner, enrolled aggregator, operator in its zones, admin)."""
    from accounts.selectors import premises_visible_to

    return Meter.objects.filter(premise__in=premises_visible_to(user)).select_related("premise")


def meters_writable_by(user) -> QuerySet[Meter]:
    """Meters the user may send readings for: the premise owner, its enrolled aggregator, admins.

    Grid operators read the meters in their zones but never write them.
    """
    from accounts.models import Membership
    from accounts.selectors import user_role

    if user_role(user) not in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN):
        return Meter.objects.none()
    return meters_readable_by(user)


def meter_visible(*, user, meter_id: str) -> Meter:
    """The meter if the user may read it; NotFound otherwise (another consumer's meter does not exist for you)."""
    from flexplatform.errors import NotFound

    meter = meters_readable_by(user).filter(meter_id=meter_id).first()
    if meter is None:
        raise NotFound(f"No meter {meter_id!r} among yours.")
    return meter


def meter_consumption(*, meter: Meter, start: datetime | None = None, end: datetime | None = None):
    """The consumption analysis of a meter over ``[start, end)`` (default: all its data)."""
    from .consumption import analyse

    qs = MeterReading.objects.filter(meter=meter)
    if start is not None:
        qs = qs.filter(start__gte=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    readings = list(qs.order_by("start").values_list("start", "kwh"))
    return analyse(readings, tz=meter.local_timezone, interval_minutes=meter.interval_minutes)


def reading_revisions(*, meter: Meter):
    from .models import ReadingRevision

    return ReadingRevision.objects.filter(meter=meter).select_related("batch").order_by("-revised_at", "start")


def premises_daily_load(premises, days: int = 14) -> dict:
    """Daily kWh per local day for the premises' meters over the last ``days`` days of data (chart data)."""
    from collections import defaultdict

    meter_ids = [m.pk for p in premises for m in p.meters.all()]
    latest = (
        MeterReading.objects.filter(meter_id__in=meter_ids).order_by("-start").values_list("start", flat=True).first()
    )
    if latest is None:
        return {"labels": [], "values": []}
    tz = ZoneInfo(premises[0].timezone) if premises else ZoneInfo("UTC")
    since = latest - timedelta(days=days)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for start, kwh in MeterReading.objects.filter(meter_id__in=meter_ids, start__gt=since).values_list("start", "kwh"):
        totals[start.astimezone(tz).date().isoformat()] += kwh
    labels = sorted(totals)
    return {"labels": labels, "values": [float(totals[d]) for d in labels]}  # chart display only


def meter_statuses_for(meters) -> dict:
    """The validation status of each of ``meters`` that has one, by meter pk."""
    return {s.meter_id: s for s in MeterStatus.objects.filter(meter__in=meters)}
