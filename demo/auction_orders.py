"""The sellers' and the operator's orders into one of the demo day's hourly day-ahead auctions (the energy
auction of :mod:`demo.steps` and the capacity auction of :mod:`demo.capacity` enter them the same way)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from accounts.models import GridZone, Organisation, Premise
from assessment.models import FlexibilityAssessment
from assessment.selectors import accredited_capacity_over
from assessment.services import flexibility_assess
from market.engine.products import PRODUCTS, MarketType
from market.models import Auction
from market.services.orders import minimum_sell_kw, order_submit

HOUR = timedelta(hours=1)

Members = list[tuple[Premise, Decimal]]


def auction_orders_enter(
    *,
    auction: Auction,
    operator: Organisation,
    zone: GridZone,
    product: str,
    premises: Sequence[Premise],
    start: datetime,
    end: datetime,
    entered: datetime,
    rng: random.Random,
    price_range: Callable[[Organisation, Members], tuple[int, int]],
    demand_share: Decimal,
    max_price: Decimal,
) -> None:
    """For each hour of ``[start, end)``: every seller offers its resources' accredited kW there (a consumer its
    own premise, the aggregator its members as one portfolio order) if that reaches the product's minimum, at a
    price drawn from ``price_range(seller, members)`` ($/MWh, whole dollars); the operator bids for
    ``demand_share`` of what was offered at ``max_price``. The premises are assessed for the window first, as of
    ``entered`` (the simulated clock: before gate closure)."""
    assessed = set(  # one query for those assessed already (the window assessment), not one per premise
        FlexibilityAssessment.objects.filter(
            premise_id__in=[p.pk for p in premises], window_start=start, window_end=end
        ).values_list("premise_id", flat=True)
    )
    for premise in premises:
        if premise.pk not in assessed:
            flexibility_assess(premise=premise, window_start=start, window_end=end, now=entered)
    minimum, _ = minimum_sell_kw(PRODUCTS[product])
    hour = start
    while hour < end:
        nxt = hour + HOUR
        sellers: dict[int, tuple[Organisation, Members]] = {}
        accredited = accredited_capacity_over(premises=[p.pk for p in premises], start=hour, end=nxt)
        for premise in premises:
            kw = accredited.get(premise.pk) or Decimal("0")
            if kw > 0:
                seller = premise.aggregator or premise.organisation
                sellers.setdefault(seller.pk, (seller, []))[1].append((premise, kw))
        offered = Decimal("0")
        for _, (seller, members) in sorted(sellers.items()):
            kw = sum((k for _, k in members), Decimal("0"))
            if kw < minimum:  # a household alone may be too small; pooled by the aggregator it is not
                continue
            lo, hi = price_range(seller, members)
            order_submit(
                organisation=seller,
                market=MarketType.DAY_AHEAD,
                product=product,
                side="sell",
                zone=zone,
                members=members,
                price_per_mwh=Decimal(rng.randint(lo * 100, hi * 100)) / 100,
                delivery_start=hour,
                delivery_end=nxt,
                auction=auction,
                now=entered,
            )
            offered += kw
        if offered:
            order_submit(
                organisation=operator,
                market=MarketType.DAY_AHEAD,
                product=product,
                side="buy",
                zone=zone,
                kw=(offered * demand_share).quantize(Decimal("0.001")),
                price_per_mwh=max_price,
                delivery_start=hour,
                delivery_end=nxt,
                auction=auction,
                now=entered,
            )
        hour = nxt
