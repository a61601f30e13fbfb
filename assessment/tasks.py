"""Celery adapters for assessment: recompute when meter data lands, and nightly."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def assessment_recompute_meter(meter_id: int) -> None:
    services.assessment_recompute_meter(meter_id=meter_id)


@shared_task(ignore_result=True)
def assessment_recompute_nightly() -> int:
    return services.assessment_recompute_all()


@shared_task(acks_late=True)
def refresh_meter_statuses() -> int:
    """Re-assess every meter's connectivity, data quality and validation (beat, hourly)."""
    from .services import meter_statuses_refresh

    return meter_statuses_refresh()


@shared_task(ignore_result=True)
def refresh_meter_status(meter_id: int) -> None:
    """Re-assess one meter's validation after new data landed (enqueued on commit of an import)."""
    from accounts.models import Meter

    from .services import meter_status_refresh

    meter = Meter.objects.select_related("premise").filter(pk=meter_id).first()
    if meter is not None:
        meter_status_refresh(meter=meter)
