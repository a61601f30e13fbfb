"""How completely each premise's meters reported on a day: the availability facts that contract and reservation
payments are scaled by (``settlement.services.runs``, ``settlement.services.reservations``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour

from accounts.models import Meter
from assessment.models import MeterReading

DAY = timedelta(days=1)


def _chunks(values: list, size: int = 20000):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def meter_availability(premise_ids: list[int], day: datetime) -> dict[int, tuple[int, int, set]]:
    """Per premise: (metered intervals, expected intervals, hours with every interval metered)."""
    wanted = set(premise_ids)
    minutes = {}
    for chunk in _chunks(premise_ids):
        minutes.update(Meter.objects.filter(premise_id__in=chunk).values_list("premise_id", "interval_minutes"))
    metered: dict[int, int] = defaultdict(int)
    full: dict[int, set] = defaultdict(set)
    if connection.vendor == "postgresql":
        # Set-based: one row per premise, its metered intervals and its fully metered hours.
        with connection.cursor() as cur:
            cur.execute(
                "WITH h AS (SELECT r.meter_id, date_trunc('hour', r.start) AS hr, count(*) AS n"
                " FROM assessment_meterreading r WHERE r.start >= %s AND r.start < %s GROUP BY 1, 2)"
                " SELECT m.premise_id, sum(least(h.n, 60 / m.interval_minutes)),"
                " array_agg(h.hr) FILTER (WHERE h.n >= 60 / m.interval_minutes)"
                " FROM h JOIN accounts_meter m ON m.id = h.meter_id GROUP BY m.premise_id",
                [day, day + DAY],
            )
            for pid, n, hours in cur.fetchall():
                if pid in wanted:
                    metered[pid] = int(n)
                    full[pid] = set(hours or [])
    else:
        for pid, hour, n in (
            MeterReading.objects.filter(start__gte=day, start__lt=day + DAY)
            .annotate(hour=TruncHour("start"))
            .values("meter__premise_id", "hour")
            .annotate(n=Count("id"))
            .values_list("meter__premise_id", "hour", "n")
        ):
            if pid in wanted:
                per = 60 // (minutes.get(pid) or 15)
                metered[pid] += min(n, per)
                if n >= per:
                    full[pid].add(hour)
    return {pid: (metered[pid], 24 * (60 // (minutes.get(pid) or 15)), full[pid]) for pid in premise_ids}
