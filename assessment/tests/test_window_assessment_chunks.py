"""The window assessment in chunks (``assessment.tasks.assess_window`` / ``assess_premises``,
``assessment.window_services``): every metered premise assessed once for the window, as ``flexibility_assess``
assesses it; a chunk run again writes nothing new; a premise without a meter is skipped, not fatal."""

from __future__ import annotations

import demo
from accounts import services as acc
from assessment import tasks
from assessment.models import FlexibilityAssessment
from assessment.window_services import flexibility_assess_premises, window_assessment_premise_ids


def test_the_sweep_assesses_every_metered_premise_once_in_chunks(small_world, monkeypatch):
    start, end = demo.event_window(small_world.day)
    bare = acc.premise_create(
        organisation=small_world.premises[0].organisation, name="No meter yet", segment="residential",
        grid_zone=small_world.premises[0].grid_zone, timezone=small_world.premises[0].timezone,
    )  # fmt: skip
    ids = window_assessment_premise_ids()
    assert bare.pk not in ids and sorted(ids) == sorted(p.pk for p in small_world.premises)
    feeder = small_world.premises[0].grid_zone
    assert window_assessment_premise_ids(zone=feeder) == sorted(
        p.pk for p in small_world.premises if p.grid_zone_id == feeder.pk
    )
    monkeypatch.setattr(tasks, "ASSESS_CHUNK", 4)  # several chunks for six premises
    assert tasks.assess_window.delay(start.isoformat(), end.isoformat(), None).get() == len(ids)
    rows = dict(
        FlexibilityAssessment.objects.filter(window_start=start, window_end=end).values_list("premise_id", "pk")
    )
    assert sorted(rows) == sorted(ids)
    # a chunk sent twice (a redelivered task) keeps the stored assessments and writes nothing
    assert tasks.assess_premises.delay(ids[:4], start.isoformat(), end.isoformat(), None).get() == 4
    again = dict(
        FlexibilityAssessment.objects.filter(window_start=start, window_end=end).values_list("premise_id", "pk")
    )
    assert again == rows
    # a premise the assessment refuses (no meter) is skipped; the others of its chunk are assessed
    assert flexibility_assess_premises(premise_ids=[bare.pk, ids[0]], window_start=start, window_end=end) == 1
    assert not FlexibilityAssessment.objects.filter(premise=bare).exists()
