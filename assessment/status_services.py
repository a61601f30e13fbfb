"""Meter validation status, refreshed for a set of meters at once (write service).

The rule is :mod:`assessment.quality` (VEE checks, connectivity, the "validated" decision); this module reads what
it needs for many meters in a fixed number of statements (their readings over the validation window in one
ordered pass, their earliest and latest plausible readings by one index probe each, the revenue meters' year in
one grouped sum) and writes every status with one parameterised UPDATE. :func:`assessment.services.meter_status_refresh`
is this for one meter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
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


def _windows(meters: list[Meter], now: datetime, min_days: int) -> dict[int, tuple]:
    """Per meter: (timezone, first local day, last local day, window start, window end) of the validation window."""
    out = {}
    for meter in meters:
        tz = meter.local_timezone
        last_day = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
        first_day = last_day - timedelta(days=min_days - 1)
        start, _ = quality.local_day_bounds(first_day, tz)
        _, end = quality.local_day_bounds(last_day, tz)
        out[meter.pk] = (tz, first_day, last_day, start, end)
    return out


def _window_readings(windows: dict[int, tuple]) -> dict[int, list[tuple[datetime, Decimal]]]:
    """Every meter's readings in its own validation window, read in one pass ordered like the (meter, start)
    index. The starts come as epoch seconds and are turned into datetimes once per distinct instant (the meters
    share one grid of interval starts), not once per row."""
    low = min(w[3] for w in windows.values())
    high = max(w[4] for w in windows.values())
    table = MeterReading._meta.db_table
    out: dict[int, list[tuple[datetime, Decimal]]] = {pk: [] for pk in windows}
    instants: dict[int, datetime] = {}
    ids = sorted(windows)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT meter_id, extract(epoch FROM start)::bigint, kwh FROM {table} "  # noqa: S608 - our table
            f"WHERE meter_id IN ({', '.join(['%s'] * len(ids))}) AND start >= %s AND start < %s "
            "ORDER BY meter_id, start",
            [*ids, low, high],
        )
        rows = cur.fetchall()
    for meter_id, group in groupby(rows, key=lambda r: r[0]):
        _, _, _, start, end = windows[meter_id]
        lo, hi = int(start.timestamp()), int(end.timestamp())
        series = out[meter_id]
        for _, epoch, kwh in group:
            if lo <= epoch < hi:
                at = instants.get(epoch)
                if at is None:
                    at = instants[epoch] = datetime.fromtimestamp(epoch, tz=UTC)
                series.append((at, kwh if isinstance(kwh, Decimal) else Decimal(str(kwh))))
    return out


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
    min_days = settings.METER_VALIDATION_MIN_DAYS
    meters = list(Meter.objects.select_related("premise").filter(pk__in=set(meter_ids)).order_by("pk"))
    if not meters:
        return []
    ids = [m.pk for m in meters]
    MeterStatus.objects.bulk_create([MeterStatus(meter_id=pk) for pk in ids], ignore_conflicts=True)
    statuses = {s.meter_id: s for s in MeterStatus.objects.select_for_update().filter(meter_id__in=ids).order_by("pk")}
    windows = _windows(meters, now, min_days)
    readings = _window_readings(windows)
    # Readings outside the plausible date window (stored before imports refused them) count as no data.
    low, high = plausible.datetime_bounds()
    plausible_readings = MeterReading.objects.filter(meter_id=OuterRef("pk"), start__gte=low, start__lt=high)
    bounds = {
        pk: (earliest, latest)
        for pk, earliest, latest in Meter.objects.filter(pk__in=ids)
        .annotate(
            earliest=Subquery(plausible_readings.order_by("start").values("start")[:1]),
            latest=Subquery(plausible_readings.order_by("-start").values("start")[:1]),
        )
        .values_list("pk", "earliest", "latest")
    }
    ami = [m.pk for m in meters if m.kind == "ami"]  # the revenue meters' year (annual-consumption estimate)
    years = {
        row["meter_id"]: (row["kwh"], row["n"])
        for row in MeterReading.objects.filter(meter_id__in=ami, start__gte=now - timedelta(days=365), start__lt=now)
        .values("meter_id")
        .annotate(kwh=Sum("kwh"), n=Count("id"))
        .order_by()
    }
    for meter in meters:
        status = statuses[meter.pk]
        tz, first_day, last_day, _, _ = windows[meter.pk]
        report = quality.assess_quality(
            readings[meter.pk], first_day=first_day, last_day=last_day, tz=tz, interval_minutes=meter.interval_minutes
        )
        earliest, latest = bounds[meter.pk]
        status_apply(
            status, meter=meter, report=report, earliest=earliest, latest=latest, first_day=first_day,
            last_day=last_day, tz=tz, now=now, year=years.get(meter.pk, (None, 0)),
        )  # fmt: skip
    statuses_save(list(statuses.values()))
    return [statuses[pk] for pk in ids]


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
