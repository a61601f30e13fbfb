"""Whether a premise's revenue meter is validated (and why not, and since when), and its annual consumption
estimated from the meter history. Lent to accounts' compliance rules through :class:`MeteringFacts`
(``accounts.hooks``), registered in ``assessment.apps``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from accounts.models import Meter, Premise

from ..models import MeterReading, MeterStatus

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


def premise_annual_kwh(premise: Premise, *, now: datetime | None = None) -> Decimal | None:
    """Annual consumption estimated from the last year of revenue-meter history (mean daily kWh x 365)."""
    now = now or timezone.now()
    rows = MeterReading.objects.filter(
        meter__premise=premise, meter__kind="ami", start__gte=now - timedelta(days=365), start__lt=now
    ).aggregate(kwh=Sum("kwh"), n=Count("id"))
    if not rows["n"]:
        return None
    interval = min(m.interval_minutes for m in premise.meters.all()) or 15
    days = Decimal(rows["n"] * interval) / Decimal(1440)
    if days < 1:
        return None
    return (rows["kwh"] / days * 365).quantize(Decimal("1"))


def premises_meter_validation_reasons(premises: list[Premise]) -> dict[int, list[str]]:
    """:func:`premise_meter_validation_reasons` for many premises (``meters`` prefetched): one query."""
    meters = {
        p.pk: sorted((m for m in p.meters.all() if m.kind in SETTLEMENT_METER_KINDS), key=lambda m: m.meter_id)
        for p in premises
    }
    statuses = {
        s.meter_id: s for s in MeterStatus.objects.filter(meter__in=[m.pk for ms in meters.values() for m in ms])
    }
    out: dict[int, list[str]] = {}
    for premise in premises:
        mine = meters[premise.pk]
        if not mine:
            out[premise.pk] = [
                f"{premise.name}: no revenue (AMI) meter is registered, so its flexibility cannot be measured."
            ]
            continue
        if any(statuses.get(m.pk) is not None and statuses[m.pk].validated for m in mine):
            out[premise.pk] = []
            continue
        reasons = []
        for meter in mine:
            status = statuses.get(meter.pk)
            if status is None or status.checked_at is None:
                reasons.append(
                    f"{premise.name}: meter {meter.meter_id} is not validated yet (no quality check has run)."
                )
            else:
                why = " ".join(status.reasons) or "quality check failed."
                reasons.append(f"{premise.name}: meter {meter.meter_id} is not validated: {why}")
        out[premise.pk] = reasons
    return out


def premises_annual_kwh(premises: list[Premise], *, now: datetime) -> dict[int, Decimal | None]:
    """:func:`premise_annual_kwh` for many premises (``meters`` prefetched): one grouped query."""
    rows = {
        r["meter__premise_id"]: r
        for r in MeterReading.objects.filter(
            meter__premise__in=[p.pk for p in premises],
            meter__kind="ami",
            start__gte=now - timedelta(days=365),
            start__lt=now,
        )
        .values("meter__premise_id")
        .annotate(kwh=Sum("kwh"), n=Count("id"))
    }
    out: dict[int, Decimal | None] = {}
    for p in premises:
        r = rows.get(p.pk)
        out[p.pk] = None
        if not r or not r["n"]:
            continue
        interval = min((m.interval_minutes for m in p.meters.all()), default=15) or 15
        days = Decimal(r["n"] * interval) / Decimal(1440)
        if days >= 1:
            out[p.pk] = (r["kwh"] / days * 365).quantize(Decimal("1"))
    return out


def meter_validation_summary(meter: Meter) -> str:
    """One meter's validation in a few words (the admin's meter lists)."""
    status = MeterStatus.objects.filter(meter=meter).first()
    if status is None or status.checked_at is None:
        return "not checked yet"
    return "validated" if status.validated else "not validated: " + " ".join(status.reasons)


def meter_statuses_for(meters) -> dict:
    """The validation status of each of ``meters`` that has one, by meter pk."""
    return {s.meter_id: s for s in MeterStatus.objects.filter(meter__in=meters)}


class MeteringFacts:
    """Assessment's metering facts for accounts' compliance rules (``accounts.hooks.MeteringFacts``)."""

    def validated_premise_ids(self) -> QuerySet:
        return validated_meter_premise_ids()

    def validated_since(self, premise_ids: Iterable[int]) -> dict[int, datetime | None]:
        return meter_validated_since(list(premise_ids))

    def validation_reasons(self, premise: Premise) -> list[str]:
        return premise_meter_validation_reasons(premise)

    def annual_kwh(self, premise: Premise, *, now: datetime) -> Decimal | None:
        return premise_annual_kwh(premise, now=now)

    def meter_validation(self, meter: Meter) -> str:
        return meter_validation_summary(meter)

    def validation_reasons_many(self, premises: list[Premise]) -> dict[int, list[str]]:
        return premises_meter_validation_reasons(premises)

    def annual_kwh_many(self, premises: list[Premise], *, now: datetime) -> dict[int, Decimal | None]:
        return premises_annual_kwh(premises, now=now)
