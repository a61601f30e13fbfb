"""Accredited capacity per hour for many premises at once: a portfolio's, a zone's.

The rule is :func:`assessment.selectors.capacity.accredited_capacity_from` for each local hour of the day (the
latest stored assessment covering the hour × reliability × derate, 0 while suspended or without a validated
revenue meter, capped by the latest availability declaration overlapping the hour), read set-based: a constant
number of queries whatever the number of premises (the stored assessments with their premise's timezone and
meter validation, the enrollments' derate and suspension, the latest verified deliveries, the declarations: one
query each), then one pass over the rows into a premises × 24 array of integer milli-kW (the quantum of
accredited kW and of the stored kW fields, so the figures are exact), summed by numpy. The reliability factors
are computed for all premises at once (``assessment.flexibility.reliability_factors``). Where the assessed kW
comes from (a share of the baseline today, registered devices later) is the assessment's business; this reads
the stored rows."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BigIntegerField, BooleanField, ExpressionWrapper, Func, Q, QuerySet, Value
from django.utils.functional import cached_property

from accounts.models import Premise

from .. import hooks
from ..flexibility import reliability_factors
from ..models import AvailabilityDeclaration, FlexibilityAssessment
from .metering import validated_meter_premise_ids
from .performance import PERFORMANCE_EVENTS

ACCREDITED_QUANT = Decimal("0.001")
RELIABILITY_QUANT = Decimal("0.0001")
NO_CAP = np.iinfo(np.int64).max


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _EpochMicroseconds(Func):
    """A datetime column as integer microseconds since the Unix epoch: compared with the hours' bounds as
    integers, exactly, without building a Python datetime per row (the cost of reading many rows)."""

    output_field = BigIntegerField()

    @cached_property
    def convert_value(self):
        return self._convert_value_noop  # integers from both backends already: no int() per row

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint")

    def as_sqlite(self, compiler, connection, **extra):
        # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: the whole seconds, then the microseconds if any
        template = (
            "(CAST(strftime('%%%%s', %(expressions)s) AS INTEGER) * 1000000"
            " + CAST(substr(%(expressions)s || '.000000', 21, 6) AS INTEGER))"
        )
        return self.as_sql(compiler, connection, template=template)


def _micros(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _hour_bounds(day: date, tz: str) -> tuple[list[int], list[int]]:
    """The starts and ends of the 24 local hours of ``day``, in microseconds since the epoch."""
    zone = ZoneInfo(tz)
    starts = [_micros(datetime(day.year, day.month, day.day, h, tzinfo=zone).astimezone(UTC)) for h in range(24)]
    return starts, [s + 3_600_000_000 for s in starts]


def _milli(kw: Decimal) -> int:
    return int(kw.scaleb(3))


@dataclass(frozen=True)
class CapacityGrid:
    """Accredited capacity of the premises that have an assessment covering part of a day: ``milli_kw[i, h]`` is
    premise ``premise_ids[i]``'s kW × 1000 in local hour ``h``; ``covered[i, h]`` whether an assessment covers
    the hour and counts (the premise neither suspended nor without a validated meter)."""

    premise_ids: list[int]
    milli_kw: np.ndarray
    covered: np.ndarray

    @staticmethod
    def _decimals(milli: np.ndarray, covered: np.ndarray) -> list[Decimal]:
        # An hour nothing covers reads 0 (as the rule's "no assessment"); a covered one the quantized kW.
        return [
            Decimal(m).scaleb(-3) if c else Decimal("0") for m, c in zip(milli.tolist(), covered.tolist(), strict=True)
        ]

    def by_premise(self) -> dict[int, list[Decimal]]:
        return {pid: self._decimals(self.milli_kw[i], self.covered[i]) for i, pid in enumerate(self.premise_ids)}

    def total(self, rows=None) -> list[Decimal]:
        """The sum per hour over all premises (or the ``rows`` given: an index array)."""
        milli, covered = (self.milli_kw, self.covered) if rows is None else (self.milli_kw[rows], self.covered[rows])
        if not len(milli):
            return [Decimal("0")] * 24
        return self._decimals(milli.sum(axis=0), covered.any(axis=0))


def capacity_grid(*, premises, day: date) -> CapacityGrid:
    """The :class:`CapacityGrid` of ``premises`` (a queryset or a list) for local ``day``, in four queries: the
    assessments (with the premise's timezone and whether its revenue meter is validated), the enrollments'
    derate and suspension, the latest verified deliveries and the declarations."""
    ids = _ids(premises)
    if not isinstance(ids, QuerySet) and not ids:
        return CapacityGrid([], np.zeros((0, 24), np.int64), np.zeros((0, 24), bool))
    bounds: dict[str, tuple[list[int], list[int]]] = {}
    # The day's hours lie within a day and a half of UTC midnight in every timezone.
    lo = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=15)
    hi = lo + timedelta(hours=54)
    rows = list(
        FlexibilityAssessment.objects.filter(premise_id__in=ids, window_start__lt=hi, window_end__gt=lo)
        .order_by("assessed_at", "pk")  # painted in this order: the latest assessment of an hour wins
        .values_list(
            "premise_id",
            "premise__timezone",
            _EpochMicroseconds("window_start"),
            _EpochMicroseconds("window_end"),
            "capacity_kw",
            # IN, not a correlated EXISTS: the database hashes the validated premises once, not a probe per row
            ExpressionWrapper(Q(premise_id__in=validated_meter_premise_ids()), output_field=BooleanField()),
        )
    )
    index: dict[int, int] = {}
    tz_of: dict[int, str] = {}
    validated: set[int] = set()
    kept = []
    for pid, tz, start, end, capacity, ok in rows:
        if tz not in bounds:
            bounds[tz] = _hour_bounds(day, tz)
        starts, ends = bounds[tz]
        if not (start < ends[-1] and end > starts[0]):  # outside the premise's local day
            continue
        kept.append((pid, tz, start, end, capacity))
        if ok:
            validated.add(pid)
        if pid not in index:
            index[pid] = len(index)
            tz_of[pid] = tz
    n = len(index)
    milli = np.zeros((n, 24), np.int64)
    covered = np.zeros((n, 24), bool)
    grid = CapacityGrid(list(index), milli, covered)
    if not n:
        return grid
    factors = _counted_factors(ids, index, validated)
    kw_of: dict[tuple[Decimal, Decimal], int] = {}
    for pid, tz, start, end, capacity in kept:
        factor = factors.get(pid)
        if factor is None:  # suspended or without a validated meter: 0 kW
            continue
        starts, ends = bounds[tz]
        first, last = bisect_left(starts, start), bisect_right(ends, end)
        if first >= last:
            continue
        kw = kw_of.get((capacity, factor))
        if kw is None:
            kw = kw_of[(capacity, factor)] = _milli((capacity * factor).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN))
        i = index[pid]
        milli[i, first:last] = kw
        covered[i, first:last] = True
    caps = np.full((n, 24), NO_CAP, np.int64)
    for pid, valid_from, valid_until, available in (
        AvailabilityDeclaration.objects.filter(premise_id__in=ids, valid_from__lt=hi, valid_until__gt=lo)
        .order_by("created_at", "pk")  # the latest declaration of an hour wins
        .values_list("premise_id", _EpochMicroseconds("valid_from"), _EpochMicroseconds("valid_until"), "available_kw")
    ):
        if pid not in factors:
            continue
        starts, ends = bounds[tz_of[pid]]
        first, last = bisect_right(ends, valid_from), bisect_left(starts, valid_until)
        if first < last:
            caps[index[pid], first:last] = _milli(available)
    np.minimum(milli, caps, out=milli)
    return grid


def _counted_factors(ids, candidates, validated: set[int] | None = None) -> dict[int, Decimal]:
    """Per premise of ``candidates`` that counts (a validated revenue meter, not suspended): its reliability (from
    its latest verified deliveries, as ``reliability_factor_for``) × derate. Three queries over ``ids`` (a
    subquery or a list, the premises asked about); two when the caller read ``validated`` (the premises among
    ``candidates`` with a validated revenue meter) already."""
    if validated is None:
        validated = set(
            validated_meter_premise_ids().filter(meter__premise_id__in=ids).values_list("meter__premise_id", flat=True)
        )
    activation = hooks.activation()
    derates = activation.factors_many(ids)
    counted = [pid for pid in candidates if pid in validated and not derates.get(pid, (None, False))[1]]
    if not counted:
        return {}
    deliveries = activation.deliveries_many(ids, limit=PERFORMANCE_EVENTS)
    histories = [[(float(d), float(c)) for d, c in deliveries.get(pid, ())] for pid in counted]
    out = {}
    quantized: dict[float, Decimal] = {}  # a factor's Decimal once per distinct float (1.0: every new premise)
    for pid, reliability in zip(counted, reliability_factors(histories), strict=True):
        r = quantized.get(reliability)
        if r is None:
            r = quantized[reliability] = Decimal(repr(reliability)).quantize(RELIABILITY_QUANT, rounding=ROUND_DOWN)
        out[pid] = r * derates.get(pid, (Decimal("1"), False))[0]
    return out


def _ids(premises):
    """A filter value for ``premise_id__in``: a subquery for a queryset, else the list of ids."""
    if isinstance(premises, QuerySet):
        return premises.order_by().values("pk")
    return [getattr(p, "pk", p) for p in premises]


def _accredited_in_windows(ids, windows: dict[int, tuple[int, int]]) -> dict[int, Decimal | None]:
    """The single-window rule (``accredited_capacity_from``) for each premise's own window (epoch microseconds),
    in five queries whatever the number of premises."""
    if not windows:
        return {}
    lo = EPOCH + timedelta(microseconds=min(s for s, _ in windows.values()))
    hi = EPOCH + timedelta(microseconds=max(e for _, e in windows.values()))
    latest: dict[int, Decimal] = {}  # per premise: the capacity of the latest assessment covering its window
    for pid, start, end, capacity in (
        FlexibilityAssessment.objects.filter(premise_id__in=ids, window_start__lt=hi, window_end__gt=lo)
        .order_by("assessed_at", "pk")
        .values_list("premise_id", _EpochMicroseconds("window_start"), _EpochMicroseconds("window_end"), "capacity_kw")
    ):
        window = windows.get(pid)
        if window is not None and start <= window[0] and end >= window[1]:
            latest[pid] = capacity
    out: dict[int, Decimal | None] = dict.fromkeys(windows)
    if not latest:
        return out
    factors = _counted_factors(ids, latest)
    for pid, capacity in latest.items():
        factor = factors.get(pid)
        out[pid] = (
            Decimal("0") if factor is None else (capacity * factor).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN)
        )
    caps: dict[int, Decimal] = {}
    for pid, valid_from, valid_until, available in (
        AvailabilityDeclaration.objects.filter(premise_id__in=ids, valid_from__lt=hi, valid_until__gt=lo)
        .order_by("created_at", "pk")  # the latest declaration overlapping the window wins
        .values_list("premise_id", _EpochMicroseconds("valid_from"), _EpochMicroseconds("valid_until"), "available_kw")
    ):
        window = windows.get(pid)
        if pid in factors and valid_from < window[1] and valid_until > window[0]:
            caps[pid] = available
    for pid, cap in caps.items():
        out[pid] = min(out[pid], cap)
    return out


def accredited_capacity_over(*, premises, start: datetime, end: datetime) -> dict[int, Decimal | None]:
    """``accredited_capacity_kw`` over ``[start, end)`` for each of ``premises`` (a queryset or a list; None for
    a premise no assessment covers the window), in six queries whatever their number."""
    ids = _ids(premises)
    pks = list(ids.values_list("pk", flat=True)) if isinstance(ids, QuerySet) else ids
    window = (_micros(start), _micros(end))
    return _accredited_in_windows(ids, dict.fromkeys(pks, window))


#: Which assessment is a premise's "next assessed window" (``accredited_capacity_latest_kw``): one not ended
#: before those ended, the earliest of those, else the latest ended; then the latest assessed, the latest row.
_NEXT_WINDOW_ORDER = (
    "CASE WHEN a.window_end > %s THEN 0 ELSE 1 END,"
    " CASE WHEN a.window_end > %s THEN a.window_start END,"
    " CASE WHEN a.window_end <= %s THEN a.window_end END DESC,"
    " a.assessed_at DESC, a.id DESC"
)


def _first_per(partition: str, columns: str, source: str, order: str, *, distinct_on: bool) -> str:
    """``SELECT columns FROM source`` keeping the first row per ``partition`` in ``order``: PostgreSQL's
    ``DISTINCT ON`` (one sort, no window), or the portable ``ROW_NUMBER() … = 1`` (SQLite). Same rows."""
    if distinct_on:
        return f"SELECT DISTINCT ON ({partition}) {columns} FROM {source} ORDER BY {partition}, {order}"  # noqa: S608
    return (
        f"SELECT * FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order}) AS rn"  # noqa: S608
        f" FROM {source}) ranked WHERE rn = 1"
    )


def _latest_window_sql(premises, now: datetime, *, distinct_on: bool) -> tuple[str, list]:
    """One statement and its parameters, the premises' set read once: per premise (``premises``: a queryset of
    ids and zones), its zone, the capacity of the latest assessment covering its next assessed window, whether
    its revenue meter is validated and the latest availability declaration overlapping that window
    (``accredited_capacity_from`` reads these for the window). Table names and Django-compiled SQL only in the
    text; every value is a parameter."""
    fa = FlexibilityAssessment._meta.db_table
    decl = AvailabilityDeclaration._meta.db_table
    premises_sql, premises_params = _sql(premises)
    validated_sql, validated_params = _sql(validated_meter_premise_ids())
    at = connection.ops.adapt_datetimefield_value(now)
    window = _first_per(
        "a.premise_id",
        "a.premise_id, a.window_start AS ws, a.window_end AS we",
        f"{fa} a INNER JOIN p ON p.id = a.premise_id",
        _NEXT_WINDOW_ORDER,
        distinct_on=distinct_on,
    )
    covering = _first_per(
        "w.premise_id",
        "w.premise_id, w.ws, w.we, a.capacity_kw",
        f"win w INNER JOIN {fa} a ON a.premise_id = w.premise_id AND a.window_start <= w.ws AND a.window_end >= w.we",
        "a.assessed_at DESC, a.id DESC",
        distinct_on=distinct_on,
    )
    materialized = "MATERIALIZED " if distinct_on else ""
    sql = (
        f"WITH p (id, zone_id) AS {materialized}({premises_sql}), win AS ({window}), cov AS ({covering})"  # noqa: S608
        " SELECT p.id, p.zone_id, cov.capacity_kw,"
        f" CASE WHEN cov.premise_id IS NOT NULL AND p.id IN ({validated_sql}) THEN 1 ELSE 0 END,"
        f" (SELECT d.available_kw FROM {decl} d WHERE d.premise_id = p.id AND d.valid_from < cov.we"
        "   AND d.valid_until > cov.ws ORDER BY d.created_at DESC, d.id DESC LIMIT 1)"
        " FROM p LEFT JOIN cov ON cov.premise_id = p.id ORDER BY p.id"
    )
    return sql, [*premises_params, at, at, at, *validated_params]


def _sql(queryset) -> tuple[str, tuple]:
    return queryset.query.get_compiler(connection=connection).as_sql()


def accredited_capacity_latest_with_zone(
    *, premises: QuerySet, now: datetime, distinct_on: bool | None = None
) -> dict[int, tuple[int | None, Decimal | None]]:
    """Every premise of ``premises`` (a queryset) with its grid zone id and ``accredited_capacity_latest_kw``
    (None without an assessment): the FERC Order 2222 portfolio sums' inputs (``market.services.gates``).

    Set-based in the database: one statement picks each premise's next assessed window, the latest assessment
    covering it (PostgreSQL ``DISTINCT ON``; ``ROW_NUMBER`` elsewhere, or when ``distinct_on=False``), whether
    its revenue meter is validated and the latest declaration overlapping the window, reading the premises'
    set once; two more read the derates and the deliveries of the premises that count, whose reliability
    factors are computed as ``reliability_factor_for`` computes them (the same floats, then quantized), so the
    figures are the single-window rule's (``accredited_capacity_from``) to the milli-kW. Three queries
    whatever the number of premises."""
    if distinct_on is None:
        distinct_on = connection.vendor == "postgresql"
    try:
        sql, params = _latest_window_sql(premises.order_by().values("pk", "grid_zone_id"), now, distinct_on=distinct_on)
    except EmptyResultSet:  # a filter that selects nothing (no ids)
        return {}
    kw_field = FlexibilityAssessment._meta.get_field("capacity_kw")
    decimal = _decimal_converter(kw_field)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [(pid, zone, decimal(kw), bool(ok), decimal(cap)) for pid, zone, kw, ok, cap in cursor.fetchall()]
    candidates = {pid: None for pid, _, kw, _, _ in rows if kw is not None}
    validated = {pid for pid, _, kw, ok, _ in rows if kw is not None and ok}
    factors = _counted_factors(_ids(premises), candidates, validated) if validated else {}
    out: dict[int, tuple[int | None, Decimal | None]] = {}
    for pid, zone, capacity, _, cap in rows:
        if capacity is None:
            out[pid] = (zone, None)
            continue
        factor = factors.get(pid)
        if factor is None:  # suspended or without a validated meter: 0 kW
            out[pid] = (zone, Decimal("0"))
            continue
        kw = (capacity * factor).quantize(ACCREDITED_QUANT, rounding=ROUND_DOWN)
        out[pid] = (zone, kw if cap is None else min(kw, cap))
    return out


def _decimal_converter(field):
    """The backend's conversion of a stored ``field`` value to a Decimal (SQLite hands back floats)."""
    expression = Value(None, output_field=field)
    converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)

    def convert(value):
        if value is None or isinstance(value, Decimal):
            return value
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return convert


def accredited_capacity_latest_many(*, premises, now: datetime) -> dict[int, Decimal]:
    """``accredited_capacity_latest_kw`` for each of ``premises`` (a queryset or a list) that has an assessment:
    the accredited capacity of its next assessed window (the earliest that has not ended; else its latest), in
    three queries whatever their number (:func:`accredited_capacity_latest_with_zone`). Premises without an
    assessment are absent (0 kW)."""
    if not isinstance(premises, QuerySet):
        premises = Premise.objects.filter(pk__in=[getattr(p, "pk", p) for p in premises])
    latest = accredited_capacity_latest_with_zone(premises=premises, now=now)
    return {pid: kw for pid, (_, kw) in latest.items() if kw is not None}


def capacity_by_premise_hour(*, premises, day: date) -> dict[int, list[Decimal]]:
    """Accredited kW per local hour of ``day`` (24 values) for each premise that has any; premises without an
    assessment covering the day are absent (0 kW every hour)."""
    return capacity_grid(premises=premises, day=day).by_premise()


def portfolio_capacity_by_hour(*, premises, day: date) -> list[Decimal]:
    """Sum over the portfolio (premises: a queryset or a list) of accredited kW per local hour of ``day``."""
    return capacity_grid(premises=premises, day=day).total()


def accredited_capacity_by_zone_hour(*, zone_ids: set[int], day: date) -> dict[str, list[Decimal]]:
    """Accredited kW per grid zone (code) and local hour of ``day``, for premises in the zones given."""
    premises = Premise.objects.filter(grid_zone_id__in=zone_ids)
    grid = capacity_grid(premises=premises, day=day)
    if not grid.premise_ids:
        return {}
    codes = dict(premises.filter(pk__in=grid.premise_ids).values_list("pk", "grid_zone__code"))
    rows_by_code: dict[str, list[int]] = {}
    for i, pid in enumerate(grid.premise_ids):
        rows_by_code.setdefault(codes[pid], []).append(i)
    return {code: grid.total(np.asarray(rows)) for code, rows in sorted(rows_by_code.items())}
