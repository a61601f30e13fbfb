"""Celery adapters for assessment."""

from celery import shared_task


@shared_task(acks_late=True)
def refresh_meter_statuses() -> int:
    """Re-assess every meter's connectivity, data quality and validation (beat, hourly)."""
    from .services import meter_statuses_refresh

    return meter_statuses_refresh()
