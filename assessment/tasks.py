"""Celery adapters for assessment: recompute when meter data lands, and nightly."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def assessment_recompute_meter(meter_id: int) -> None:
    services.assessment_recompute_meter(meter_id=meter_id)


#: meters per recompute task: the nightly sweep sends its meters in chunks that the workers share
RECOMPUTE_CHUNK = 100


@shared_task(ignore_result=True)
def assessment_recompute_nightly() -> int:
    """Nightly (beat): one ``assessment_recompute_meters`` task per chunk of meters with data; returns how many."""
    ids = services.meters_with_data_ids()
    for i in range(0, len(ids), RECOMPUTE_CHUNK):
        assessment_recompute_meters.delay(ids[i : i + RECOMPUTE_CHUNK])
    return len(ids)


@shared_task(ignore_result=True)
def assessment_recompute_meters(meter_ids: list[int]) -> int:
    return services.assessment_recompute_meters(meter_ids=meter_ids)


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
