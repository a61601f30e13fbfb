"""The markets' REST API: orders with Idempotency-Key, cancel/modify, positions, auctions, prices, arbitrage."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from market.api import OrderCreatedOutputSerializer
from market.models import Auction, ClearingRun, MarketOrder
from market.services.auctions import auction_clear

from .factories import DAY

ORDERS = "/api/v1/market/orders/"
S = DAY + timedelta(hours=17)
E = S + timedelta(minutes=15)


def _iso(dt):
    return dt.isoformat().replace("+00:00", "Z")


def _sell_body(premise, kw="10", price="50", zone="sub-east-1"):
    return {
        "market": "real_time",
        "product": "congestion",
        "side": "sell",
        "zone": zone,
        "members": [{"premise": premise.pk, "kw": kw}],
        "price_per_mwh": price,
        "delivery_start": _iso(S),
        "delivery_end": _iso(E),
    }


def _email(org):
    return org.memberships.first().user.email


def _assert_documented(response, *, trades: str) -> None:
    """The order endpoint writes its answer out directly: field for field what the documented serializer gives
    for the new order, its members and the trades it made at once."""
    order = MarketOrder.objects.get(pk=response.json()["id"])
    order.created_trades = list(getattr(order, trades).order_by("pk"))
    members = list(order.members.order_by("premise_id"))
    assert response.json() == OrderCreatedOutputSerializer(order, context={"members": members}).data


def test_sell_order_idempotent_then_operator_buys_and_positions(mw, api_for):
    p5 = mw.premise(5)
    seller = api_for(_email(p5.organisation))
    body = _sell_body(p5)
    r1 = seller.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    r2 = seller.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert r1.status_code == 201 and r2.status_code == 201 and r1.json() == r2.json()
    _assert_documented(r1, trades="sell_trades")
    assert MarketOrder.objects.count() == 1
    assert (
        seller.post(ORDERS, {**body, "price_per_mwh": "51"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code
        == 409
    )
    op = api_for("operator@demo.flex")
    buy = {
        "market": "real_time",
        "product": "congestion",
        "side": "buy",
        "zone": "sub-east-1",
        "kw": "4",
        "price_per_mwh": "60",
        "kind": "fak",
        "delivery_start": _iso(S),
        "delivery_end": _iso(E),
    }
    r = op.post(ORDERS, buy, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    assert r.status_code == 201, r.json()
    _assert_documented(r, trades="buy_trades")
    assert r.json()["trades"][0]["kw"] == "4.000" and r.json()["trades"][0]["price_per_mwh"] == "50.00"
    pos = seller.get("/api/v1/market/positions/").json()
    assert pos["positions"][0]["kw"] == "4.000" and pos["positions"][0]["value"] == "0.05"  # 4 kW·0.25 h·$50/MWh
    assert op.get("/api/v1/market/positions/").json()["positions"][0]["kw"] == "-4.000"
    awards = op.get("/api/v1/market/awards/").json()["results"]
    assert [a["kw"] for a in awards] == ["4.000"] and awards[0]["buyer"] == mw.operator.pk
    # modify, then cancel; another participant cannot touch the order
    oid = r1.json()["id"]
    other = api_for("consumer01@demo.flex")
    assert other.post(f"/api/v1/market/orders/{oid}/cancel/").status_code == 404
    m = seller.post(f"/api/v1/market/orders/{oid}/modify/", {"kw": "3", "price_per_mwh": "50"}, format="json")
    assert m.status_code == 200 and m.json()["remaining_kw"] == "3.000"
    c = seller.post(f"/api/v1/market/orders/{oid}/cancel/")
    assert c.status_code == 200 and c.json()["status"] == "cancelled"


def test_order_refusals_answer_in_the_error_format_and_create_nothing(mw, api_for):
    p5 = mw.premise(5)
    seller = api_for(_email(p5.organisation))
    cases = [
        (seller, {**_sell_body(p5), "kw": None, "members": [{"premise": p5.pk, "kw": "500"}]}, 400, "over_capacity"),
        (seller, {**_sell_body(p5), "product": "capacity"}, 400, "market_product_mismatch"),
        (seller, {**_sell_body(p5), "delivery_start": S.replace(tzinfo=None).isoformat()}, 400, None),
        (seller, {**_sell_body(p5), "side": "buy", "members": [], "kw": "3"}, 403, None),
        (api_for("operator@demo.flex"), _sell_body(p5), 403, None),
        (seller, {**_sell_body(p5), "members": [{"premise": 999999, "kw": "1"}]}, 400, None),
    ]
    for client, body, status, code in cases:
        body = {k: v for k, v in body.items() if v is not None}
        r = client.post(ORDERS, body, format="json")
        assert r.status_code == status, (body, r.json())
        assert set(r.json()) == {"code", "detail", "fields"}
        if code:
            assert r.json()["code"] == code
    assert APIClient().post(ORDERS, _sell_body(p5), format="json").status_code in (401, 403)
    assert MarketOrder.objects.count() == 0


def test_auctions_prices_signal_rerun(mw, api_for):
    op = api_for("operator@demo.flex")
    consumer = api_for("consumer01@demo.flex")
    body = {
        "market": "day_ahead",
        "product": "congestion",
        "zone": "sub-east-1",
        "interval_minutes": 60,
        "delivery_start": _iso(DAY),
        "delivery_end": _iso(DAY + timedelta(days=1)),
        "gate_closure": _iso(DAY - timedelta(hours=12)),
    }
    assert consumer.post("/api/v1/market/auctions/", body, format="json").status_code == 403
    r = op.post("/api/v1/market/auctions/", body, format="json", HTTP_IDEMPOTENCY_KEY="au-1")
    assert r.status_code == 201, r.json()
    reused = op.post(
        "/api/v1/market/auctions/", {**body, "zone": "sub-east-2"}, format="json", HTTP_IDEMPOTENCY_KEY="au-1"
    )
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    auction = Auction.objects.get(pk=r.json()["id"])
    p5 = mw.premise(5)
    seller = api_for(_email(p5.organisation))
    sell = {
        "market": "day_ahead",
        "product": "congestion",
        "side": "sell",
        "zone": "sub-east-1",
        "members": [{"premise": p5.pk, "kw": "20"}],
        "price_per_mwh": "40",
        "auction": auction.pk,
        "delivery_start": _iso(S),
        "delivery_end": _iso(S + timedelta(hours=1)),
    }
    assert seller.post(ORDERS, sell, format="json").status_code == 201
    bid = {**sell, "side": "buy", "kw": "50", "price_per_mwh": "80"}
    del bid["members"]
    assert op.post(ORDERS, bid, format="json").status_code == 201
    # before the gate: offered 20 kW < 50 kW requested reserve → scarcity adder 1000 × 30/50 = 600
    sig = (
        APIClient()
        .get(
            "/api/v1/market/price-signal/",
            {"zone": "sub-east-1", "product": "congestion", "start": _iso(S), "end": _iso(S + timedelta(hours=1))},
        )
        .json()
    )
    assert sig["available_kw"] == "20.000" and sig["requested_reserve_kw"] == "50.000"
    assert sig["scarcity_adder"] == "600.00"
    run = auction_clear(auction_id=auction.pk, now=auction.gate_closure)
    prices = APIClient().get("/api/v1/market/prices/", {"zone": "sub-east-1"}).json()["results"]
    assert prices[0]["intervals"][0]["clearing_price_per_mwh"] == "40.00"
    assert prices[0]["intervals"][0]["volume_kw"] == "20.000"
    sig = (
        APIClient()
        .get(
            "/api/v1/market/price-signal/",
            {"zone": "sub-east-1", "product": "congestion", "start": _iso(S), "end": _iso(S + timedelta(hours=1))},
        )
        .json()
    )
    assert sig["last_clearing_price"] == "40.00" and sig["available_kw"] == "0.000"
    assert Decimal(sig["price"]) == Decimal("40.00") + Decimal(sig["scarcity_adder"])
    rr = op.get(f"/api/v1/market/runs/{run.pk}/rerun/").json()
    assert rr["identical"] is True
    assert consumer.get(f"/api/v1/market/runs/{run.pk}/rerun/").status_code == 403
    assert ClearingRun.objects.count() == 1


def test_arbitrage_plan_for_an_ev(mw, api_for):
    client = api_for("consumer01@demo.flex")
    body = {
        "prices_per_mwh": ["200", "180", "50", "40", "60", "220"],
        "start": _iso(DAY),
        "interval_minutes": 60,
        "capacity_kwh": 40,
        "max_charge_kw": 7,
        "max_discharge_kw": 0,
        "initial_kwh": 10,
        "target_kwh": 25,
        "deadline_index": 5,
    }
    r = client.post("/api/v1/market/arbitrage/", body, format="json")
    assert r.status_code == 200, r.json()
    plan = r.json()
    charged = [Decimal(s["charge_kw"]) for s in plan["schedule"]]
    assert charged[0] == charged[1] == charged[5] == 0  # charges in the three cheapest hours
    assert Decimal(plan["cost"]) < Decimal(plan["unmanaged_cost"])
    assert [o["delivery_start"][:13] for o in plan["offers"]] == ["2030-06-03T00", "2030-06-03T01", "2030-06-03T02"][
        : len(plan["offers"])
    ]
    assert api_for("operator@demo.flex").post("/api/v1/market/arbitrage/", body, format="json").status_code == 403
    bad = client.post("/api/v1/market/arbitrage/", {**body, "target_kwh": 500}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "infeasible"


def test_token_authentication_reads_the_roles_in_the_same_query_and_refuses_bad_tokens(mw, django_assert_num_queries):
    from rest_framework.authtoken.models import Token

    p5 = mw.premise(5)
    user = p5.organisation.memberships.first().user
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_assert_num_queries(2):  # token, user and memberships in one; the count of orders in the other (none)
        r = client.get(ORDERS)
    assert r.status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(ORDERS).status_code == 401
    user.is_active = False
    user.save(update_fields=["is_active"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(ORDERS).status_code == 401


def test_an_order_for_an_unknown_auction_is_refused_on_its_field(mw, api_for):
    p5 = mw.premise(5)
    body = {**_sell_body(p5), "market": "day_ahead", "auction": 987654}
    r = api_for(_email(p5.organisation)).post(ORDERS, body, format="json")
    assert r.status_code == 400 and r.json()["fields"]["auction"] == ["Unknown auction."]
    assert MarketOrder.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"market": "nowhere", "product": "energy", "side": "up", "zone": "x y", "price_per_mwh": "a"},
        {**_sell_body(type("P", (), {"pk": 1})()), "members": [{"premise": "x", "kw": "-"}, {}]},
        {**_sell_body(type("P", (), {"pk": 1})()), "delivery_start": "2030-06-03T17:00:00"},  # naive
        _sell_body(type("P", (), {"pk": 1})()),
    ],
)
def test_the_order_endpoint_validates_as_its_serializer_does(body):
    """The endpoint validates with fields built once per process; answers and errors are the serializer's."""
    from rest_framework.exceptions import ValidationError

    from flexplatform.api import validated
    from market.api import OrderListCreateApi

    serializer = OrderListCreateApi.InputSerializer(data=body)
    if serializer.is_valid():
        assert validated(OrderListCreateApi.InputSerializer, body) == serializer.validated_data
    else:
        with pytest.raises(ValidationError) as e:
            validated(OrderListCreateApi.InputSerializer, body)
        assert e.value.detail == serializer.errors
