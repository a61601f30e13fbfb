"""The market reads the governed parameters: a passed and executed proposal changes what it accepts at once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from flexplatform.errors import ApplicationError
from market import parameters as market_parameters
from market.models import MarketOrder
from market.parameters import market_parameter
from settlement.services.governance import proposal_create, proposals_tally_due, vote_cast

from .factories import DAY, stake_deposit

ORDERS = "/api/v1/market/orders/"
S = DAY + timedelta(hours=17)


def _sell(premise, kw):
    return {
        "market": "real_time",
        "product": "congestion",
        "side": "sell",
        "zone": "sub-east-1",
        "members": [{"premise": premise.pk, "kw": kw}],
        "price_per_mwh": "50",
        "delivery_start": S.isoformat(),
        "delivery_end": (S + timedelta(minutes=15)).isoformat(),
    }


def _govern(holder, parameter: str, value: str) -> None:
    """A governance-token holder proposes, votes, and the proposal passes and executes after voting ends."""
    stake_deposit(organisation=holder, amount=Decimal("100"), business_key=f"gov-{parameter}")
    now = timezone.now()
    proposal = proposal_create(proposer=holder, parameter=parameter, new_value=Decimal(value), voting_days=1, now=now)
    vote_cast(proposal_id=proposal.pk, voter=holder, support=True, now=now + timedelta(minutes=1))
    assert proposals_tally_due(now=now + timedelta(days=1, minutes=1)) == [proposal.pk]


def test_a_passed_proposal_raising_minimum_offer_kw_refuses_smaller_orders_naming_the_field(mw, api_for):
    p5 = mw.premise(5)
    seller = api_for(p5.organisation.memberships.first().user.email)
    assert seller.post(ORDERS, _sell(p5, "3"), format="json").status_code == 201  # congestion: 1 kW minimum
    _govern(mw.aggregator, "minimum_offer_kw", "5")
    r = seller.post(ORDERS, _sell(p5, "3"), format="json")
    assert r.status_code == 400, r.json()
    assert r.json()["code"] == "below_minimum_size"
    assert r.json()["fields"]["kw"] == ["At least 5.000000 kW."]
    assert "minimum_offer_kw" in r.json()["detail"]
    assert MarketOrder.objects.count() == 1
    assert seller.post(ORDERS, _sell(p5, "5"), format="json").status_code == 201


def test_cached_parameters_are_read_once_and_never_stale_after_a_proposal_executes(
    mw, django_assert_num_queries, django_capture_on_commit_callbacks
):
    assert market_parameter("minimum_offer_kw") == Decimal("1")
    with django_assert_num_queries(0):  # served from this process's copy while the version token stands
        assert market_parameter("minimum_offer_kw") == Decimal("1")
    with django_capture_on_commit_callbacks(execute=True):  # the proposal commits: a new token is published
        _govern(mw.aggregator, "minimum_offer_kw", "5")
    assert market_parameter("minimum_offer_kw") == Decimal("5")
    with django_assert_num_queries(0):
        assert market_parameter("minimum_offer_kw") == Decimal("5")
    # another process (its copy read under the old token) re-reads once it sees the new token
    key = market_parameters.market_parameters_request().key
    tokens, expires, values = market_parameters._parameter_snapshots._copies[key]
    market_parameters._parameter_snapshots._copies[key] = (
        ("an-old-token",),
        expires,
        {**values, "minimum_offer_kw": Decimal("1")},
    )
    assert market_parameter("minimum_offer_kw") == Decimal("5")


def test_the_executing_connection_reads_the_new_value_before_it_commits(mw):
    assert market_parameter("minimum_offer_kw") == Decimal("1")
    _govern(mw.aggregator, "minimum_offer_kw", "5")  # inside the test's transaction: nothing committed
    assert market_parameter("minimum_offer_kw") == Decimal("5")
    from market.services.orders import order_submit

    p5 = mw.premise(5)
    with pytest.raises(ApplicationError) as e:
        order_submit(
            organisation=p5.organisation,
            market="real_time",
            product="congestion",
            side="sell",
            zone=mw.sub1,
            members=[(p5, Decimal("3"))],
            price_per_mwh=Decimal("50"),
            delivery_start=S,
            delivery_end=S + timedelta(minutes=15),
            now=mw.now,
        )
    assert e.value.code == "below_minimum_size" and "kw" in e.value.fields
