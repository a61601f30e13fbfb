"""Meter validation status, refreshed for a set of meters at once (write service).

The rule is :mod:`assessment.quality` (VEE checks, connectivity, the "validated" decision); this module reads what
it needs for many meters in a fixed number of statements and writes every status with one parameterised UPDATE:

* the readings of each meter's validation window, as integers (UTC epoch seconds, kWh x 10,000: exact for the
  stored ``numeric(12, 4)``) packed by the database into one ``bytea`` per meter (:func:`readings_arrays`), which
  numpy reads without a Python object per reading;
* their earliest and latest plausible readings by one index probe each (:func:`reading_ends`);
* the revenue meters' year, summed from the readings already read plus the rest of the year (:func:`year_totals`);
* the quality checks on those arrays (:func:`.quality.assess_quality_arrays`: the same report, field for field,
  as :func:`.quality.assess_quality` on ``(datetime, Decimal)`` pairs).

The refresh an import enqueues (:func:`meter_statuses_refresh_many`) and the nightly recompute
(:mod:`assessment.recompute`) store statuses through the same reads and :func:`statuses_store`.
:func:`assessment.services.meter_status_refresh` is this for one meter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Meter
from flexplatform import plausible

from . import quality
from .models import MeterReading, MeterStatus

STATUS_FIELDS = (
    "connectivity",
    "latest_reading_start",
    "quality_score",
    "completeness",
    "clean_days",
    "issues",
    "validated",
    "validated_at",
    "reasons",
    "checked_at",
    "year_kwh",
    "year_intervals",
)
UNITS = 10_000  # kWh -> integer units of the stored numeric(12, 4)
YEAR_DAYS = 365  # the revenue meter's year (its annual-consumption estimate)
_EMPTY = np.zeros(0, dtype=np.int64)
PG_EPOCH = 946_684_800  # 2000-01-01 UTC in Unix seconds: a timestamptz is sent as microseconds since then


def status_window(meter: Meter, now: datetime) -> tuple[date, date, datetime, datetime]:
    """The meter's validation window: its first and last local day (the ``METER_VALIDATION_MIN_DAYS`` complete
    local days before ``now``) and their UTC bounds ``[start, end)``."""
    tz = meter.local_timezone
    last_day = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=settings.METER_VALIDATION_MIN_DAYS - 1)
    return first_day, last_day, quality.local_day_bounds(first_day, tz)[0], quality.local_day_bounds(last_day, tz)[1]


def readings_arrays(ranges: dict[int, list[datetime]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per meter: (UTC epoch seconds, kWh x ``UNITS``) of its readings in its range ``[lo, hi)``, in start order,
    in one statement.

    One row per meter: a scalar subquery reads the meter's range by one index range scan of ``(meter_id, start)``
    (a correlated subquery, which the planner cannot turn into a scan of the table whatever the table's size) and
    packs each reading as two big-endian ``int8`` into one ``bytea``: its start as sent in binary
    (``timestamptz_send``: microseconds since 2000-01-01 UTC) and its kWh x ``UNITS``; numpy reads it as it comes
    (issue #21: a row and three Python objects per reading cost the import's status refresh more than its quality
    checks; the binary start costs the database less than ``extract(epoch FROM start)``)."""
    if connection.vendor != "postgresql":
        return _readings_arrays_portable(ranges)
    ids = sorted(ranges)
    table = MeterReading._meta.db_table
    sql = (
        f"SELECT q.meter_id, (SELECT string_agg(timestamptz_send(r.start) || int8send((r.kwh * {UNITS})::bigint), "  # noqa: S608
        f"''::bytea) FROM {table} r WHERE r.meter_id = q.meter_id AND r.start >= q.lo AND r.start < q.hi) "
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS q(meter_id, lo, hi)"
    )
    out = dict.fromkeys(ids, (_EMPTY, _EMPTY))
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, [ranges[i][0] for i in ids], [ranges[i][1] for i in ids]])
        for meter_id, packed in cursor.fetchall():
            if not packed:
                continue
            pairs = np.frombuffer(packed, dtype=">i8").reshape(-1, 2).astype(np.int64)
            epoch, units = pairs[:, 0] // 1_000_000 + PG_EPOCH, pairs[:, 1]  # whole seconds, as floor(extract(epoch))
            if epoch.size > 1 and not (epoch[1:] > epoch[:-1]).all():  # rows came out of index order
                order = np.argsort(epoch, kind="stable")
                epoch, units = epoch[order], units[order]
            out[meter_id] = (np.ascontiguousarray(epoch), np.ascontiguousarray(units))
    return out


def reading_ends(meters: list[Meter]) -> dict[int, tuple]:
    """Per meter: (latest, earliest) start within the plausible window, and the latest start of all."""
    low, high = plausible.datetime_bounds()
    if connection.vendor != "postgresql":
        return {m.pk: _reading_ends_portable(m.pk, low, high) for m in meters}
    table = MeterReading._meta.db_table
    one = f"(SELECT r.start FROM {table} r WHERE r.meter_id = q.id"  # noqa: S608 - the table name, no input
    sql = (
        f"SELECT q.id, {one} AND r.start >= %s AND r.start < %s ORDER BY r.start DESC LIMIT 1), "  # noqa: S608
        f"{one} AND r.start >= %s AND r.start < %s ORDER BY r.start LIMIT 1), "
        f"{one} ORDER BY r.start DESC LIMIT 1) FROM unnest(%s::bigint[]) AS q(id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [low, high, low, high, [m.pk for m in meters]])
        return {row[0]: row[1:] for row in cursor.fetchall()}


def year_totals(ids: list[int], readings, ranges, now: datetime) -> dict[int, tuple[Decimal, int]]:
    """Per meter with readings in ``[now - 365 days, now)``: their kWh (``numeric``, 4 decimals) and count, as
    ``Sum("kwh"), Count("id")`` over them give. The readings already read (``readings``, the meter's range of
    ``ranges``) are summed here, exactly in integer units; only the rest of the year is read, by two index range
    probes per meter (none in a chunk whose history is shorter than its range): the year is not read twice."""
    if not ids:
        return {}
    start, end = now - timedelta(days=YEAR_DAYS), now
    first_s, end_s = math.ceil(start.timestamp()), math.floor(end.timestamp())
    inner: dict[int, tuple[int, int]] = {}  # the part summed from the arrays: whole seconds [lo, hi)
    for meter_id in ids:
        lo = max(math.ceil(ranges[meter_id][0].timestamp()), first_s)
        hi = min(math.floor(ranges[meter_id][1].timestamp()), end_s)
        inner[meter_id] = (lo, hi) if lo < hi else (first_s, first_s)
    if connection.vendor != "postgresql":
        return _year_totals_finish(ids, readings, inner, _rest_of_year_portable(ids, inner, start, end))
    table = MeterReading._meta.db_table
    sql = (
        "SELECT q.id, sum(r.kwh * %s)::bigint, count(*) "  # noqa: S608 - the table name, no input
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS q(id, lo, hi) "
        f"CROSS JOIN LATERAL (SELECT r.kwh FROM {table} r WHERE r.meter_id = q.id "
        "AND ((r.start >= %s AND r.start < q.lo) OR (r.start >= q.hi AND r.start < %s)) OFFSET 0) AS r GROUP BY q.id"
    )
    bounds = [inner[i] for i in ids]
    params = [UNITS, ids, [_utc(lo) for lo, _ in bounds], [_utc(hi) for _, hi in bounds], start, end]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        totals = {meter_id: [units, n] for meter_id, units, n in cursor.fetchall()}
    return _year_totals_finish(ids, readings, inner, totals)


def _year_totals_finish(ids, readings, inner, totals: dict[int, list[int]]) -> dict[int, tuple[Decimal, int]]:
    """Add the part of the year already read (the arrays, within each meter's ``inner`` seconds) to ``totals``."""
    for meter_id in ids:
        lo, hi = inner[meter_id]
        epoch, units = readings.get(meter_id, (_EMPTY, _EMPTY))
        within = (epoch >= lo) & (epoch < hi)
        n = int(within.sum())
        if n:
            total = totals.setdefault(meter_id, [0, 0])
            total[0] += int(units[within].sum())
            total[1] += n
    return {i: (Decimal(units).scaleb(-4), n) for i, (units, n) in totals.items() if n}


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


# -- the same reads on a database without arrays (SQLite, the embedded default: a handful of meters) -----------


def _units(kwh) -> int:
    """kWh as integer units of ``numeric(12, 4)`` (PostgreSQL's ``(kwh * 10000)::bigint``, which rounds half away
    from zero; SQLite may hand back a binary float of the stored decimal)."""
    return int((Decimal(str(kwh)) * UNITS).to_integral_value(rounding=ROUND_HALF_UP))


def _readings_arrays_portable(ranges: dict[int, list[datetime]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """:func:`readings_arrays` with one ORM read per meter: the same integers (floor of the start's seconds)."""
    out = {}
    for meter_id in sorted(ranges):
        lo, hi = ranges[meter_id][0], ranges[meter_id][1]
        rows = MeterReading.objects.filter(meter_id=meter_id, start__gte=lo, start__lt=hi).order_by("start")
        pairs = [(math.floor(start.timestamp()), _units(kwh)) for start, kwh in rows.values_list("start", "kwh")]
        epoch = np.array([p[0] for p in pairs], dtype=np.int64)
        units = np.array([p[1] for p in pairs], dtype=np.int64)
        out[meter_id] = (epoch, units)
    return out


def _reading_ends_portable(meter_id: int, low: datetime, high: datetime) -> tuple:
    mine = MeterReading.objects.filter(meter_id=meter_id)
    plausible_starts = mine.filter(start__gte=low, start__lt=high).values_list("start", flat=True)
    return (
        plausible_starts.order_by("-start").first(),
        plausible_starts.order_by("start").first(),
        mine.order_by("-start").values_list("start", flat=True).first(),
    )


def _rest_of_year_portable(ids, inner, start: datetime, end: datetime) -> dict[int, list[int]]:
    """The year outside each meter's ``inner`` seconds, summed exactly in integer units (one read per meter)."""
    totals: dict[int, list[int]] = {}
    for meter_id in ids:
        lo, hi = _utc(inner[meter_id][0]), _utc(inner[meter_id][1])
        rest = MeterReading.objects.filter(meter_id=meter_id).filter(
            Q(start__gte=start, start__lt=lo) | Q(start__gte=hi, start__lt=end)
        )
        kwhs = list(rest.values_list("kwh", flat=True))
        if kwhs:
            totals[meter_id] = [sum(_units(k) for k in kwhs), len(kwhs)]
    return totals


def statuses_save(statuses: list[MeterStatus]) -> None:
    """Write the refreshed fields of every status: one parameterised UPDATE sent for all rows (``executemany``)."""
    fields = [MeterStatus._meta.get_field(name) for name in STATUS_FIELDS]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(MeterStatus._meta.db_table)} SET "  # noqa: S608 - our table and columns
        + ", ".join(f"{quote(f.column)} = %s" for f in fields)
        + " WHERE id = %s"
    )
    params = [[f.get_db_prep_save(getattr(s, f.attname), connection) for f in fields] + [s.pk] for s in statuses]
    with connection.cursor() as cur:
        cur.executemany(sql, params)


@transaction.atomic
def meter_statuses_refresh_many(*, meter_ids: Iterable[int], now: datetime | None = None) -> list[MeterStatus]:
    """Re-assess these meters' connectivity, data quality and validation over the last
    ``METER_VALIDATION_MIN_DAYS`` complete local days of each, and store it on their
    :class:`~assessment.models.MeterStatus` (created if missing); returns the statuses in meter id order.
    Safe to run again: the same data and ``now`` give the same statuses. Unknown meter ids are skipped."""
    now = now or timezone.now()
    meters = list(Meter.objects.select_related("premise").filter(pk__in=set(meter_ids)).order_by("pk"))
    if not meters:
        return []
    statuses = statuses_lock([m.pk for m in meters])  # before the reads: a refresh waiting here reads what came
    windows = {m.pk: status_window(m, now) for m in meters}
    ranges = {pk: [w[2], w[3]] for pk, w in windows.items()}
    readings = readings_arrays(ranges)
    statuses_store(
        meters, statuses, readings=readings, ranges=ranges, windows=windows, ends=reading_ends(meters), now=now
    )
    return [statuses[m.pk] for m in meters]


def statuses_lock(ids: list[int]) -> dict[int, MeterStatus]:
    """The statuses of these meters (created if missing), locked for update in pk order, by meter id."""
    MeterStatus.objects.bulk_create([MeterStatus(meter_id=i) for i in ids], ignore_conflicts=True)
    return {s.meter_id: s for s in MeterStatus.objects.select_for_update().filter(meter_id__in=ids).order_by("pk")}


def statuses_store(
    meters: list[Meter], statuses: dict[int, MeterStatus], *, readings, ranges, windows, ends, now
) -> None:
    """Assess ``meters`` and write their ``statuses`` (:func:`statuses_lock`, in the caller's transaction) from
    their ``readings`` (:func:`readings_arrays` over ``ranges``, which cover each meter's ``windows`` entry,
    :func:`status_window`) and ``ends`` (:func:`reading_ends`)."""
    year = year_totals([m.pk for m in meters if m.kind == "ami"], readings, ranges, now)
    for m in meters:
        status, (first_day, last_day, _, _) = statuses[m.pk], windows[m.pk]
        tz = m.local_timezone
        epoch, units = readings.get(m.pk, (_EMPTY, _EMPTY))
        report = quality.assess_quality_arrays(
            epoch, units, first_day=first_day, last_day=last_day, tz=tz, interval_minutes=m.interval_minutes
        )
        latest, earliest, _ = ends[m.pk]
        status_apply(
            status, meter=m, report=report, earliest=earliest, latest=latest, first_day=first_day,
            last_day=last_day, tz=tz, now=now, year=year.get(m.pk, (None, 0)),
        )  # fmt: skip
    statuses_save([statuses[m.pk] for m in meters])


def status_apply(status, *, meter, report, earliest, latest, first_day, last_day, tz: str, now, year) -> None:
    """Write one meter's status from its quality ``report`` over ``first_day``..``last_day`` and its earliest and
    latest reading starts: connectivity, the validation decision (``quality.validation_decision``), the quality
    figures and, for a revenue (AMI) meter, its year's ``(kWh, intervals)``. Not saved: the callers bulk-write a
    chunk's statuses (this module's refresh, the nightly recompute)."""
    min_days = settings.METER_VALIDATION_MIN_DAYS
    history_days = 0
    if earliest is not None:
        first_local = max(earliest.astimezone(ZoneInfo(tz)).date(), first_day)
        history_days = max((last_day - first_local).days + 1, 0)
    link = quality.connectivity(latest_start=latest, interval_minutes=meter.interval_minutes, now=now)
    decision = quality.validation_decision(
        ownership_verified=status.ownership_verified_at is not None,
        history_days=history_days,
        report=report,
        link=link,
        min_days=min_days,
        min_completeness=settings.METER_VALIDATION_MIN_COMPLETENESS,
    )
    status.connectivity = link
    status.latest_reading_start = latest
    status.quality_score = report.score
    status.completeness = Decimal(str(round(report.completeness, 4)))
    status.clean_days = report.clean_days
    status.issues = {**report.issues(), "clean_share": round(report.clean_share, 4), "days": min_days}
    if decision.validated and not status.validated:
        status.validated_at = now
    status.validated = decision.validated
    status.reasons = list(decision.reasons)
    status.checked_at = now
    if meter.kind == "ami":
        kwh, n = year
        status.year_kwh, status.year_intervals = (kwh, n) if n else (None, 0)
