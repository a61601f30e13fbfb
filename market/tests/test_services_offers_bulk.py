"""Many offers in one call (``market.services.offers_submit_many``): the gates of ``offer_submit`` item by item,
with the same refusals naming the item, all or nothing, in statements that do not grow with the items."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import demo
from accounts.models import GridZone
from assessment.services import flexibility_assess
from flexplatform.errors import ApplicationError
from market.models import FlexibilityOffer
from market.services import OfferItem, offer_submit, offers_submit_many


@pytest.fixture
def portfolio(small_world):
    """The aggregator's households, assessed for the demo's event window."""
    start, end = demo.event_window(small_world.day)
    members = [p for p in small_world.premises if p.aggregator_id == small_world.aggregator.pk]
    caps = {p.pk: flexibility_assess(premise=p, window_start=start, window_end=end).capacity_kw for p in members}
    assert len(members) == 2 and all(kw > Decimal("0.01") for kw in caps.values())
    return small_world, members, caps, start, end


def _item(premise, kw, start, end, /, **over) -> OfferItem:
    values = dict(
        premise=premise, zone=premise.grid_zone, kw=kw, price_per_mwh=Decimal("90"), window_start=start, window_end=end
    )
    values.update(over)
    return OfferItem(**values)


def test_a_portfolio_is_offered_in_one_call_as_offer_submit_would(portfolio):
    world, members, caps, start, end = portfolio
    offers = offers_submit_many(seller=world.aggregator, items=[_item(p, caps[p.pk], start, end) for p in members])
    assert [(o.premise_id, o.kw, o.status) for o in offers] == [(p.pk, caps[p.pk], "open") for p in members]
    assert all(o.pk and o.seller_id == world.aggregator.pk for o in offers)
    # Their capacity is now committed: one more kW for either is refused by the single path too.
    with pytest.raises(ApplicationError) as single:
        offer_submit(
            seller=world.aggregator, premise=members[0], zone=members[0].grid_zone, kw=Decimal("0.001"),
            price_per_mwh=Decimal("90"), window_start=start, window_end=end,
        )  # fmt: skip
    assert single.value.code == "over_capacity"


def test_items_for_one_premise_count_against_each_other(portfolio):
    world, members, caps, start, end = portfolio
    p = members[0]
    half = (caps[p.pk] / 2).quantize(Decimal("0.001"))
    items = [
        _item(p, half, start, end),
        _item(p, caps[p.pk] - half, start, end),
        _item(p, Decimal("0.001"), start, end),
    ]
    with pytest.raises(ApplicationError) as refused:
        offers_submit_many(seller=world.aggregator, items=items)
    assert refused.value.code == "over_capacity" and refused.value.detail.startswith("Item 2: ")
    assert "items[2].kw" in refused.value.fields
    assert FlexibilityOffer.objects.count() == 0  # all or nothing
    assert len(offers_submit_many(seller=world.aggregator, items=items[:2])) == 2


def _cases(world, members, caps, start, end):
    other = GridZone.objects.create(code="elsewhere", name="Elsewhere")  # a zone the premise is not in
    own = next(p for p in world.premises if p.aggregator_id is None)
    p = members[0]
    return {
        "negative kW": dict(kw=Decimal("-1")),
        "window ends before it starts": dict(window_end=start),
        "premise outside the zone": dict(zone=other),
        "not assessed for the window": dict(
            window_start=start - timedelta(hours=24), window_end=end - timedelta(hours=24)
        ),
        "over capacity": dict(kw=caps[p.pk] + Decimal("0.001")),
        "premise not the seller's": dict(premise=own, zone=own.grid_zone),
    }


@pytest.mark.parametrize(
    "case",
    [
        "negative kW",
        "window ends before it starts",
        "premise outside the zone",
        "not assessed for the window",
        "over capacity",
        "premise not the seller's",
    ],
)
def test_each_refusal_is_the_single_paths_naming_the_item(portfolio, case):
    world, members, caps, start, end = portfolio
    bad = _item(members[0], caps[members[0].pk], start, end, **_cases(world, members, caps, start, end)[case])
    with pytest.raises(ApplicationError) as single:
        offer_submit(
            seller=world.aggregator, premise=bad.premise, zone=bad.zone, kw=bad.kw, price_per_mwh=bad.price_per_mwh,
            window_start=bad.window_start, window_end=bad.window_end,
        )  # fmt: skip
    good = _item(members[1], caps[members[1].pk], start, end)
    with pytest.raises(ApplicationError) as many:
        offers_submit_many(seller=world.aggregator, items=[good, bad])
    assert type(many.value) is type(single.value) and many.value.code == single.value.code
    assert many.value.detail == f"Item 1: {single.value.detail}"
    assert all(name.startswith("items[1]") for name in many.value.fields)
    assert sorted(f.split(".", 1)[-1] for f in many.value.fields) == sorted(single.value.fields)
    assert FlexibilityOffer.objects.count() == 0


def test_a_seller_that_may_not_trade_is_refused_before_any_item(portfolio):
    world, members, caps, start, end = portfolio
    with pytest.raises(ApplicationError) as refused:
        offers_submit_many(seller=world.operator, items=[_item(p, caps[p.pk], start, end) for p in members])
    assert refused.value.code == "trading_suspended"


def test_the_statements_do_not_grow_with_the_items(portfolio):
    world, members, caps, start, end = portfolio
    two = [_item(p, Decimal("0.001"), start, end) for p in members]
    six = [_item(p, Decimal("0.001"), start, end) for _ in range(3) for p in members]
    with CaptureQueriesContext(connection) as q2:
        offers_submit_many(seller=world.aggregator, items=two)
    with CaptureQueriesContext(connection) as q6:
        offers_submit_many(seller=world.aggregator, items=six)
    assert len(q6) == len(q2) and FlexibilityOffer.objects.count() == 8
    assert offers_submit_many(seller=world.aggregator, items=[]) == []
