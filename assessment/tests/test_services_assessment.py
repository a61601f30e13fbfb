"""Assessment services and API on the small demo world: baselines by program, accuracy report,
flexibility profile, availability declarations, accredited capacity from performance history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

import demo
from accounts.models import Membership
from activation.models import EventVerification
from assessment import choice_services, selectors, services
from assessment.baselines.calendar import is_weekday_type
from assessment.baselines.compute import METHODS
from assessment.models import AvailabilityDeclaration, Baseline, BaselineAccuracy, FlexibilityProfile
from flexplatform import snapshots
from flexplatform.errors import ApplicationError

AVAILABILITY = "/api/v1/assessment/availability/"
CAPACITY = "/api/v1/assessment/capacity/"


def _owner_email(premise) -> str:
    return Membership.objects.filter(organisation=premise.organisation).select_related("user").first().user.email


def _iso(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@pytest.fixture
def window(small_world):
    return demo.event_window(small_world.day)


def test_default_baseline_is_caiso_10in10_with_parameters_and_days(small_world, window):
    meter = small_world.premises[0].meters.get()
    # The window's own day has no readings yet: the day-of adjustment falls back to 1.
    b = services.baseline_compute(meter=meter, window_start=window[0], window_end=window[1])
    assert b.method == "caiso-10in10"
    # The demo's market day is relative to today; NERC holidays (e.g. Thanksgiving) count as weekend days.
    weekday = is_weekday_type(small_world.day)
    assert b.parameters["max_days"] == (10 if weekday else 4)
    assert b.parameters["cap"] == 0.2 and b.parameters["adjustment"] == 1.0
    assert len(b.days_used) == (10 if weekday else 4)
    assert all(is_weekday_type(date.fromisoformat(d)) == weekday for d in b.days_used)
    assert b.intervals.count() == 8 and b.total_kwh == sum(i.kwh for i in b.intervals.all())
    # Computed once: the same call returns the stored baseline.
    assert services.baseline_compute(meter=meter, window_start=window[0], window_end=window[1]).pk == b.pk


def test_program_chooses_the_method_and_parameters(small_world, window):
    premise = small_world.premises[1]
    program = services.baseline_program_set(
        code="pjm-econ", name="PJM economic", method="pjm-cbl", parameters={"low_usage_threshold": 0.3}
    )
    choice_services.program_enrol(premise=premise, program=program)
    b = services.baseline_compute(meter=premise.meters.get(), window_start=window[0], window_end=window[1])
    assert b.method == "pjm-cbl"
    use = 4 if is_weekday_type(small_world.day) else 2
    assert b.parameters["low_usage_threshold"] == 0.3 and b.parameters["use_days"] == use
    assert len(b.days_used) == use
    with pytest.raises(ApplicationError):
        services.baseline_program_set(code="x", name="x", method="made-up")


def test_every_method_computes_on_the_demo_data(small_world, window):
    meter = small_world.premises[3].meters.get()
    for method in METHODS:
        if method in ("pjm-same-day", "pjm-match-day"):
            # Both need the event day's own readings outside the event: not before the day.
            with pytest.raises(ApplicationError) as exc:
                services.baseline_compute(meter=meter, window_start=window[0], window_end=window[1], method=method)
            assert exc.value.code == "insufficient_history"
            continue
        b = services.baseline_compute(meter=meter, window_start=window[0], window_end=window[1], method=method)
        assert b.total_kwh > 0, method


def test_window_across_local_days_is_refused(small_world, window):
    meter = small_world.premises[0].meters.get()
    with pytest.raises(ApplicationError):
        services.baseline_compute(meter=meter, window_start=window[0], window_end=window[0] + timedelta(hours=12))


def test_accuracy_report_and_recommendation(small_world):
    meter = small_world.premises[2].meters.get()
    rows = services.baseline_accuracy_report(meter=meter, as_of=small_world.day)
    methods = {r.method for r in rows}
    assert {"caiso-10in10", "pjm-cbl", "nyiso-cbl", "caltrack-hourly"} <= methods
    assert sum(r.recommended for r in rows) == 1
    best = next(r for r in rows if r.recommended)
    pool = [r for r in rows if r.meets_guideline14] or rows
    assert best.cvrmse_pct == min(r.cvrmse_pct for r in pool)
    # Re-running replaces the day's report.
    services.baseline_accuracy_report(meter=meter, as_of=small_world.day)
    assert BaselineAccuracy.objects.filter(meter=meter).count() == len(rows)


def test_flexibility_profile(small_world):
    premise = small_world.premises[0]
    profile = services.flexibility_profile_compute(premise=premise, as_of=small_world.day)
    assert len(profile.availability_scores) == 168
    assert all(0 <= s <= 100 for s in profile.availability_scores)
    assert 0 < profile.score <= 100
    assert profile.peak_shaving_kw > 0 and profile.load_shift_kwh > 0
    assert profile.reliability_factor == Decimal("1.0000")
    assert profile.drivers["history_days"] >= 15


def test_accredited_capacity_respects_a_current_declaration(small_world, api_for):
    premise = small_world.premises[4]  # a business selling directly
    window = demo.event_window(timezone.localdate() + timedelta(days=1))  # a coming window
    assessed = services.flexibility_assess(premise=premise, window_start=window[0], window_end=window[1])
    assert selectors.accredited_capacity_kw(premise=premise, start=window[0], end=window[1]) == assessed.capacity_kw
    client = api_for(_owner_email(premise))
    r = client.post(
        AVAILABILITY,
        {
            "premise": premise.pk,
            "available_kw": "1.5",
            "soc_percent": "40",
            "valid_until": _iso(window[1] + timedelta(hours=1)),
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert selectors.accredited_capacity_kw(premise=premise, start=window[0], end=window[1]) == Decimal("1.500")
    # The market's gate follows at once: an offer above the declared kW is refused, one within it accepted.
    from market.services import offer_submit

    offer = {
        "seller": premise.organisation,
        "premise": premise,
        "zone": premise.grid_zone,
        "price_per_mwh": Decimal("100"),
    }
    with pytest.raises(ApplicationError) as exc:
        offer_submit(**offer, kw=Decimal("1.6"), window_start=window[0], window_end=window[1])
    assert exc.value.code == "over_capacity"
    assert offer_submit(**offer, kw=Decimal("1.5"), window_start=window[0], window_end=window[1]).kw == Decimal("1.5")
    # A declaration that ended before the window does not apply.
    assert (
        selectors.accredited_capacity_kw(
            premise=premise, start=window[1] + timedelta(hours=2), end=window[1] + timedelta(hours=3)
        )
        is None
    )


def test_availability_api_refuses_bad_input_and_the_wrong_people(small_world, window, api_for):
    premise = small_world.premises[4]
    owner = api_for(_owner_email(premise))
    until = _iso(timezone.now() + timedelta(hours=2))
    bad = owner.post(
        AVAILABILITY,
        {"premise": premise.pk, "available_kw": "-1", "soc_percent": "140", "valid_until": until},
        format="json",
    )
    assert bad.status_code == 400 and {"available_kw", "soc_percent"} <= set(bad.json()["fields"])
    past = owner.post(
        AVAILABILITY,
        {"premise": premise.pk, "available_kw": "1", "valid_until": _iso(timezone.now() - timedelta(hours=1))},
        format="json",
    )
    assert past.status_code == 400 and "valid_until" in past.json()["fields"]
    other = api_for(_owner_email(small_world.premises[5]))
    assert (
        other.post(
            AVAILABILITY, {"premise": premise.pk, "available_kw": "1", "valid_until": until}, format="json"
        ).status_code
        == 403
    )
    operator = api_for("operator@demo.flex")
    assert (
        operator.post(
            AVAILABILITY, {"premise": premise.pk, "available_kw": "1", "valid_until": until}, format="json"
        ).status_code
        == 403
    )
    assert AvailabilityDeclaration.objects.count() == 0
    # The aggregator may declare for an enrolled household.
    household = next(p for p in small_world.premises if p.aggregator_id)
    agg = api_for("aggregator@demo.flex")
    assert (
        agg.post(
            AVAILABILITY, {"premise": household.pk, "available_kw": "0.5", "valid_until": until}, format="json"
        ).status_code
        == 201
    )


def _assess_day(premises, day):
    """Stored assessments of the day's evening hours (17:00-21:00 local), as the market day makes them."""
    for p in premises:
        start = datetime(day.year, day.month, day.day, 17, tzinfo=ZoneInfo(p.timezone)).astimezone(UTC)
        for h in range(4):
            services.flexibility_assess(
                premise=p,
                window_start=start + timedelta(hours=h),
                window_end=start + timedelta(hours=h + 1),
                now=start - timedelta(days=1),
            )


def test_operator_capacity_by_zone_and_hour(small_world, api_for):
    day = small_world.day
    _assess_day(small_world.premises, day)
    r = api_for("operator@demo.flex").get(CAPACITY, {"day": day.isoformat()})
    assert r.status_code == 200, r.content
    zones = r.json()["zones"]
    assert zones and all(len(z["kw_by_hour"]) == 24 for z in zones)
    total = sum(Decimal(v) for z in zones for v in z["kw_by_hour"])
    assert total > 0
    expected = selectors.portfolio_capacity_by_hour(premises=small_world.premises, day=day)
    assert total == sum(expected)
    assert api_for(_owner_email(small_world.premises[0])).get(CAPACITY).status_code == 403
    assert api_for("aggregator@demo.flex").get(CAPACITY).status_code == 403


def test_premise_flexibility_api_visibility(small_world, api_for):
    premise = small_world.premises[4]
    services.flexibility_profile_compute(premise=premise, as_of=small_world.day)
    url = f"/api/v1/assessment/premises/{premise.pk}/flexibility/"
    ok = api_for(_owner_email(premise)).get(url)
    assert ok.status_code == 200 and ok.json()["profile"]["score"] > 0 and ok.json()["reliability_factor"] == "1.0000"
    assert api_for(_owner_email(small_world.premises[5])).get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_market_day_builds_performance_history_and_derates_capacity(small_world):
    result = demo.market_day_run(world=small_world, day=small_world.day)
    assert result.events > 0
    # Verification settled against CAISO 10-in-10 with the day-of adjustment.
    # a premise with one event (the day-ahead auction adds morning events for some resources of sub-east-1)
    v = next(
        v
        for v in EventVerification.objects.select_related("baseline", "event__premise").order_by("pk")
        if v.event.premise.events.count() == 1
    )
    assert v.baseline.method == "caiso-10in10" and "adjustment" in v.baseline.parameters
    premise = v.event.premise
    history = selectors.performance_history(premise=premise)
    assert history[0]["committed_kwh"] == v.committed_kwh and history[0]["delivered_kwh"] == v.delivered_kwh
    expected_rf = min(v.delivered_kwh, v.committed_kwh) / v.committed_kwh
    rf = selectors.reliability_factor_for(premise=premise)
    assert abs(rf - expected_rf) < Decimal("0.0001")
    # The next day's capacity is assessed kW x reliability factor.
    nxt = small_world.day + timedelta(days=1)
    start, end = demo.event_window(nxt)
    demo.history_load(world=small_world, until=nxt, days=1)
    assessed = services.flexibility_assess(premise=premise, window_start=start, window_end=end)
    assert selectors.accredited_capacity_kw(premise=premise, start=start, end=end) == (
        assessed.capacity_kw * rf
    ).quantize(Decimal("0.001"), rounding="ROUND_DOWN")
    # The event day is excluded from later baselines of the same day type (a week on).
    later = demo.event_window(small_world.day + timedelta(days=7))
    b = services.baseline_compute(meter=premise.meters.get(), window_start=later[0], window_end=later[1])
    assert small_world.day.isoformat() not in b.days_used
    other = next(p for p in small_world.premises if not p.events.exists())
    b_other = services.baseline_compute(meter=other.meters.get(), window_start=later[0], window_end=later[1])
    assert small_world.day.isoformat() in b_other.days_used  # a premise without an event keeps the day
    # New meter data triggered the recomputation on commit.
    assert FlexibilityProfile.objects.filter(premise=premise).exists()
    assert BaselineAccuracy.objects.filter(meter__premise=premise).exists()
    assert Baseline.objects.filter(method="caiso-10in10-unadjusted").exists()


def test_new_meter_data_enqueues_recomputation_on_commit(small_world, django_capture_on_commit_callbacks):
    premise = small_world.premises[0]
    meter = premise.meters.get()
    start, end = demo.local_day_bounds(small_world.day)
    from assessment.synthetic import load_profile_kwh

    starts = services.interval_starts(start, end, meter.interval_minutes)
    values = load_profile_kwh(segment=premise.segment, seed=1, starts=starts, tz=premise.timezone)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.meter_readings_record(meter=meter, readings=list(zip(starts, values, strict=True)))
    tasks = [c for c in callbacks if not snapshots.is_publication(c)]  # besides renewing the market's copies
    assert len(tasks) == 1
    profile = FlexibilityProfile.objects.get(premise=premise)
    assert profile.as_of == small_world.day + timedelta(days=1)
    assert BaselineAccuracy.objects.filter(meter=meter, recommended=True).count() == 1
    # Re-sending the same readings stores nothing and enqueues nothing.
    with django_capture_on_commit_callbacks(execute=True) as again:
        services.meter_readings_record(meter=meter, readings=list(zip(starts, values, strict=True)))
    assert [c for c in again if not snapshots.is_publication(c)] == []


def test_nightly_recomputation_is_scheduled_and_covers_every_meter(small_world, settings):
    from assessment import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["assessment-recompute-nightly"]
    assert entry["task"] == "assessment.tasks.assessment_recompute_nightly"
    assert tasks.assessment_recompute_nightly.delay().get() == len(small_world.premises)
    assert FlexibilityProfile.objects.count() == len(small_world.premises)


def test_baseline_on_dst_days_lines_up_by_wall_clock(small_world):
    """The 25-hour day: both UTC passes of 01:00-02:00 local get the baseline of 01:xx; the 23-hour day
    has no 02:xx intervals and its baseline is computed for the hours that exist."""
    from assessment.synthetic import load_profile_kwh

    premise = small_world.premises[3]
    meter = premise.meters.get()
    tz = premise.timezone  # America/New_York
    first, _ = demo.local_day_bounds(date(2025, 2, 1))
    _, last = demo.local_day_bounds(date(2025, 11, 3))
    starts = services.interval_starts(first, last, meter.interval_minutes)
    values = load_profile_kwh(segment=premise.segment, seed=11, starts=starts, tz=tz)
    services.meter_readings_record(meter=meter, readings=list(zip(starts, values, strict=True)))
    from datetime import UTC, datetime

    # 2025-11-02 05:00-07:00 UTC = 01:00 EDT .. 01:00 EST .. 02:00 EST (a Sunday: weekend/holiday days).
    fall = services.baseline_compute(
        meter=meter, window_start=datetime(2025, 11, 2, 5, tzinfo=UTC), window_end=datetime(2025, 11, 2, 7, tzinfo=UTC)
    )
    rows = list(fall.intervals.values_list("kwh", flat=True))
    assert len(rows) == 8 and rows[:4] == rows[4:]
    assert all(date.fromisoformat(d).weekday() >= 5 for d in fall.days_used)
    # 2025-03-09 06:00-08:00 UTC = 01:00-01:45 EST, then 03:00-03:45 EDT: 8 intervals, all with a baseline.
    spring = services.baseline_compute(
        meter=meter, window_start=datetime(2025, 3, 9, 6, tzinfo=UTC), window_end=datetime(2025, 3, 9, 8, tzinfo=UTC)
    )
    assert spring.intervals.count() == 8 and all(k > 0 for k in spring.intervals.values_list("kwh", flat=True))
    # A weekday after the spring change uses weekdays only, including ones before the change.
    monday = services.baseline_compute(
        meter=meter,
        window_start=datetime(2025, 3, 10, 21, tzinfo=UTC),
        window_end=datetime(2025, 3, 10, 23, tzinfo=UTC),
    )
    assert len(monday.days_used) == 10 and min(monday.days_used) < "2025-03-09"


def test_portfolio_capacity_by_hour_is_the_accredited_rule_per_hour_in_constant_queries(small_world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Premise

    day = small_world.day
    _assess_day(small_world.premises[:2], day)
    with CaptureQueriesContext(connection) as two:
        two_hours = selectors.portfolio_capacity_by_hour(
            premises=Premise.objects.filter(pk__in=[p.pk for p in small_world.premises[:2]]), day=day
        )
    _assess_day(small_world.premises, day)
    with CaptureQueriesContext(connection) as all_:
        hours = selectors.portfolio_capacity_by_hour(premises=Premise.objects.all(), day=day)
    assert len(all_.captured_queries) == len(two.captured_queries) <= 7
    assert sum(two_hours) > 0
    # each hour is the single-window rule the market applies (assessed x reliability x derate, capped)
    for h in (0, 17, 18, 20, 21):
        expected = Decimal("0")
        for p in small_world.premises:
            start = datetime(day.year, day.month, day.day, h, tzinfo=ZoneInfo(p.timezone)).astimezone(UTC)
            kw = selectors.accredited_capacity_kw(premise=p, start=start, end=start + timedelta(hours=1))
            expected += kw or Decimal("0")
        assert hours[h] == expected
    assert hours[17] > 0 and hours[0] == 0
