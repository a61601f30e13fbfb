"""Staking tiers: how much collateral an order locks per kW, and its place in the merit order at equal price.

Three tiers, ranked (a higher rank is dispatched first among offers at the same price):

========  ====  ==========================================================================================
tier      rank  who
========  ====  ==========================================================================================
standard  0     every order of a product without collateral (energy, capacity, congestion, forwards)
premium   1     every sell order in a premium market (the ancillary services: ``ProductSpec.premium``)
priority  2     a sell order whose seller opts into priority activation and locks the priority collateral
========  ====  ==========================================================================================

The collateral per kW of each tier is a governed parameter (``market.parameters``: ``collateral_per_kw_<tier>``).
The tie-break follows the merit order of PJM's synchronized reserve and regulation markets (Manual 11 §4.2/§3.2:
resources are committed in order of offer price; at equal price the market operator's tie-break rule decides)
— here the tier, then the time of entry, then the order id, so the order is total and deterministic.

Pure code: no ORM, no clock.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

STANDARD, PREMIUM, PRIORITY = 0, 1, 2
NAMES = {STANDARD: "standard", PREMIUM: "premium", PRIORITY: "priority"}
CHOICES = [(STANDARD, "Standard"), (PREMIUM, "Premium market"), (PRIORITY, "Priority activation")]


def order_tier(*, sell: bool, premium_product: bool, priority: bool) -> int:
    """The tier of an order: priority when a seller opts in, premium for a premium product's sell order,
    standard otherwise (buy orders lock no collateral)."""
    if not sell:
        return STANDARD
    if priority:
        return PRIORITY
    return PREMIUM if premium_product else STANDARD


def parameter_name(tier: int) -> str:
    """The governed parameter that holds the tier's collateral per kW."""
    return f"collateral_per_kw_{NAMES[tier]}"


def merit_rank(orders: Iterable[tuple[Hashable, int, Any]]) -> dict[Hashable, int]:
    """Rank of each ``(id, tier, time)`` among orders at one price: higher tier first, then earlier time, then
    lower id. Returns ``{id: rank}`` (0 first): the auction engine's ``priority`` input."""
    ranked = sorted(orders, key=lambda o: (-o[1], o[2], o[0]))
    return {oid: i for i, (oid, _, _) in enumerate(ranked)}
