"""Two orders racing for the same staked collateral on real PostgreSQL: one wins (ADR 0025).

The seller's two orders name different premises (no premise lock is shared) in a product without a minimum
size worth pooling (congestion, priority activation: 2 FLEX per kW): only the collateral row serialises them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from flexplatform.errors import ApplicationError
from market.hooks import collateral_position
from market.models import MarketOrder
from market.services.orders import order_submit

from .factories import DAY, one_owner, stake_deposit
from .test_concurrency import run_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
S = DAY + timedelta(hours=11)


def test_two_orders_racing_for_the_same_collateral_one_wins(mw):
    assert connection.vendor == "postgresql"
    org, (p4, p5) = one_owner(mw, [4, 5])  # both below sub-east-1
    stake_deposit(organisation=org, amount=Decimal("120"), business_key="race")

    def order(premise):
        return lambda: order_submit(
            organisation=org,
            market="real_time",
            product="congestion",
            side="sell",
            zone=mw.sub1,
            members=[(premise, Decimal("60"))],  # 60 kW x 2 FLEX per kW = 120 FLEX each
            price_per_mwh=Decimal("50"),
            delivery_start=S,
            delivery_end=S + timedelta(minutes=15),
            priority=True,
            now=mw.now,
        )

    results = run_parallel([order(p4), order(p5)])
    refused = [r for r in results if isinstance(r, ApplicationError)]
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1 and len(refused) == 1, results
    assert refused[0].code == "insufficient_stake"
    assert "120 FLEX is staked, 120 FLEX of it is locked" in refused[0].detail
    assert MarketOrder.objects.filter(organisation=org).count() == 1
    position = collateral_position(org)
    assert (position.staked, position.locked, position.free) == (Decimal("120"), Decimal("120"), Decimal("0"))
