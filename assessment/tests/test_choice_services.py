"""Each resource's settlement baseline follows its program's policy, recorded per meter, month and day type."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

import demo
from activation.services import market_enrol
from assessment import choice_services, services
from assessment.baselines.choice import TEST_DAYS, day_type
from assessment.models import BaselineChoice, BaselineProgram, ProgramEnrolment
from flexplatform.errors import ApplicationError

pytestmark = pytest.mark.django_db


def test_fixed_policy_records_the_programs_method_and_verification_baselines_follow_it(small_world):
    premise = small_world.premises[3]
    program = services.baseline_program_set(code="fixed", name="Fixed", method="nyiso-cbl")
    choice_services.program_enrol(premise=premise, program=program)
    start, end = demo.event_window(small_world.day)
    b = services.baseline_compute(meter=premise.meters.get(), window_start=start, window_end=end)
    choice = b.choice
    assert (b.method, choice.method, choice.policy, choice.default_method) == (
        "nyiso-cbl",
        "nyiso-cbl",
        "fixed",
        "nyiso-cbl",
    )
    assert choice.month == small_world.day.replace(day=1) and choice.day_type == day_type(small_world.day)
    assert choice.evidence == {}


def test_most_accurate_policy_records_its_evidence_and_never_changes_within_the_month(small_world):
    premise = small_world.premises[3]
    meter = premise.meters.get()
    # enough like days for the back-test, and the event day itself (read before verification)
    demo.meter_history_load(meter=meter, until=small_world.day + timedelta(days=1), days=121)
    program = services.baseline_program_set(
        code="best", name="Best", method="caiso-10in10", policy=BaselineProgram.Policy.MOST_ACCURATE
    )
    choice_services.program_enrol(premise=premise, program=program)
    start, end = demo.event_window(small_world.day)
    b = services.baseline_compute(meter=meter, window_start=start, window_end=end)
    choice = b.choice
    assert choice.policy == "most-accurate" and b.method == choice.method
    ev = choice.evidence
    assert len(ev["test_days"]) == TEST_DAYS and all(
        day_type(d) == choice.day_type for d in map(date.fromisoformat, ev["test_days"])
    )
    assert ev["window_slots"][1] - ev["window_slots"][0] == 8  # 2 h of 15-minute slots
    # the chosen method has the lowest score, unless the default was kept within the margin
    best = min(ev["scores"], key=ev["scores"].get)
    if choice.method != "caiso-10in10":
        assert choice.method == best and ev["scores"][best] <= ev["scores"]["caiso-10in10"] * (1 - ev["margin"])
    assert {r["method"] for r in ev["results"]} >= set(ev["scores"])
    # the program changes its method: the month's recorded choice still settles the month's events
    services.baseline_program_set(code="best", name="Best", method="pjm-cbl", policy=BaselineProgram.Policy.FIXED)
    again = choice_services.baseline_choice_for(meter=meter, target_day=small_world.day, start_slot=0, end_slot=4)
    assert again.pk == choice.pk and BaselineChoice.objects.filter(meter=meter).count() == 1


def test_market_enrolment_puts_the_resource_in_the_market_baseline_program_once(small_world):
    premise, other = small_world.premises[0], small_world.premises[1]
    market_enrol(premise=premise, committed_kw=Decimal("1"))
    enrolment = ProgramEnrolment.objects.get(premise=premise)
    assert (enrolment.program.code, enrolment.program.policy) == ("day-ahead-market", "most-accurate")
    own = services.baseline_program_set(code="own", name="Own", method="pjm-cbl")
    choice_services.program_enrol(premise=other, program=own)
    market_enrol(premise=other, committed_kw=Decimal("1"))  # an existing program is kept
    assert ProgramEnrolment.objects.get(premise=other).program == own
    with pytest.raises(ApplicationError):
        services.baseline_program_set(code="x", name="x", method="caiso-10in10", policy="whatever")
