"""Accredited capacity per hour for many premises at once: a portfolio's, a zone's.

The rule is :func:`assessment.selectors.capacity.accredited_capacity_from` for each local hour of the day (the
latest stored assessment covering the hour × reliability × derate, 0 while suspended or without a validated
revenue meter, capped by the latest availability declaration overlapping the hour), read set-based: a constant
number of queries whatever the number of premises (the stored assessments, validated meters, enrollments'
derate and suspension, verified events, declarations: one query each), then one pass in Python. Where the
assessed kW comes from (a share of the baseline today, registered devices later) is the assessment's business;
this reads the stored rows."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from accounts.models import Premise

from .. import hooks
from ..flexibility import reliability_factor
from ..models import AvailabilityDeclaration, FlexibilityAssessment
from .metering import validated_meter_premise_ids
from .performance import PERFORMANCE_EVENTS

ACCREDITED_QUANT = Decimal("0.001")


def _hour_bounds(day: date, tz: str) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(tz)
    out = []
    for h in range(24):
        start = datetime(day.year, day.month, day.day, h, tzinfo=zone).astimezone(UTC)
        out.append((start, start + timedelta(hours=1)))
    return out


def _premise_timezones(premises) -> tuple[dict[int, str], object]:
    """(premise id -> timezone, a filter value for ``premise_id__in``: a subquery for a queryset)."""
    if isinstance(premises, QuerySet):
        rows = dict(premises.order_by().values_list("pk", "timezone"))
        return rows, premises.order_by().values("pk")
    tzs = {p.pk: p.timezone for p in premises}
    return tzs, list(tzs)


def capacity_by_premise_hour(*, premises, day: date) -> dict[int, list[Decimal]]:
    """Accredited kW per local hour of ``day`` (24 values) for each premise that has any; premises without an
    assessment covering the day are absent (0 kW every hour)."""
    tzs, ids = _premise_timezones(premises)
    if not tzs:
        return {}
    bounds = {tz: _hour_bounds(day, tz) for tz in set(tzs.values())}
    hour_starts = {tz: [b[0] for b in bs] for tz, bs in bounds.items()}
    hour_ends = {tz: [b[1] for b in bs] for tz, bs in bounds.items()}
    lo = min(b[0][0] for b in bounds.values())
    hi = max(b[-1][1] for b in bounds.values())
    assessed: dict[int, list[tuple]] = defaultdict(list)
    for row in FlexibilityAssessment.objects.filter(
        premise_id__in=ids, window_start__lt=hi, window_end__gt=lo
    ).values_list("premise_id", "window_start", "window_end", "assessed_at", "pk", "capacity_kw"):
        assessed[row[0]].append(row[1:])
    if not assessed:
        return {}
    assessed_ids = list(assessed)
    validated = set(
        validated_meter_premise_ids().filter(meter__premise_id__in=ids).values_list("meter__premise_id", flat=True)
    )
    activation = hooks.activation()
    factors = activation.factors_many(ids)
    counted = [pid for pid in assessed_ids if pid in validated and not factors.get(pid, (1, False))[1]]
    events = activation.verified_events_many(ids, limit=PERFORMANCE_EVENTS)
    declared: dict[int, list[tuple]] = defaultdict(list)
    for row in AvailabilityDeclaration.objects.filter(
        premise_id__in=ids, valid_from__lt=hi, valid_until__gt=lo
    ).values_list("premise_id", "valid_from", "valid_until", "created_at", "pk", "available_kw"):
        declared[row[0]].append(row[1:])
    out: dict[int, list[Decimal]] = {}
    counted_set = set(counted)
    reliabilities: dict[tuple, Decimal] = {}
    for pid, rows in assessed.items():
        hours = [Decimal("0")] * 24
        out[pid] = hours
        if pid not in counted_set:
            continue
        history = tuple((e.delivered_kwh, e.committed_kwh) for e in events.get(pid, ()))
        reliability = reliabilities.get(history)
        if reliability is None:  # the same history gives the same factor: computed once
            reliability = reliabilities[history] = Decimal(
                repr(reliability_factor([float(d) for d, _ in history], [float(c) for _, c in history]))
            ).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        factor = reliability * factors.get(pid, (Decimal("1"), False))[0]
        starts, ends = hour_starts[tzs[pid]], hour_ends[tzs[pid]]
        best: list[tuple | None] = [None] * 24  # per hour: the latest assessment covering it
        for a in rows:
            for h in range(bisect_left(starts, a[0]), bisect_right(ends, a[1])):
                if best[h] is None or (a[2], a[3]) > (best[h][2], best[h][3]):
                    best[h] = a
        kw_of: dict[int, Decimal] = {}
        caps_all = declared.get(pid, ())
        for h, a in enumerate(best):
            if a is None:
                continue
            kw = kw_of.get(a[3])
            if kw is None:
                kw = kw_of[a[3]] = (a[4] * factor).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN)
            if caps_all:
                caps = [d for d in caps_all if d[0] < ends[h] and d[1] > starts[h]]
                if caps:
                    kw = min(kw, max(caps, key=lambda d: (d[2], d[3]))[4])
            hours[h] = kw
    return out


def portfolio_capacity_by_hour(*, premises, day: date) -> list[Decimal]:
    """Sum over the portfolio (premises: a queryset or a list) of accredited kW per local hour of ``day``."""
    per = capacity_by_premise_hour(premises=premises, day=day)
    return [sum((v[h] for v in per.values()), Decimal("0")) for h in range(24)]


def accredited_capacity_by_zone_hour(*, zone_ids: set[int], day: date) -> dict[str, list[Decimal]]:
    """Accredited kW per grid zone (code) and local hour of ``day``, for premises in the zones given."""
    premises = Premise.objects.filter(grid_zone_id__in=zone_ids)
    per = capacity_by_premise_hour(premises=premises, day=day)
    codes = dict(premises.values_list("pk", "grid_zone__code")) if per else {}
    out: dict[str, list[Decimal]] = {}
    for pid, hours in per.items():
        row = out.setdefault(codes[pid], [Decimal("0")] * 24)
        for h in range(24):
            row[h] += hours[h]
    return dict(sorted(out.items()))
