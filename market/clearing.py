"""Merit-order clearing of one flexibility request against offers, at a uniform (pay-as-cleared) price.

Rules (rule version ``merit-order-uniform-1``):

* Eligible offers cover the whole request window, are in the request's zone or below it, and ask no more
  than the request's maximum price.
* Offers are accepted cheapest first; ties are broken by submission time, then by id, so the same inputs
  always give the same awards.
* Offers are divisible: the last (marginal) offer may be accepted in part. Quantities are kW with three
  decimals; nothing is awarded beyond the requested kW or an offer's kW.
* Every accepted offer is paid the clearing price, the price of the marginal accepted offer (the
  uniform-price rule used by ISO energy and DR markets, e.g. PJM's LMP-based DR compensation under
  FERC Order 745). With no accepted offer there is no clearing price.

Pure code over plain data: no ORM. The request is cleared by the shared uniform-price auction engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from .engine import auction, kw_to_w, price_to_ticks, ticks_to_price, w_to_kw

RULE_VERSION = "merit-order-uniform-1"


@dataclass(frozen=True)
class OfferIn:
    offer_id: int
    kw: Decimal
    price_per_mwh: Decimal
    submitted_at: datetime


@dataclass(frozen=True)
class AwardOut:
    offer_id: int
    kw: Decimal


@dataclass(frozen=True)
class ClearingResult:
    awards: list[AwardOut]
    clearing_price_per_mwh: Decimal | None
    awarded_kw: Decimal
    rule_version: str = RULE_VERSION


def clear_merit_order(*, request_kw: Decimal, max_price_per_mwh: Decimal, offers: Sequence[OfferIn]) -> ClearingResult:
    """The request is one bid (its kW at its maximum price) in a one-group uniform-price auction: the same
    engine as the day-ahead and seasonal markets (:mod:`market.engine.auction`)."""
    offers = [o for o in offers if o.kw > 0]
    n = len(offers)
    # Time priority as integer ranks of (submitted_at, id), so the engine's ties match this module's rule.
    rank = {o.offer_id: i for i, o in enumerate(sorted(offers, key=lambda o: (o.submitted_at, o.offer_id)))}
    result = auction.clear(
        group=np.zeros(n + 1, dtype=np.int64),
        side=np.r_[np.full(n, auction.SELL), [auction.BUY]],
        price=np.array([price_to_ticks(o.price_per_mwh) for o in offers] + [price_to_ticks(max_price_per_mwh)]),
        qty=np.array([kw_to_w(o.kw) for o in offers] + [kw_to_w(request_kw)]),
        priority=np.array([rank[o.offer_id] for o in offers] + [n]),
        order_id=np.array([o.offer_id for o in offers] + [-1]),
    )
    accepted = result.accepted[:n]
    awards = (
        sorted(
            (AwardOut(offer_id=o.offer_id, kw=w_to_kw(a)) for o, a in zip(offers, accepted, strict=True) if a > 0),
            key=lambda a: (by_id[a.offer_id].price_per_mwh, by_id[a.offer_id].submitted_at, a.offer_id),
        )
        if (by_id := {o.offer_id: o for o in offers})
        else []
    )
    price = int(result.price[0]) if len(result.price) else -1
    awarded = sum((a.kw for a in awards), Decimal("0"))
    return ClearingResult(
        awards=awards, clearing_price_per_mwh=None if price < 0 else ticks_to_price(price), awarded_kw=awarded
    )
