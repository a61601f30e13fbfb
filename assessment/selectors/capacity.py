"""Accredited capacity: the kW the market lets a premise sell over a window (assessed capacity x reliability x
derate, capped by availability declarations; 0 while suspended or without a validated revenue meter), as one
window's answer, as a profile the market keeps, and per hour of a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.utils import timezone

from accounts.models import Premise

from .. import hooks
from ..baselines.grid import local_day_bounds
from ..flexibility import reliability_factors
from ..models import AvailabilityDeclaration, FlexibilityAssessment
from .baseline_inputs import baseline_excluded_days, meter_day_grid
from .metering import premise_meter_validated, validated_meter_premise_ids
from .performance import PERFORMANCE_EVENTS, reliability_factor_for

ACCREDITED_QUANT = Decimal("0.001")


def availability_current(*, premise: Premise, start: datetime, end: datetime) -> AvailabilityDeclaration | None:
    """The latest availability declaration covering any part of ``[start, end)``."""
    return (
        AvailabilityDeclaration.objects.filter(premise=premise, valid_from__lt=end, valid_until__gt=start)
        .order_by("-created_at", "-pk")
        .first()
    )


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
    premise_id = getattr(premise, "pk", premise)
    assessments = FlexibilityAssessment.objects.filter(premise_id=premise_id, window_end__gt=since)
    declarations = AvailabilityDeclaration.objects.filter(premise_id=premise_id, valid_until__gt=since)
    if until is not None:
        assessments = assessments.filter(window_start__lt=until)
        declarations = declarations.filter(valid_from__lt=until)
    assessed = tuple(assessments.values_list("window_start", "window_end", "assessed_at", "pk", "capacity_kw"))
    meter_validated = premise_meter_validated(premise_id)
    activation = hooks.activation()
    suspended = bool(assessed) and activation.suspended(premise_id)
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
        derate=activation.derate(premise_id) if counted else Decimal("1"),
    )


def capacity_profiles(*, premise_ids: list[int], since: datetime) -> dict[int, CapacityProfile]:
    """:func:`capacity_profile` (no ``until``) for many premises at once: the same profiles, in six queries
    whatever their number (the assessments, the validated meters, the enrollments' derate and suspension, the
    latest verified deliveries for the reliability factor (``assessment.flexibility.reliability_factors``, the
    same floats as ``reliability_factor``), the declarations), where one profile costs up to six. The market
    loads the member premises of a portfolio order this way (``market.services.eligibility.order_facts``)."""
    ids = sorted(set(premise_ids))
    if not ids:
        return {}
    assessed: dict[int, list] = {pid: [] for pid in ids}
    for pid, *row in FlexibilityAssessment.objects.filter(premise_id__in=ids, window_end__gt=since).values_list(
        "premise_id", "window_start", "window_end", "assessed_at", "pk", "capacity_kw"
    ):
        assessed[pid].append(tuple(row))
    validated = set(
        validated_meter_premise_ids().filter(meter__premise_id__in=ids).values_list("meter__premise_id", flat=True)
    )
    activation = hooks.activation()
    with_assessments = [pid for pid in ids if assessed[pid]]
    factors = activation.factors_many(with_assessments) if with_assessments else {}
    suspended = {pid for pid in with_assessments if factors.get(pid, (None, False))[1]}
    counted = [pid for pid in with_assessments if pid in validated and pid not in suspended]
    reliability: dict[int, Decimal] = {}
    declared: dict[int, list] = {pid: [] for pid in counted}
    if counted:
        deliveries = activation.deliveries_many(counted, limit=PERFORMANCE_EVENTS)
        histories = [[(float(d), float(c)) for d, c in deliveries.get(pid, ())] for pid in counted]
        for pid, r in zip(counted, reliability_factors(histories), strict=True):
            reliability[pid] = Decimal(repr(r)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        for pid, *row in AvailabilityDeclaration.objects.filter(
            premise_id__in=counted, valid_until__gt=since
        ).values_list("premise_id", "valid_from", "valid_until", "created_at", "pk", "available_kw"):
            declared[pid].append(tuple(row))
    one = Decimal("1")
    return {
        pid: CapacityProfile(
            premise_id=pid,
            since=since,
            assessments=tuple(assessed[pid]),
            declarations=tuple(declared.get(pid, ())),
            suspended=pid in suspended,
            meter_validated=pid in validated,
            reliability=reliability.get(pid, one),
            # resource_derate: the lowest derate of its enrollments, 1 without (or at 0, as ``or`` reads it)
            derate=(factors.get(pid, (one, False))[0] or one) if pid in reliability else one,
        )
        for pid in ids
    }


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


def hourly_capacity_forecast(*, premises, day: date) -> dict[int, list[Decimal]]:
    """Accredited kW per local hour of ``day`` for each premise (premise id -> 24 values; fewer on DST days
    are padded with zeros): the registered devices' kW (``assessment.device_capacity``), capped by each hour's CAISO 10-in-10
    forecast (unadjusted) demand, × the reliability
    factor, capped by availability declarations covering the hour."""
    from ..baselines.compute import compute as compute_baseline
    from ..device_capacity import premise_device_capacity

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
        reliability = reliability_factor_for(premise=premise)
        start, _ = local_day_bounds(day, premise.timezone)
        devices_kw = premise_device_capacity(premise=premise, start=start, end=start + timedelta(hours=1)).kw
        zone = ZoneInfo(premise.timezone)
        declarations = list(
            AvailabilityDeclaration.objects.filter(
                premise=premise, valid_until__gt=start, valid_from__lt=start + timedelta(hours=25)
            ).order_by("-created_at", "-pk")
        )
        for h in range(24):
            demand = Decimal(repr(float(hourly_kwh[h])))
            kw = (min(demand, devices_kw) * reliability).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN)
            local = datetime(day.year, day.month, day.day, h, tzinfo=zone)
            h_start = local.astimezone(UTC)
            h_end = h_start + timedelta(hours=1)
            for dcl in declarations:
                if dcl.valid_from < h_end and dcl.valid_until > h_start:
                    kw = min(kw, dcl.available_kw)
                    break
            hours[h] = kw
    return out


from .capacity_sets import (  # noqa: E402,F401
    accredited_capacity_by_zone_hour,
    accredited_capacity_latest_many,
    accredited_capacity_latest_with_zone,
    accredited_capacity_over,
    portfolio_capacity_by_hour,
)
