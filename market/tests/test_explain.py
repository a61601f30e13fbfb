"""The clearing explanation (market.explain) with hand-computed numbers: merit order, marginal offer, uniform price,
and the reasons when less than asked cleared."""

from __future__ import annotations

from decimal import Decimal

from market.explain import explain_auction_run, explain_request_run


def _request_run(offers, awards, price, *, kw="50", cap="100", excluded=None):
    inputs = {
        "request": {"id": 1, "kw": kw, "max_price_per_mwh": cap},
        "offers": [
            {"id": i, "kw": k, "price_per_mwh": p, "submitted_at": f"2030-06-01T00:00:0{i}+00:00"} for i, k, p in offers
        ],
        "excluded": excluded or {"above_price_cap": 0, "window_not_covered": 0},
    }
    outputs = {"clearing_price_per_mwh": price, "awards": [{"offer_id": i, "kw": k} for i, k in awards]}
    return explain_request_run(inputs=inputs, outputs=outputs, zone_code="iso-east")


def test_merit_order_marginal_offer_and_uniform_price():
    # 50 kW asked at ≤ 100: 30 kW @ 50 accepted, 40 kW @ 60 marginal for 20 kW, price = 60 (the marginal offer's)
    e = _request_run(
        offers=[(2, "40", "60"), (1, "30", "50")],
        awards=[(1, "30"), (2, "20")],
        price="60.00",
        excluded={"above_price_cap": 1, "window_not_covered": 0},
    )
    assert [(r.rank, r.offer_id, r.cumulative_kw, r.awarded_kw, r.outcome) for r in e.merit_order] == [
        (1, 1, Decimal("30"), Decimal("30"), "accepted"),
        (2, 2, Decimal("70"), Decimal("20"), "marginal (part)"),
    ]
    assert e.awarded_kw == Decimal("50") and e.clearing_price_per_mwh == Decimal("60.00")
    assert "every accepted offer is paid 60.00 $/MWh" in e.price_rule
    assert e.reasons == [
        "1 open offer in zone iso-east asked more than the cap of 100 $/MWh.",
        "Met in full: 50 kW from 2 offer(s).",
    ]


def test_nothing_cleared_says_why():
    empty = _request_run(offers=[], awards=[], price=None)
    assert empty.clearing_price_per_mwh is None and empty.awarded_kw == 0
    assert empty.reasons == ["No open offer in zone iso-east when the request cleared: nothing to award."]
    capped = _request_run(offers=[], awards=[], price=None, excluded={"above_price_cap": 3, "window_not_covered": 2})
    assert capped.reasons == [
        "No open offer in zone iso-east was eligible.",
        "3 open offers in zone iso-east asked more than the cap of 100 $/MWh.",
        "2 open offers in zone iso-east did not cover the whole window.",
    ]
    short = _request_run(offers=[(1, "20", "40")], awards=[(1, "20")], price="40")
    assert short.reasons == ["Eligible offers totalled 20 kW, less than the 50 kW requested."]


def test_auction_with_no_crossing_bids_explains_the_gap():
    inputs = {
        "orders": [
            {"id": 7, "side": "sell", "kw": "10", "price_per_mwh": "90", "priority": 0},
            {"id": 8, "side": "buy", "kw": "10", "price_per_mwh": "50", "priority": 1},
        ],
        "demand_curve": [],
    }
    outputs = {"intervals": [{"interval": 0, "clearing_price_per_mwh": None, "volume_kw": "0"}], "accepted": {}}
    e = explain_auction_run(inputs=inputs, outputs=outputs)
    assert e.awarded_kw == 0 and e.clearing_price_per_mwh is None
    assert e.reasons == ["The cheapest offer (90 $/MWh) asked more than the highest bid (50 $/MWh)."]
    outputs = {
        "intervals": [{"interval": 0, "clearing_price_per_mwh": "70.00", "volume_kw": "10"}],
        "accepted": {"7": {"0": "10"}, "8": {"0": "10"}},
    }
    inputs["orders"][1]["price_per_mwh"] = "95"
    e = explain_auction_run(inputs=inputs, outputs=outputs)
    assert e.clearing_price_per_mwh == Decimal("70.00") and e.merit_order[0].outcome == "accepted"
