"""A meter's stored readings by channel (read model): import (``MeterReading``, what every baseline reads) or
export (``MeterExportReading``, energy received from the customer on a net-metered meter)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from accounts.models import Meter

from .models import Channel, MeterExportReading, MeterReading


def meter_channel_readings(*, meter: Meter, channel: str, start: datetime, end: datetime) -> QuerySet:
    """Readings of one channel over ``[start, end)``, by start."""
    model = MeterExportReading if channel == Channel.EXPORT else MeterReading
    return model.objects.filter(meter=meter, start__gte=start, start__lt=end).order_by("start")
