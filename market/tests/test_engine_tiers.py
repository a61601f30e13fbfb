"""Staking tiers in the pure engine: at equal price the higher tier is dispatched first, deterministically."""

from __future__ import annotations

from market.engine import auction, tiers
from market.engine.book import BUY, SELL, OrderBook


def test_order_tier_and_its_governed_parameter():
    assert tiers.order_tier(sell=False, premium_product=True, priority=False) == tiers.STANDARD
    assert tiers.order_tier(sell=True, premium_product=False, priority=False) == tiers.STANDARD
    assert tiers.order_tier(sell=True, premium_product=True, priority=False) == tiers.PREMIUM
    assert tiers.order_tier(sell=True, premium_product=False, priority=True) == tiers.PRIORITY
    assert [tiers.parameter_name(t) for t in (0, 1, 2)] == [
        "collateral_per_kw_standard",
        "collateral_per_kw_premium",
        "collateral_per_kw_priority",
    ]


def test_book_at_equal_price_higher_tier_first_then_time_but_price_still_first():
    b = OrderBook()
    b.submit(1, SELL, 100, 10)  # standard, earliest
    b.submit(2, SELL, 100, 10, tier=tiers.PRIORITY)  # later, priority: goes before 1
    b.submit(3, SELL, 100, 10, tier=tiers.PREMIUM)  # between the two
    b.submit(4, SELL, 100, 10, tier=tiers.PRIORITY)  # priority, after 2 (time within the tier)
    b.submit(5, SELL, 99, 10)  # cheaper standard: price comes before tier
    r = b.submit(6, BUY, 100, 45)
    assert [(f.maker_id, f.qty) for f in r.fills] == [(5, 10), (2, 10), (4, 10), (3, 10), (1, 5)]


def test_book_restored_orders_and_modify_keep_their_tier():
    b = OrderBook()
    b.add_resting(1, SELL, 100, 10)
    b.add_resting(2, SELL, 100, 10, tier=tiers.PRIORITY)
    b.modify(2, 100, 20)  # more kW: loses time priority, keeps its tier
    r = b.submit(3, BUY, 100, 20)
    assert [(f.maker_id, f.qty) for f in r.fills] == [(2, 20)]


def test_merit_rank_feeds_the_auction_priority_deterministically():
    # three offers at one price: a standard one first in time, a premium one, a priority one last in time
    rank = tiers.merit_rank([(11, tiers.STANDARD, 1), (12, tiers.PREMIUM, 2), (13, tiers.PRIORITY, 3), (14, 2, 3)])
    assert rank == {13: 0, 14: 1, 12: 2, 11: 3}  # tier, then time, then id
    r = auction.clear(
        group=[0, 0, 0, 0],
        side=[auction.SELL, auction.SELL, auction.SELL, auction.BUY],
        price=[10, 10, 10, 20],
        qty=[5, 5, 5, 7],
        priority=[rank[11], rank[12], rank[13], 0],
        order_id=[11, 12, 13, 99],
    )
    assert r.accepted.tolist() == [0, 2, 5, 7]  # priority fully, premium the rest, standard nothing
