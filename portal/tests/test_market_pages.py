"""Where the markets show: the public price page, the aggregator dashboard and the consumer portal."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.test import Client

from market.services.auctions import auction_clear, auction_open
from market.services.orders import order_submit
from market.tests.factories import DAY


def _login(email):
    c = Client()
    c.force_login(get_user_model().objects.get(email=email))
    return c


def test_portfolio_award_shows_in_prices_page_dashboard_and_consumer_portal(mw):
    a = auction_open(
        operator=mw.operator,
        market="day_ahead",
        product="energy",
        zone=mw.iso,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=60,
        gate_closure=DAY - timedelta(hours=12),
    )
    p1, p2 = mw.premise(1), mw.premise(2)  # households enrolled with the aggregator
    s = DAY + timedelta(hours=18)
    order = order_submit(
        organisation=mw.aggregator,
        market="day_ahead",
        product="energy",
        side="sell",
        zone=mw.iso,
        members=[(p1, Decimal("60")), (p2, Decimal("40"))],
        price_per_mwh=Decimal("70"),
        delivery_start=s,
        delivery_end=s + timedelta(hours=1),
        auction=a,
        now=mw.now,
    ).order
    order_submit(
        organisation=mw.operator,
        market="day_ahead",
        product="energy",
        side="buy",
        zone=mw.iso,
        kw=Decimal("100"),
        price_per_mwh=Decimal("95"),
        delivery_start=s,
        delivery_end=s + timedelta(hours=1),
        auction=a,
        now=mw.now,
    )
    auction_clear(auction_id=a.pk, now=a.gate_closure)

    page = Client().get("/market/prices/")
    assert page.status_code == 200
    chart = json.loads(json.dumps(page.context["chart"]))
    assert chart[0]["label"] == "iso-east · energy · day_ahead"
    assert chart[0]["points"] == [{"x": s.isoformat(), "y": "70.00"}]
    assert b'id="price-data"' in page.content and b"70.00" in page.content

    dash = _login("aggregator@demo.flex").get("/aggregator/")
    assert dash.status_code == 200
    assert [row["order"].pk for row in dash.context["orders"]] == [order.pk]
    html = dash.content.decode()
    orders_table = html[html.index('data-testid="portfolio-orders"') :]
    assert f"{p1.name}: 60.000 kW, {p2.name}: 40.000 kW" in orders_table[: orders_table.index("</table>")]
    per_member = {a_.premise_id: a_.kw for a_ in dash.context["awards"]["page"].object_list}
    assert per_member == {p1.pk: Decimal("60.000"), p2.pk: Decimal("40.000")}

    email = p1.organisation.memberships.first().user.email
    portal = _login(email).get("/consumer/")
    assert portal.status_code == 200
    assert [o.pk for o in portal.context["my_orders"]] == [order.pk]
    assert [a_.kw for a_ in portal.context["my_awards"]] == [Decimal("60.000")]
    assert portal.context["expected_earnings"] == Decimal("4.20")  # 60 kW × 1 h × $70/MWh
    assert b'data-testid="expected-earnings"' in portal.content
    # a consumer may not open the aggregator dashboard
    assert _login(email).get("/aggregator/").status_code == 403
