"""The portal shows the consumer's flexibility and baseline vs actual, and the aggregator's capacity by hour."""

from __future__ import annotations

import pytest
from django.test import Client

import demo
from accounts.models import Membership
from assessment import services


def _login(email: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(email=email))
    return client


@pytest.mark.django_db
def test_consumer_sees_flexibility_score_drivers_and_baseline_chart(small_world):
    premise = small_world.premises[4]
    services.flexibility_profile_compute(premise=premise, as_of=small_world.day)
    report = services.baseline_accuracy_report(meter=premise.meters.get(), as_of=small_world.day)
    best = next(r for r in report if r.recommended)
    start, end = demo.event_window(small_world.day)
    services.baseline_compute(meter=premise.meters.get(), window_start=start, window_end=end)
    email = Membership.objects.filter(organisation=premise.organisation).first().user.email
    html = _login(email).get("/consumer/").content.decode()
    assert 'data-testid="flex-score"' in html
    assert "reliability factor 1.0000" in html
    assert f'id="baseline-{premise.pk}"' in html and "caiso-10in10" in html
    assert f"Most accurate baseline for you: {best.method}" in html


@pytest.mark.django_db
def test_aggregator_sees_portfolio_capacity_by_hour(small_world):
    members = [p for p in small_world.premises if p.aggregator_id]
    for p in members:
        services.flexibility_profile_compute(premise=p, as_of=small_world.day)
    html = _login("aggregator@demo.flex").get("/aggregator/").content.decode()
    assert 'data-testid="capacity-by-hour"' in html
    assert html.count('<th scope="col">', html.index('data-testid="capacity-by-hour"')) >= 24
    assert f'data-testid="enrolled-count">{len(members)}<' in html


@pytest.mark.django_db
def test_portfolio_flexibility_adds_up(small_world):
    from decimal import Decimal

    from assessment.selectors import portfolio_flexibility

    profiles = [
        services.flexibility_profile_compute(premise=p, as_of=small_world.day) for p in small_world.premises[:3]
    ]
    out = portfolio_flexibility(premises=small_world.premises[:3])
    assert out["peak_shaving_kw"] == sum((p.peak_shaving_kw for p in profiles), Decimal("0"))
    assert out["load_shift_kwh"] == sum((p.load_shift_kwh for p in profiles), Decimal("0"))
    w = [float(p.peak_shaving_kw) for p in profiles]
    h = 17  # Monday 17:00
    expected = round(sum(wi * p.availability_scores[h] for wi, p in zip(w, profiles, strict=True)) / sum(w))
    assert out["availability_scores"][h] == expected
