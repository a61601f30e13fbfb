"""The window assessment of a chunk, set-based (``assessment.window_services.flexibility_assess_premises``), stores
exactly the baselines, baseline intervals and assessments that ``services.flexibility_assess`` stores premise by
premise (issue #21), in a fixed number of statements; a chunk run again writes nothing; a chunk that meets rows
another run stored meanwhile is rolled back and run once more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import demo
from accounts.models import Device, Meter, Premise
from activation.models import DeviceDispatch, DREvent
from assessment import hooks, services, window_services
from assessment.models import AvailabilityDeclaration, Baseline, BaselineInterval, FlexibilityAssessment, MeterReading
from assessment.models_estimates import CapacityEstimate
from demo.world import TZ
from flexplatform.errors import ApplicationError

pytestmark = pytest.mark.django_db


def _local(d, h, tz=TZ):
    return datetime(d.year, d.month, d.day, h, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@pytest.fixture
def varied(small_world):
    """The small world made uneven: a week of readings missing, a peak window missing, event days (one cancelled)
    with device dispatches, a premise in another time zone (other slots) and one in a zone where the window spans
    two local days (refused), a business without devices selling on a labelled estimate, a battery's declared
    state of charge, a second meter (the revenue meter is the first), a baseline already stored for the window
    (reused) and an assessment already stored (kept), and a premise without a meter (refused)."""
    premises = small_world.premises
    day = small_world.day
    start, end = demo.event_window(day)
    meters = [p.meters.order_by("id").first() for p in premises]
    MeterReading.objects.filter(
        meter=meters[0], start__gte=_local(day - timedelta(days=12), 0), start__lt=_local(day - timedelta(days=5), 0)
    ).delete()
    MeterReading.objects.filter(
        meter=meters[3], start__gte=_local(day - timedelta(days=3), 16), start__lt=_local(day - timedelta(days=3), 18)
    ).delete()
    for n, status in enumerate([DREvent.Status.COMPLETED, DREvent.Status.CANCELLED, DREvent.Status.COMPLETED]):
        event = DREvent.objects.create(
            premise=premises[2], zone=premises[2].grid_zone, target_kw=Decimal("1"),
            start=_local(day - timedelta(days=6 + 2 * n), 17), end=_local(day - timedelta(days=6 + 2 * n), 19),
            status=status, source=DREvent.Source.OPERATOR,
        )  # fmt: skip
        for device in Device.objects.filter(premise=premises[2]):
            DeviceDispatch.objects.create(
                event=event, device=device, premise=premises[2], channel=device.control_channel, kind=device.kind,
                command="shed", value=Decimal("1"), shed_kw=Decimal("1"), local_day=event.start.date(),
                created_at=event.start,
            )  # fmt: skip
    Premise.objects.filter(pk=premises[1].pk).update(timezone="America/Chicago")
    Premise.objects.filter(pk=premises[5].pk).update(timezone="Europe/Berlin")
    Device.objects.filter(premise=premises[4]).delete()
    CapacityEstimate.objects.create(
        premise=premises[4], label="Chillers", kw=Decimal("7.5"), basis="Two chillers cycled", created_at=start,
        verified_peak_kw=Decimal("40"),
    )  # fmt: skip
    battery = Device.objects.filter(kind="battery").order_by("pk").first()
    if battery is not None:
        for soc in ("35", "80"):  # the latest declaration counts
            AvailabilityDeclaration.objects.create(
                premise_id=battery.premise_id, declared_by=premises[0].organisation, available_kw=Decimal("50"),
                soc_percent=Decimal(soc), valid_from=start - timedelta(hours=1), valid_until=end, created_at=start,
            )  # fmt: skip
    Meter.objects.create(premise=premises[3], meter_id="SECOND-1", interval_minutes=60)
    reused = services.baseline_compute(
        meter=meters[3], window_start=start, window_end=end, method="caiso-10in10-unadjusted", now=start
    )
    Baseline.objects.filter(pk=reused.pk).update(total_kwh=Decimal("12.3456"))  # reused as stored, not recomputed
    services.flexibility_assess(premise=premises[0], window_start=start, window_end=end, now=start)
    bare = Premise.objects.create(
        organisation=premises[0].organisation, name="No meter", segment="residential",
        grid_zone=premises[0].grid_zone, timezone=TZ,
    )  # fmt: skip
    small_world.ids = sorted([p.pk for p in premises] + [bare.pk])
    small_world.window = (start, end)
    return small_world


def _snapshot(start, end):
    assessments = FlexibilityAssessment.objects.filter(window_start=start, window_end=end)
    return {
        "assessments": sorted(
            assessments.values_list(
                "premise_id",
                "baseline__meter_id",
                "baseline__method",
                "baseline_kw",
                "capacity_kw",
                "method",
                "breakdown",
                "assessed_at",
            )
        ),  # fmt: skip
        "baselines": sorted(
            Baseline.objects.filter(window_start=start, window_end=end).values_list(
                "meter_id", "method", "parameters", "days_used", "choice", "total_kwh", "computed_at"
            )
        ),
        "intervals": sorted(
            BaselineInterval.objects.filter(baseline__window_start=start, baseline__window_end=end).values_list(
                "baseline__meter_id", "start", "kwh"
            )
        ),
    }


def _one_by_one(ids, start, end, now):
    done = 0
    for premise in Premise.objects.filter(pk__in=ids).order_by("pk"):
        try:
            services.flexibility_assess(premise=premise, window_start=start, window_end=end, now=now)
        except ApplicationError:
            continue
        done += 1
    return done


def test_a_chunk_stores_what_premise_by_premise_stores(varied):
    start, end = varied.window
    now = start - timedelta(hours=26)
    kept_assessments = set(FlexibilityAssessment.objects.values_list("pk", flat=True))
    kept_baselines = set(Baseline.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as ctx:
        done = window_services.flexibility_assess_premises(
            premise_ids=varied.ids, window_start=start, window_end=end, now=now
        )
    # 13 statements and the test transaction's savepoint, whatever the chunk's size (premise by premise: ~20 each)
    if connection.vendor == "postgresql":  # SQLite (the embedded default) reads the readings per meter
        assert len(ctx.captured_queries) <= 15, [q["sql"][:80] for q in ctx.captured_queries]
    batch = _snapshot(start, end)
    FlexibilityAssessment.objects.exclude(pk__in=kept_assessments).delete()
    Baseline.objects.exclude(pk__in=kept_baselines).delete()
    assert _one_by_one(varied.ids, start, end, now) == done
    assert _snapshot(start, end) == batch
    # what the fixture varies is in the rows: a refusal (window over two local days), a reused baseline, the
    # labelled estimate, excluded event days, another time zone's slots
    premises = varied.premises
    by_premise = {row[0]: row for row in batch["assessments"]}
    assert done == len(premises) - 1 and premises[5].pk not in by_premise
    assert by_premise[premises[3].pk][3] == services.forecast_kw(total_kwh=Decimal("12.3456"), window_start=start,
                                                                 window_end=end)  # fmt: skip
    assert by_premise[premises[4].pk][5] == "estimate:Chillers"
    meter2 = premises[2].meters.order_by("id").first()
    used = next(b[3] for b in batch["baselines"] if b[0] == meter2.pk)
    assert (varied.day - timedelta(days=6)).isoformat() not in used
    assert (varied.day - timedelta(days=8)).isoformat() in used or varied.day.weekday() >= 5  # cancelled: a day
    # run again (a redelivered task): the rows stay, nothing is written, the refused premises are read again
    with CaptureQueriesContext(connection) as ctx:
        again = window_services.flexibility_assess_premises(
            premise_ids=varied.ids, window_start=start, window_end=end, now=now
        )
    assert again == done
    assert not [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(ctx.captured_queries) <= 6, [q["sql"][:80] for q in ctx.captured_queries]
    assert _snapshot(start, end) == batch
    # the event days of many premises, in one read, are each premise's
    facts = hooks.activation()
    zones = dict(Premise.objects.values_list("pk", "timezone"))
    many = facts.event_days_many(timezones=zones)
    assert many == {pk: facts.event_days(premise_id=pk, tz=tz) for pk, tz in zones.items()} and many[premises[2].pk]


def test_rows_stored_meanwhile_by_another_run_roll_the_chunk_back_once(small_world, monkeypatch):
    start, end = demo.event_window(small_world.day)
    ids = [p.pk for p in small_world.premises]
    first = small_world.premises[1]
    calls = []
    capacity = window_services.premises_device_capacity

    def racing(**kwargs):  # another worker stores one of the chunk's assessments before this one writes its own
        calls.append(1)
        if len(calls) == 1:
            services.flexibility_assess(premise=first, window_start=start, window_end=end)
        return capacity(**kwargs)

    monkeypatch.setattr(window_services, "premises_device_capacity", racing)
    done = window_services.flexibility_assess_premises(premise_ids=ids, window_start=start, window_end=end)
    assert len(calls) == 2 and done == len(ids)
    assert FlexibilityAssessment.objects.filter(window_start=start, window_end=end).count() == done
