"""Accredited capacity per premise and hour read set-based (``assessment.selectors.capacity_sets``): the same
figures as the single-window rule the market applies, whatever mix of assessments, declarations, delivery
histories, derates and suspensions; and the reliability factors computed for many histories at once are the
same floats as one at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Premise
from activation.models import DREvent, Enrollment, EventVerification, Program
from assessment import selectors
from assessment.flexibility import reliability_factor, reliability_factors
from assessment.models import AvailabilityDeclaration, Baseline, FlexibilityAssessment, MeterStatus
from assessment.selectors.capacity_sets import capacity_by_premise_hour, capacity_grid


def test_reliability_factors_are_reliability_factor_bit_for_bit():
    rng = random.Random(16)
    nice = [0.0, 0.1, 0.27, 0.3, 0.33, 0.5, 0.9, 1.0, 2.5]
    histories = []
    for _ in range(3000):
        k = rng.randint(0, 12)
        histories.append(
            [
                (
                    rng.choice([*nice, -0.2, rng.random() * 4]),
                    rng.choice([*nice, 0.0, rng.random() * 3]),
                )
                for _ in range(k)
            ]
        )
    expected = [reliability_factor([d for d, _ in h], [c for _, c in h]) for h in histories]
    assert reliability_factors(histories) == expected
    assert reliability_factors([]) == []
    assert reliability_factors([[(1.0, 0.0)]]) == [1.0]  # nothing committed: no history


def _hour(day, h, tz):
    return datetime(day.year, day.month, day.day, h, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _event(premise, start, committed: str, delivered: str, n: int) -> None:
    event = DREvent.objects.create(
        premise=premise,
        zone=premise.grid_zone,
        target_kw=Decimal("1"),
        start=start,
        end=start + timedelta(hours=1),
        status=DREvent.Status.COMPLETED,
        source=DREvent.Source.OPERATOR,
    )
    baseline = Baseline.objects.create(
        meter=premise.meters.order_by("id").first(),
        method="test",
        window_start=event.start,
        window_end=event.end,
        total_kwh=Decimal("2"),
        computed_at=event.end,
    )
    EventVerification.objects.create(
        event=event,
        baseline=baseline,
        baseline_kwh=Decimal("2"),
        actual_kwh=Decimal("1"),
        committed_kwh=Decimal(committed),
        delivered_kwh=Decimal(delivered),
        verified_at=event.end + timedelta(minutes=n),
    )


@pytest.fixture
def mixed_world(world):
    """Premises in two timezones with overlapping assessments (later ones win), declarations capping some hours,
    delivery histories of 0 to 11 events (the factor reads the latest 10), a derate, a suspension and a premise
    whose meter is not validated."""
    day = world.day
    premises = list(Premise.objects.order_by("pk"))
    for p in premises:
        for meter in p.meters.all():
            MeterStatus.objects.update_or_create(meter=meter, defaults={"validated": True})
    assert len(premises) >= 5
    program = Program.objects.create(code="cap-sets", name="Cap sets", notice_minutes=10)
    for i, p in enumerate(premises):
        tz = p.timezone
        baseline = Baseline.objects.create(
            meter=p.meters.order_by("id").first(),
            method="test",
            window_start=_hour(day, 0, tz),
            window_end=_hour(day, 0, tz) + timedelta(days=1),
            total_kwh=Decimal("24"),
            computed_at=_hour(day, 0, tz) - timedelta(days=1),
        )
        # a whole-day assessment, then a later evening one with another figure
        FlexibilityAssessment.objects.create(
            premise=p,
            window_start=_hour(day, 0, tz),
            window_end=_hour(day, 0, tz) + timedelta(days=1),
            baseline=baseline,
            baseline_kw=Decimal("5"),
            capacity_kw=Decimal("1.237") + i,
            method="test",
            assessed_at=_hour(day, 0, tz) - timedelta(days=1),
        )
        FlexibilityAssessment.objects.create(
            premise=p,
            window_start=_hour(day, 17, tz),
            window_end=_hour(day, 21, tz),
            baseline=baseline,
            baseline_kw=Decimal("5"),
            capacity_kw=Decimal("2.501"),
            method="test",
            assessed_at=_hour(day, 0, tz) - timedelta(hours=2),
        )
        # starting half a second after 06:00, it covers no hour before 07:00
        FlexibilityAssessment.objects.create(
            premise=p,
            baseline=baseline,
            window_start=_hour(day, 6, tz) + timedelta(microseconds=500_000),
            window_end=_hour(day, 8, tz),
            baseline_kw=Decimal("5"),
            capacity_kw=Decimal("7.5"),
            method="test",
            assessed_at=_hour(day, 0, tz) - timedelta(hours=1),
        )
        # a declaration from 18:30 to 19:30 (two hours touched), superseded in 19:00 by a later one
        AvailabilityDeclaration.objects.create(
            premise=p,
            declared_by=p.organisation,
            available_kw=Decimal("0.8"),
            valid_from=_hour(day, 18, tz) + timedelta(minutes=30),
            valid_until=_hour(day, 19, tz) + timedelta(minutes=30),
            created_at=_hour(day, 0, tz) - timedelta(hours=3),
        )
        if i % 2:
            AvailabilityDeclaration.objects.create(
                premise=p,
                declared_by=p.organisation,
                available_kw=Decimal("3"),
                valid_from=_hour(day, 19, tz),
                valid_until=_hour(day, 20, tz),
                created_at=_hour(day, 0, tz) - timedelta(hours=1),
            )
        for n in range((i * 3) % 12):
            _event(p, _hour(day, 12, tz) - timedelta(days=n + 1), "0.3", ["0.27", "0.1", "0.45", "0"][n % 4], n)
    Enrollment.objects.create(
        program=program,
        premise=premises[1],
        committed_kw=Decimal("1"),
        safety_max_kw=Decimal("2"),
        derate=Decimal("0.75"),
    )
    Enrollment.objects.create(
        program=program,
        premise=premises[2],
        committed_kw=Decimal("1"),
        safety_max_kw=Decimal("2"),
        status=Enrollment.Status.SUSPENDED,
    )
    MeterStatus.objects.filter(meter__premise=premises[3]).update(validated=False)
    world.all_premises = premises
    return world


def test_capacity_per_premise_and_hour_is_the_single_window_rule(mixed_world):
    day, premises = mixed_world.day, mixed_world.all_premises
    per = capacity_by_premise_hour(premises=Premise.objects.all(), day=day)
    assert set(per) == {p.pk for p in premises}
    for p in premises:
        for h in range(24):
            start = _hour(day, h, p.timezone)
            kw = selectors.accredited_capacity_kw(premise=p, start=start, end=start + timedelta(hours=1))
            assert per[p.pk][h] == (kw or Decimal("0")), (p.pk, h)
    assert per[premises[2].pk] == [0] * 24 and per[premises[3].pk] == [0] * 24  # suspended; meter not validated
    assert per[premises[0].pk][18] == Decimal("0.8")  # capped by the declaration
    assert per[premises[0].pk][6] == Decimal("1.237") and per[premises[0].pk][7] == Decimal("7.5")
    total = selectors.portfolio_capacity_by_hour(premises=premises, day=day)
    assert total == [sum((v[h] for v in per.values()), Decimal("0")) for h in range(24)]
    assert capacity_by_premise_hour(premises=premises[:2], day=day) == {p.pk: per[p.pk] for p in premises[:2]}


def test_capacity_over_a_window_and_of_the_latest_window_are_the_single_window_rule(mixed_world):
    day, premises = mixed_world.day, mixed_world.all_premises
    seen = set()
    for h0, h1 in ((0, 24), (17, 19), (18, 19), (6, 7), (19, 20), (22, 23), (20, 30)):
        start, end = _hour(day, h0, "UTC"), _hour(day, 0, "UTC") + timedelta(hours=h1)
        got = selectors.accredited_capacity_over(premises=Premise.objects.all(), start=start, end=end)
        assert got == {p.pk: selectors.accredited_capacity_kw(premise=p, start=start, end=end) for p in premises}
        seen |= set(got.values())
        if h1 == 30:
            assert set(got.values()) == {None}  # nothing covers a window past the day
    assert any(kw for kw in seen)
    # the next window not ended, else the latest: before the day, during it, after it
    for now in (
        _hour(day, 0, "UTC") - timedelta(days=2),
        _hour(day, 18, "UTC"),
        _hour(day, 0, "UTC") + timedelta(days=3),
    ):
        got = selectors.accredited_capacity_latest_many(premises=premises, now=now)
        assert got == {p.pk: selectors.accredited_capacity_latest_kw(premise=p, now=now) for p in premises}, now
    assert selectors.accredited_capacity_latest_many(premises=[], now=_hour(day, 0, "UTC")) == {}


def test_capacity_grid_reads_in_constant_queries(mixed_world):
    day, premises = mixed_world.day, mixed_world.all_premises
    with CaptureQueriesContext(connection) as one:
        capacity_grid(premises=Premise.objects.filter(pk=premises[0].pk), day=day)
    with CaptureQueriesContext(connection) as all_:
        grid = capacity_grid(premises=Premise.objects.all(), day=day)
    assert len(one.captured_queries) == len(all_.captured_queries) <= 5
    assert len(grid.premise_ids) == len(premises)
    with CaptureQueriesContext(connection) as none:
        assert capacity_grid(premises=[], day=day).total() == [0] * 24
    assert not none.captured_queries
    now = _hour(day, 12, "UTC")
    with CaptureQueriesContext(connection) as one:
        selectors.accredited_capacity_latest_many(premises=Premise.objects.filter(pk=premises[0].pk), now=now)
    with CaptureQueriesContext(connection) as all_:
        selectors.accredited_capacity_latest_many(premises=Premise.objects.all(), now=now)
    assert len(one.captured_queries) == len(all_.captured_queries) <= 6


def test_latest_window_in_sql_is_the_per_premise_rule(mixed_world):
    """The set-based statement (PostgreSQL ``DISTINCT ON`` and the portable ``ROW_NUMBER`` form, both run on
    PostgreSQL; the portable one on SQLite) gives each premise the kW of ``accredited_capacity_latest_kw``: a
    premise without an assessment (None), one whose whole-day assessment is superseded by a later one over the
    night (same start: the later one is the next window), delivery histories of 0 to 11 events, a derate, a
    suspension, a meter not validated, and declarations capping the window."""
    day, premises = mixed_world.day, mixed_world.all_premises
    unassessed, superseded = premises[4], premises[0]
    FlexibilityAssessment.objects.filter(premise=unassessed).delete()
    tz = superseded.timezone
    FlexibilityAssessment.objects.create(
        premise=superseded,
        baseline=Baseline.objects.filter(meter__premise=superseded).first(),
        window_start=_hour(day, 0, tz),
        window_end=_hour(day, 6, tz),
        baseline_kw=Decimal("5"),
        capacity_kw=Decimal("4.444"),
        method="test",
        assessed_at=_hour(day, 0, tz) - timedelta(minutes=30),  # after the whole-day one (a day before)
    )
    forms = [False, True] if connection.vendor == "postgresql" else [False]
    seen = set()
    for now in (
        _hour(day, 0, "UTC") - timedelta(days=2),
        _hour(day, 16, "UTC") + timedelta(minutes=30),
        _hour(day, 18, "UTC"),
        _hour(day, 0, "UTC") + timedelta(days=3),
    ):
        expected = {
            p.pk: (p.grid_zone_id, selectors.accredited_capacity_latest_kw(premise=p, now=now)) for p in premises
        }
        expected[unassessed.pk] = (unassessed.grid_zone_id, None)
        for distinct_on in forms:
            got = selectors.accredited_capacity_latest_with_zone(
                premises=Premise.objects.all(), now=now, distinct_on=distinct_on
            )
            assert got == expected, (now, distinct_on)
        seen |= {kw for _, kw in expected.values()}
    assert Decimal("0") in seen and None in seen and len(seen) > 4  # zeros, none, and real figures
    before = _hour(day, 0, "UTC") - timedelta(days=2)
    assert selectors.accredited_capacity_latest_with_zone(premises=Premise.objects.all(), now=before)[
        superseded.pk
    ] == (superseded.grid_zone_id, Decimal("4.444"))  # the night's assessment, no factor, no declaration then
    at = _hour(day, 18, "UTC")
    assert selectors.accredited_capacity_latest_with_zone(premises=Premise.objects.none(), now=at) == {}
    with CaptureQueriesContext(connection) as one:
        selectors.accredited_capacity_latest_with_zone(premises=Premise.objects.filter(pk=premises[1].pk), now=at)
    with CaptureQueriesContext(connection) as all_:
        selectors.accredited_capacity_latest_with_zone(premises=Premise.objects.all(), now=at)
    assert len(one.captured_queries) == len(all_.captured_queries) == 3
