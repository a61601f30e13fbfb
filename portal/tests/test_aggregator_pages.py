"""The aggregator's pages: enrolment of consented premises, the portfolio order builder, the fleet's search,
filters and paging, and query counts that do not grow with the fleet."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Enrolment, Premise
from market.models import MarketOrder

from .aggregator_world import aggregator_world

pytestmark = pytest.mark.django_db


def _login(email):
    c = Client()
    c.force_login(get_user_model().objects.get(email=email))
    return c


def _owner_email(premise):
    return premise.organisation.memberships.first().user.email


def test_consumers_may_not_enrol_or_build_orders(mw):
    w = aggregator_world(mw)
    c = _login(_owner_email(w["p0"]))
    assert c.get("/aggregator/enrol/").status_code == 403
    assert c.post("/aggregator/enrol/", {"premises": [w["p0"].pk], "service": "local_flexibility"}).status_code == 403
    assert c.get("/aggregator/orders/new/").status_code == 403
    assert not Enrolment.objects.filter(premise=w["p0"]).exists()


def test_enrolment_needs_the_terms_confirmed_then_enrols_and_shows_in_the_fleet(mw):
    w = aggregator_world(mw)
    agg = _login("aggregator@demo.flex")
    page = agg.get("/aggregator/enrol/").content.decode()
    assert w["p0"].name in page and 'data-testid="enrolment-terms"' in page
    refused = agg.post("/aggregator/enrol/", {"premises": [w["p0"].pk], "service": "local_flexibility"})
    assert refused.status_code == 200
    assert refused.context["form"].errors["accept_terms"] == ["Confirm the terms."]
    assert not Enrolment.objects.filter(premise=w["p0"]).exists()
    # a premise with no consent to this aggregator is not in the choice
    other = Premise.objects.exclude(pk__in=[p.pk for p in mw.world.premises]).first() or mw.premise(3)
    bad = agg.post("/aggregator/enrol/", {"premises": [other.pk], "service": "local_flexibility", "accept_terms": "on"})
    assert "premises" in bad.context["form"].errors
    ok = agg.post(
        "/aggregator/enrol/", {"premises": [w["p0"].pk], "service": "local_flexibility", "accept_terms": "on"}
    )
    assert ok.status_code == 302
    w["p0"].refresh_from_db()
    assert w["p0"].aggregator_id == mw.aggregator.pk
    dash = agg.get("/aggregator/", {"q": w["p0"].name, "enrolled": "yes"})
    assert [r["premise"].pk for r in dash.context["fleet"]["rows"]] == [w["p0"].pk]
    assert "Enrolled" in dash.content.decode()
    assert agg.get("/aggregator/", {"q": w["p0"].name, "enrolled": "no"}).context["fleet"]["rows"] == []


def test_portfolio_order_refusals_show_in_the_form_and_an_order_names_its_members(mw):
    w = aggregator_world(mw)
    agg = _login("aggregator@demo.flex")
    base = {
        "market": "day_ahead",
        "product": "energy",
        "zone": mw.iso.pk,
        "delivery_start": w["local_start"],
        "delivery_end": w["local_end"],
        "price_per_mwh": "50",
        "kw_per_member": "50",
        "members": [w["p1"].pk, mw.premise(2).pk],
    }
    no_auction = agg.post("/aggregator/orders/new/", base)
    assert no_auction.status_code == 200 and "auction" in no_auction.context["form"].errors
    too_big = agg.post("/aggregator/orders/new/", {**base, "auction": w["auction"].pk, "kw_per_member": "500"})
    assert too_big.status_code == 200 and too_big.context["form"].errors
    not_member = agg.post("/aggregator/orders/new/", {**base, "auction": w["auction"].pk, "members": [w["p0"].pk]})
    assert "members" in not_member.context["form"].errors  # consented, not enrolled: not a member
    assert not MarketOrder.objects.filter(organisation=mw.aggregator).exists()
    ok = agg.post("/aggregator/orders/new/", {**base, "auction": w["auction"].pk})
    assert ok.status_code == 302, ok.context["form"].errors
    order = MarketOrder.objects.get(organisation=mw.aggregator)
    assert order.kw == Decimal("100.000")
    html = agg.get("/aggregator/").content.decode()
    table = html[html.index('data-testid="portfolio-orders"') :]
    assert f"{w['p1'].name}: 50.000 kW" in table[: table.index("</table>")]
    # One formatting layer: no raw Decimal with a long tail anywhere on the dashboard (e.g. "0.0200000000000000").
    import re

    assert not re.findall(r"\d\.\d{7,}", html)


def test_dashboard_queries_do_not_grow_with_the_fleet(mw):
    agg = _login("aggregator@demo.flex")
    agg.get("/aggregator/")
    with CaptureQueriesContext(connection) as before:
        assert agg.get("/aggregator/").status_code == 200
    aggregator_world(mw)  # one more consented premise, an auction
    from accounts.consents import enrolment_create

    enrolment_create(premise=mw.premise(0), aggregator=mw.aggregator)
    with CaptureQueriesContext(connection) as after:
        assert agg.get("/aggregator/").status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries) <= 30
