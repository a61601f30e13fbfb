"""The nightly recompute is split into chunks of meters that several workers share (issue #21)."""

from __future__ import annotations

import pytest

from accounts.models import Meter
from assessment import services, tasks
from assessment.models import BaselineAccuracy

pytestmark = pytest.mark.django_db


def test_a_meter_without_readings_is_left_out(small_world):
    premise = small_world.premises[0]
    empty = Meter.objects.create(premise=premise, meter_id="NO-DATA-1", interval_minutes=15)
    ids = services.meters_with_data_ids()
    assert empty.pk not in ids
    assert sorted(ids) == sorted(p.meters.order_by("id").first().pk for p in small_world.premises)


def test_the_nightly_sends_one_task_per_chunk(small_world, monkeypatch):
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks, "RECOMPUTE_CHUNK", 2)
    monkeypatch.setattr(tasks.assessment_recompute_meters, "delay", lambda ids: sent.append(ids))
    n = tasks.assessment_recompute_nightly.delay().get()
    assert n == len(small_world.premises)
    assert [i for chunk in sent for i in chunk] == services.meters_with_data_ids()
    assert all(len(chunk) <= 2 for chunk in sent) and len(sent) == (n + 1) // 2


def test_a_chunk_run_twice_recomputes_the_same(small_world):
    ids = services.meters_with_data_ids()[:2]
    assert tasks.assessment_recompute_meters.delay(ids).get() == 2
    once = sorted(BaselineAccuracy.objects.filter(meter_id__in=ids).values_list("meter_id", "method", "recommended"))
    assert tasks.assessment_recompute_meters.delay(ids).get() == 2
    again = sorted(BaselineAccuracy.objects.filter(meter_id__in=ids).values_list("meter_id", "method", "recommended"))
    assert once and once == again
