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


#: meters per status-refresh task after an import: the import's meters are refreshed in chunks the workers share
STATUS_REFRESH_CHUNK = 100


@shared_task(ignore_result=True)
def refresh_meter_statuses_for(meter_ids: list[int]) -> int:
    """Re-assess a chunk of meters' validation after new data landed (enqueued on commit of an import; set-based:
    :func:`assessment.status_services.meter_statuses_refresh_many`; safe to run again)."""
    from .status_services import meter_statuses_refresh_many

    return len(meter_statuses_refresh_many(meter_ids=meter_ids))


#: premises per window-assessment task
ASSESS_CHUNK = 100


@shared_task(ignore_result=True)
def assess_window(window_start: str, window_end: str, now: str | None = None, zone: str | None = None) -> int:
    """Before gate closure: one ``assess_premises`` task per chunk of metered premises (grouped by zone; only
    those in the zone of code ``zone`` or below it, if given) for the window (ISO 8601 times, aware); returns
    how many premises were sent."""
    from accounts.models import GridZone

    from .window_services import window_assessment_premise_ids

    ids = window_assessment_premise_ids(zone=GridZone.objects.get(code=zone) if zone else None)
    for i in range(0, len(ids), ASSESS_CHUNK):
        assess_premises.delay(ids[i : i + ASSESS_CHUNK], window_start, window_end, now)
    return len(ids)


@shared_task(ignore_result=True)
def assess_premises(premise_ids: list[int], window_start: str, window_end: str, now: str | None = None) -> int:
    """A chunk of the window assessment (safe to run again: a stored assessment is kept)."""
    from datetime import datetime

    from .window_services import flexibility_assess_premises

    return flexibility_assess_premises(
        premise_ids=premise_ids,
        window_start=datetime.fromisoformat(window_start),
        window_end=datetime.fromisoformat(window_end),
        now=datetime.fromisoformat(now) if now else None,
    )
