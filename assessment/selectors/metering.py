"""Whether a premise's revenue meter is validated (and why not, and since when), and its annual consumption
estimated from the meter history. Lent to accounts' compliance rules through :class:`MeteringFacts`
(``accounts.hooks``), registered in ``assessment.apps``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from django.db.models import Min, QuerySet, Sum
from django.utils import timezone

from accounts.models import Meter, Premise

from ..models import MeterStatus

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
    """Annual consumption estimated from the last year of revenue-meter history (mean daily kWh x 365), as of the
    meters' last status check (:func:`annual_kwh_by_id` for one premise: every page gives the same figure)."""
    return annual_kwh_by_id([premise.pk], now=now or timezone.now()).get(premise.pk)


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


def validation_reasons_by_name(names: Mapping[int, str]) -> dict[int, list[str]]:
    """:func:`premise_meter_validation_reasons` for many premises given as id -> name: two queries (their revenue
    meters, their statuses) and no model instances, whatever their number."""
    meters: dict[int, list[tuple[int, str]]] = {pid: [] for pid in names}
    for pid, pk, meter_id in (
        Meter.objects.filter(premise_id__in=list(names), kind__in=SETTLEMENT_METER_KINDS)
        .order_by("premise_id", "meter_id")
        .values_list("premise_id", "pk", "meter_id")
    ):
        meters[pid].append((pk, meter_id))
    statuses = {
        pk: (validated, checked_at, reasons)
        for pk, validated, checked_at, reasons in MeterStatus.objects.filter(
            meter__premise_id__in=list(names), meter__kind__in=SETTLEMENT_METER_KINDS
        ).values_list("meter_id", "validated", "checked_at", "reasons")
    }
    out: dict[int, list[str]] = {}
    for pid, name in names.items():
        mine = meters[pid]
        if not mine:
            out[pid] = [f"{name}: no revenue (AMI) meter is registered, so its flexibility cannot be measured."]
            continue
        if any(statuses.get(pk, (False,))[0] for pk, _ in mine):
            out[pid] = []
            continue
        reasons = []
        for pk, meter_id in mine:
            status = statuses.get(pk)
            if status is None or status[1] is None:
                reasons.append(f"{name}: meter {meter_id} is not validated yet (no quality check has run).")
            else:
                why = " ".join(status[2]) or "quality check failed."
                reasons.append(f"{name}: meter {meter_id} is not validated: {why}")
        out[pid] = reasons
    return out


def annual_kwh_by_id(premise_ids, *, now: datetime) -> dict[int, Decimal | None]:
    """Annual consumption per premise (``premise_ids``: a list or a subquery of ids): the mean daily kWh of its
    revenue (AMI) meters over the year to their last status check x 365, read from the year each
    :func:`assessment.services.meter_status_refresh` stores (one grouped query over meter statuses, one over the
    meters' finest interval; no reading is summed here, whatever the history). Premises without at least a day
    of history are absent. ``now`` is kept for callers; the figure is as of the last check."""
    rows = (
        MeterStatus.objects.filter(meter__premise_id__in=premise_ids, meter__kind="ami", year_intervals__gt=0)
        .values("meter__premise_id")
        .annotate(kwh=Sum("year_kwh"), n=Sum("year_intervals"))
        .values_list("meter__premise_id", "kwh", "n")
    )
    rows = [r for r in rows if r[2]]
    if not rows:
        return {}
    intervals = dict(
        Meter.objects.filter(premise_id__in=premise_ids)
        .values("premise_id")
        .annotate(m=Min("interval_minutes"))
        .values_list("premise_id", "m")
    )
    out: dict[int, Decimal | None] = {}
    for pid, kwh, n in rows:
        days = Decimal(n * (intervals.get(pid) or 15)) / Decimal(1440)
        if days >= 1:
            out[pid] = (Decimal(kwh) / days * 365).quantize(Decimal("1"))
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

    def validation_reasons_by_name(self, names: Mapping[int, str]) -> dict[int, list[str]]:
        return validation_reasons_by_name(names)

    def annual_kwh_by_id(self, premise_ids, *, now: datetime) -> dict[int, Decimal | None]:
        return annual_kwh_by_id(premise_ids, now=now)
