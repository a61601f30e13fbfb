"""The market's clearing engine: pure code over plain data (no ORM), parameterised by market type and product.

* :mod:`market.engine.products` — the product and market-type parameters (qualification, minimum size, staking,
  interval length, gate closure), one table instead of a copy of the engine per product.
* :mod:`market.engine.book` — the continuous double-sided order book (real-time market and forwards).
* :mod:`market.engine.auction` — the sealed-bid uniform-price auction (day-ahead and seasonal markets, and the
  single-request clearing of :mod:`market.clearing`), vectorised with numpy, with all-or-none block orders.
* :mod:`market.engine.optimum` — the day-ahead and seasonal clearing at the welfare optimum (rule
  ``uniform-auction-2``): block selection by HiGHS per connected component (:mod:`market.engine.block_milp`),
  the divisible orders as closed-form welfare curves (:mod:`market.engine.curves`), the heuristic of
  :mod:`market.engine.auction` as warm start and time-limit fallback.
* :mod:`market.engine.arbitrage` — the energy-arbitrage linear program for batteries and EVs.

Quantities are integer watts and prices integer cents per MWh inside the engine, so every comparison is exact
and the same inputs always give the same outputs.
"""

from decimal import Decimal

W_PER_KW = 1000
CENTS = 100


def kw_to_w(kw: Decimal) -> int:
    return int((Decimal(kw) * W_PER_KW).to_integral_value())


def w_to_kw(w: int) -> Decimal:
    return (Decimal(int(w)) / W_PER_KW).quantize(Decimal("0.001"))


def price_to_ticks(price: Decimal) -> int:
    return int((Decimal(price) * CENTS).to_integral_value())


def ticks_to_price(ticks: int) -> Decimal:
    return (Decimal(int(ticks)) / CENTS).quantize(Decimal("0.01"))
