"""Products and market types: the parameters the one clearing engine runs with.

Sources for the parameters:

* Minimum size 100 kW for wholesale products: FERC Order 2222 (2020) requires RTOs/ISOs to let distributed
  energy resource aggregations participate with a minimum size requirement not exceeding 100 kW; smaller
  resources reach it only by pooling in an aggregator's portfolio offer.
* Ancillary-service qualification (response time, minimum duration a resource must sustain):
  frequency response after ERCOT Fast Frequency Response (here: full response within 1 s, sustained
  15 minutes); regulation after PJM Manual 12 (follow the regulation signal within 5 minutes, offered
  in hourly blocks: sustain 60 minutes); spinning (synchronised) reserve after PJM Manual 11 / NERC BAL-002
  (deployed within 10 minutes, sustained 30 minutes).
* Real-time intervals of 5 or 15 minutes and gate closure before delivery as in EPEX SPOT continuous intraday
  (gate closure 5–60 minutes before delivery; here a product parameter).
* Premium markets (the ancillary services) require staked FLEX collateral proportional to the offered kW.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class MarketType:
    REAL_TIME = "real_time"
    DAY_AHEAD = "day_ahead"
    SEASONAL = "seasonal"
    REQUEST = "request"
    CHOICES = [(REAL_TIME, "Real-time (continuous)"), (DAY_AHEAD, "Day-ahead auction"), (SEASONAL, "Seasonal capacity")]
    #: awards also come from the clearing of a single operator request (``market.clearing``).
    AWARD_CHOICES = [*CHOICES, (REQUEST, "Operator request (merit order)")]
    #: which engine clears which market: one engine per mechanism, none per product.
    MECHANISM = {REAL_TIME: "continuous", DAY_AHEAD: "uniform_auction", SEASONAL: "uniform_auction"}


@dataclass(frozen=True)
class ProductSpec:
    code: str
    label: str
    markets: tuple[str, ...]
    min_size_kw: Decimal
    #: ancillary qualification: a resource must respond within this many seconds and sustain this many minutes.
    response_seconds: int | None = None
    min_duration_minutes: int | None = None
    #: FLEX to be staked per offered kW (0: not a premium market).
    stake_flex_per_kw: Decimal = Decimal("0")
    #: minutes between the last order and the start of delivery (real-time books).
    gate_closure_minutes: int = 5
    #: a forward must be traded at least this long before its delivery period.
    min_lead_minutes: int = 0
    #: a congestion product is local: bought by a DSO for one zone.
    locational_only: bool = False

    @property
    def premium(self) -> bool:
        return self.stake_flex_per_kw > 0

    @property
    def ancillary(self) -> bool:
        return self.response_seconds is not None

    @property
    def reserved(self) -> bool:
        """Capacity and ancillary awards are reservations (kW held available, called later); the others
        (energy, congestion, forwards) are scheduled deliveries that become activation events at once."""
        return self.code == "capacity" or self.ancillary

    @property
    def notice_minutes(self) -> int:
        """How long before it starts a call of a reservation of this product must be made: the product's
        response time for ancillary services (rounded up to whole minutes), 30 minutes for capacity (PJM
        Manual 18: load management resources reduce within 30 minutes of notification)."""
        if self.ancillary:
            return -(-int(self.response_seconds) // 60)
        return 30


RT, DA, SEA = MarketType.REAL_TIME, MarketType.DAY_AHEAD, MarketType.SEASONAL
HUNDRED = Decimal("100")

PRODUCTS: dict[str, ProductSpec] = {
    p.code: p
    for p in [
        ProductSpec("energy", "Energy (kWh curtailed or shifted)", (RT, DA), HUNDRED),
        ProductSpec("capacity", "Capacity reservation (kW held available)", (DA, SEA), HUNDRED),
        ProductSpec(
            "frequency_response", "Frequency response", (RT, DA), HUNDRED, 1, 15, stake_flex_per_kw=Decimal("1")
        ),
        ProductSpec("regulation_up", "Regulation up", (RT, DA), HUNDRED, 300, 60, stake_flex_per_kw=Decimal("1")),
        ProductSpec("regulation_down", "Regulation down", (RT, DA), HUNDRED, 300, 60, stake_flex_per_kw=Decimal("1")),
        ProductSpec("spinning_reserve", "Spinning reserve", (RT, DA), HUNDRED, 600, 30, stake_flex_per_kw=Decimal("1")),
        ProductSpec(
            "congestion", "Congestion management (DSO, locational)", (RT, DA), Decimal("1"), locational_only=True
        ),
        ProductSpec("forward", "Forward contract (fixed price and quantity)", (RT,), HUNDRED, min_lead_minutes=24 * 60),
    ]
}

PRODUCT_CHOICES = [(p.code, p.label) for p in PRODUCTS.values()]


def product(code: str) -> ProductSpec:
    return PRODUCTS[code]
