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

Pure code over plain data: no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

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
    remaining = Decimal(request_kw)
    awards: list[AwardOut] = []
    marginal: Decimal | None = None
    for offer in sorted(offers, key=lambda o: (o.price_per_mwh, o.submitted_at, o.offer_id)):
        if remaining <= 0:
            break
        if offer.price_per_mwh > max_price_per_mwh or offer.kw <= 0:
            continue
        take = min(offer.kw, remaining)
        awards.append(AwardOut(offer_id=offer.offer_id, kw=take))
        remaining -= take
        marginal = offer.price_per_mwh
    awarded = sum((a.kw for a in awards), Decimal("0"))
    return ClearingResult(awards=awards, clearing_price_per_mwh=marginal, awarded_kw=awarded)
