"""Many sellers' offer lists at once (``market.services.offers_submit_sellers``, the ``offers_submit_chunk`` task):
each list as ``offers_submit_many`` takes it (the same offers, the same refusals), one refused list leaving the
others, in statements that do not grow with the sellers; a chunk sent again offers nothing twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import demo
from assessment.services import flexibility_assess
from flexplatform.errors import ApplicationError
from market import tasks
from market.models import FlexibilityOffer
from market.services import OfferItem, offers_submit_many
from market.services.offers_bulk import SellerOffers, offers_submit_sellers


def _item(premise, kw, start, end) -> OfferItem:
    return OfferItem(
        premise=premise, zone=premise.grid_zone, kw=kw, price_per_mwh=Decimal("90"), window_start=start, window_end=end
    )


def _rows():
    return sorted(FlexibilityOffer.objects.values_list("seller_id", "premise_id", "zone_id", "kw", "price_per_mwh"))


def test_each_sellers_list_is_taken_as_offers_submit_many_takes_it(small_world):
    start, end = demo.event_window(small_world.day)
    caps = {
        p.pk: flexibility_assess(premise=p, window_start=start, window_end=end).capacity_kw
        for p in small_world.premises
    }
    members = [p for p in small_world.premises if p.aggregator_id == small_world.aggregator.pk]
    own = [p for p in small_world.premises if p.aggregator_id is None and caps[p.pk] > 0]
    assert len(own) >= 3
    lists = [
        SellerOffers(small_world.aggregator, [_item(p, caps[p.pk], start, end) for p in members]),
        SellerOffers(own[0].organisation, [_item(own[0], caps[own[0].pk], start, end)]),
        SellerOffers(own[1].organisation, [_item(own[1], caps[own[1].pk] + Decimal("0.001"), start, end)]),
        SellerOffers(small_world.operator, [_item(own[2], Decimal("1"), start, end)]),
        SellerOffers(own[2].organisation, [_item(own[2], caps[own[2].pk], start, end)]),
        SellerOffers(own[0].organisation, [_item(members[0], Decimal("1"), start, end)]),  # not its premise
    ]
    refusals = {}
    for k in (2, 3, 5):
        with pytest.raises(ApplicationError) as refused:
            offers_submit_many(seller=lists[k].seller, items=lists[k].items)
        refusals[k] = refused.value
    with CaptureQueriesContext(connection) as ctx:
        found = offers_submit_sellers(submissions=lists)
    for k, exc in refusals.items():
        assert type(found[k]) is type(exc) and (found[k].code, found[k].detail) == (exc.code, exc.detail)
        assert found[k].fields == exc.fields
    assert [[(o.premise_id, o.kw) for o in found[k]] for k in (0, 1, 4)] == [
        [(p.pk, caps[p.pk]) for p in members],
        [(own[0].pk, caps[own[0].pk])],
        [(own[2].pk, caps[own[2].pk])],
    ]
    assert all(o.pk for k in (0, 1, 4) for o in found[k])
    batch = _rows()
    # the same offers as one offers_submit_many per accepted list
    FlexibilityOffer.objects.all().delete()
    for k in (0, 1, 4):
        offers_submit_many(seller=lists[k].seller, items=lists[k].items)
    assert _rows() == batch
    # reads set-based: the refusals' explanations aside, a fixed number of statements for six lists
    assert len(ctx.captured_queries) <= 30, len(ctx.captured_queries)


def test_a_chunk_task_sent_again_offers_nothing_twice(small_world):
    start, end = demo.event_window(small_world.day)
    payload = []
    for p in small_world.premises:
        kw = flexibility_assess(premise=p, window_start=start, window_end=end).capacity_kw
        if kw > 0:
            seller = p.aggregator or p.organisation
            payload.append(
                {"seller": seller.pk, "created_by": None, "items": [
                    [p.pk, p.grid_zone_id, str(kw), "95.50", start.isoformat(), end.isoformat()]]}
            )  # fmt: skip
    made = tasks.offers_submit_chunk.delay(payload).get()
    assert made == len(payload) == FlexibilityOffer.objects.count()
    rows = _rows()
    assert tasks.offers_submit_chunk.delay(payload).get() == 0
    assert _rows() == rows
