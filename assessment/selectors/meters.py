"""Meters and their readings as their users see them: who may read or write a meter, its readings, revisions
and consumption analysis."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Membership, Meter
from accounts.selectors import premises_visible_to, user_role
from flexplatform import plausible
from flexplatform.errors import NotFound

from ..models import Channel, MeterExportReading, MeterReading


def _plausible(readings: QuerySet[MeterReading]) -> QuerySet[MeterReading]:
    """Only readings inside the plausible date window: one stored in 0001 or 9999 (before imports refused them)
    is no data, not a reason for every page of its meter to fail."""
    low, high = plausible.datetime_bounds()
    return readings.filter(start__gte=low, start__lt=high)


plausible_readings = _plausible


def meter_readings(*, meter: Meter, start: datetime, end: datetime, channel: str = Channel.IMPORT) -> QuerySet:
    """Readings of one channel over ``[start, end)`` by start: import (``MeterReading``, what every baseline
    reads) or export (``MeterExportReading``, energy received from the customer on a net-metered meter)."""
    model = MeterExportReading if channel == Channel.EXPORT else MeterReading
    return model.objects.filter(meter=meter, start__gte=start, start__lt=end).order_by("start")


def meters_window_readings(*, windows: dict[int, tuple[int, datetime, datetime]]) -> dict[int, dict[datetime, Decimal]]:
    """:func:`meter_readings` (import) of many windows (a key -> (meter id, start, end)) as ``{start: kWh}`` per
    key, in one statement on PostgreSQL (one index range scan of (meter_id, start) per window; kWh as stored)."""
    out: dict[int, dict[datetime, Decimal]] = {key: {} for key in windows}
    if not windows:
        return out
    if connection.vendor != "postgresql":
        for key, (meter_id, start, end) in windows.items():
            out[key] = dict(
                MeterReading.objects.filter(meter_id=meter_id, start__gte=start, start__lt=end).values_list(
                    "start", "kwh"
                )
            )
        return out
    keys = list(windows)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT q.key, r.start, r.kwh"  # noqa: S608
            " FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS q(key, meter_id, lo, hi)"
            f" CROSS JOIN LATERAL (SELECT start, kwh FROM {MeterReading._meta.db_table}"
            " WHERE meter_id = q.meter_id AND start >= q.lo AND start < q.hi) AS r",
            [keys, [windows[k][0] for k in keys], [windows[k][1] for k in keys], [windows[k][2] for k in keys]],
        )
        for key, start, kwh in cursor.fetchall():
            out[key][start] = kwh
    return out


def meters_readable_by(user) -> QuerySet[Meter]:
    """Meters at the premises the user may see (owner, enrolled aggregator, operator in its zones, admin)."""
    return Meter.objects.filter(premise__in=premises_visible_to(user)).select_related("premise")


def meters_writable_by(user) -> QuerySet[Meter]:
    """Meters the user may send readings for: the premise owner, its enrolled aggregator, admins.

    Grid operators read the meters in their zones but never write them.
    """
    if user_role(user) not in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR, Membership.Role.ADMIN):
        return Meter.objects.none()
    return meters_readable_by(user)


def meter_visible(*, user, meter_id: str) -> Meter:
    """The meter if the user may read it; NotFound otherwise (another consumer's meter does not exist for you)."""
    meter = meters_readable_by(user).filter(meter_id=meter_id).first()
    if meter is None:
        raise NotFound(f"No meter {meter_id!r} among yours.")
    return meter


def meter_consumption(*, meter: Meter, start: datetime | None = None, end: datetime | None = None):
    """The consumption analysis of a meter over ``[start, end)`` (default: all its data)."""
    from ..consumption import analyse

    qs = _plausible(MeterReading.objects.filter(meter=meter))
    if start is not None:
        qs = qs.filter(start__gte=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    readings = list(qs.order_by("start").values_list("start", "kwh"))
    return analyse(readings, tz=meter.local_timezone, interval_minutes=meter.interval_minutes)


def reading_revisions(*, meter: Meter):
    from ..models import ReadingRevision

    return ReadingRevision.objects.filter(meter=meter).select_related("batch").order_by("-revised_at", "start")


def premises_daily_load(premises, days: int = 14) -> dict:
    """Daily kWh per local day for the premises' meters over the last ``days`` days of data (chart data)."""
    from collections import defaultdict

    meter_ids = [m.pk for p in premises for m in p.meters.all()]
    latest = (
        _plausible(MeterReading.objects.filter(meter_id__in=meter_ids))
        .order_by("-start")
        .values_list("start", flat=True)
        .first()
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
