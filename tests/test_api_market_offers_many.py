"""The offers endpoint's list POST: an aggregator's portfolio in one request (``market.services.offers_submit_many``),
all or nothing, a refusal naming the item in the platform's one error format; a repeat with the same
Idempotency-Key replays the first response."""

from __future__ import annotations

from decimal import Decimal

import pytest

import demo
from assessment.services import flexibility_assess
from market.models import FlexibilityOffer

OFFERS = "/api/v1/market/offers/"
ERROR_KEYS = {"code", "detail", "fields"}


def _iso(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@pytest.fixture
def portfolio(small_world):
    start, end = demo.event_window(small_world.day)
    members = [p for p in small_world.premises if p.aggregator_id == small_world.aggregator.pk]
    assessed = [flexibility_assess(premise=p, window_start=start, window_end=end) for p in members]
    return [
        {
            "premise": p.pk,
            "zone": p.grid_zone.code,
            "kw": str(a.capacity_kw),
            "price_per_mwh": "80.00",
            "window_start": _iso(start),
            "window_end": _iso(end),
        }
        for p, a in zip(members, assessed, strict=True)
    ]


def test_a_portfolio_is_offered_in_one_request(portfolio, api_for):
    client = api_for("aggregator@demo.flex")
    response = client.post(OFFERS, portfolio, format="json", HTTP_IDEMPOTENCY_KEY="portfolio-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(o["premise"], o["kw"], o["status"]) for o in body] == [(b["premise"], b["kw"], "open") for b in portfolio]
    again = client.post(OFFERS, portfolio, format="json", HTTP_IDEMPOTENCY_KEY="portfolio-1")
    assert again.status_code == 201 and again.json() == body
    assert FlexibilityOffer.objects.count() == len(portfolio) == 2


def test_a_refused_item_is_named_and_nothing_is_listed(portfolio, api_for):
    client = api_for("aggregator@demo.flex")
    over = [portfolio[0], {**portfolio[1], "kw": str(Decimal(portfolio[1]["kw"]) + Decimal("0.001"))}]
    response = client.post(OFFERS, over, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS and body["code"] == "over_capacity"
    assert body["detail"].startswith("Item 1: ") and "items[1].kw" in body["fields"]
    unknown = client.post(OFFERS, [portfolio[0], {**portfolio[1], "premise": 999_999}], format="json")
    assert unknown.status_code == 400 and "items[1].premise" in unknown.json()["fields"]
    malformed = client.post(OFFERS, [portfolio[0], {**portfolio[1], "kw": "-1"}], format="json")
    assert malformed.status_code == 400 and set(malformed.json()) == ERROR_KEYS
    assert client.post(OFFERS, [], format="json").status_code == 400
    assert FlexibilityOffer.objects.count() == 0


def test_a_consumer_may_not_list_another_sellers_premises(portfolio, api_for):
    response = api_for("consumer01@demo.flex").post(OFFERS, portfolio, format="json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Item 0: This seller may not offer this premise")
    assert FlexibilityOffer.objects.count() == 0
