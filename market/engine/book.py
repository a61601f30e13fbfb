"""A continuous double-sided limit order book with price-time priority (real-time market, forwards).

One book per product, zone and delivery interval. Integer prices (ticks) and quantities (watts).

* Matching: an incoming order trades against the best opposite price first and, at one price, against the
  resting order of the highest staking tier first (``market.engine.tiers``: priority activation, then premium,
  then standard), and within a tier the oldest first (price-time priority, as in EPEX SPOT / Nord Pool
  continuous intraday trading).
  Trades execute at the resting (maker) order's price.
* Order types: ``limit`` (the unfilled rest stays in the book), ``fak`` fill-and-kill / immediate-or-cancel
  (fill what crosses now, cancel the rest), ``fok`` fill-or-kill (fill completely now, or not at all).
* ``cancel`` removes a resting order; ``modify`` keeps time priority only when the quantity is reduced at the
  same price, otherwise the order loses its place (cancel and re-enter, the exchange convention).
* ``close`` is gate closure: no order is accepted afterwards; resting orders expire.

Price levels are dicts of deques keyed by price, with a heap of prices per side (bids negated); cancelled
orders are removed lazily. Pure code: no ORM, no clock (the caller supplies the sequence of arrival).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

BUY, SELL = 1, -1
LIMIT, FAK, FOK = "limit", "fak", "fok"


class BookClosed(Exception):
    """Gate closure has passed: the book takes no more orders."""


class UnknownOrder(KeyError):
    pass


class _Order:
    __slots__ = ("oid", "side", "price", "qty", "live", "tier")

    def __init__(self, oid: int, side: int, price: int, qty: int, tier: int = 0) -> None:
        self.oid, self.side, self.price, self.qty, self.live, self.tier = oid, side, price, qty, True, tier


@dataclass(frozen=True, slots=True)
class Fill:
    maker_id: int
    taker_id: int
    price: int
    qty: int


@dataclass(slots=True)
class Result:
    order_id: int
    fills: list[Fill]
    resting_qty: int  # what rests in the book after the call (0 for fak/fok or when filled)
    killed_qty: int  # what was cancelled unfilled (fak rest, whole fok)


class OrderBook:
    def __init__(self) -> None:
        self._levels: dict[int, dict[int, deque]] = {BUY: {}, SELL: {}}
        self._heaps: dict[int, list[int]] = {BUY: [], SELL: []}
        self._orders: dict[int, _Order] = {}
        self.closed = False

    # -- reads ---------------------------------------------------------------------------------------------
    def best(self, side: int) -> int | None:
        # Invariant: every price level in the dict has at least one heap entry; stale entries are popped here.
        heap, levels = self._heaps[side], self._levels[side]
        while heap:
            key = heap[0]
            price = -key if side == BUY else key
            level = levels.get(price)
            if level is not None:
                while level and not level[0].live:
                    level.popleft()
                if level:
                    return price
                del levels[price]
            heapq.heappop(heap)
        return None

    def depth(self, side: int) -> list[tuple[int, int]]:
        """(price, total quantity) per level, best first."""
        out = []
        for price, level in self._levels[side].items():
            qty = sum(o.qty for o in level if o.live)
            if qty:
                out.append((price, qty))
        out.sort(key=lambda pq: -pq[0] if side == BUY else pq[0])
        return out

    def order(self, oid: int) -> tuple[int, int, int] | None:
        o = self._orders.get(oid)
        return None if o is None else (o.side, o.price, o.qty)

    def __len__(self) -> int:
        return len(self._orders)

    # -- writes --------------------------------------------------------------------------------------------
    def add_resting(self, oid: int, side: int, price: int, qty: int, tier: int = 0) -> None:
        """Restore a resting order (e.g. loaded from storage in time order) without matching it."""
        self._rest(_Order(oid, side, price, qty, tier))

    def submit(self, oid: int, side: int, price: int, qty: int, kind: str = LIMIT, tier: int = 0) -> Result:
        if self.closed:
            raise BookClosed("gate closure has passed")
        if qty <= 0:
            raise ValueError("quantity must be positive")
        if oid in self._orders:
            raise ValueError(f"order {oid} is already in the book")
        if kind == FOK and self._crossing_qty(side, price, qty) < qty:
            return Result(oid, [], 0, qty)
        best = self.best(-side)
        if best is None or (best > price if side == BUY else best < price):
            fills: list[Fill] = []  # fast path: nothing crosses
            left = qty
        else:
            fills, left = self._match(oid, side, price, qty)
        if left and kind == LIMIT:
            self._rest(_Order(oid, side, price, left, tier))
            return Result(oid, fills, left, 0)
        return Result(oid, fills, 0, left)

    def cancel(self, oid: int) -> int:
        o = self._orders.pop(oid, None)
        if o is None:
            raise UnknownOrder(oid)
        o.live = False
        levels = self._levels[o.side]
        level = levels.get(o.price)
        if level is not None:
            while level and not level[0].live:
                level.popleft()
            while level and not level[-1].live:
                level.pop()
            if not level:
                del levels[o.price]  # its heap entry is dropped lazily by best()
        return o.qty

    def modify(self, oid: int, price: int, qty: int) -> Result:
        """Change a resting order. Reducing quantity at the same price keeps priority; anything else re-enters
        (and may trade)."""
        if self.closed:
            raise BookClosed("gate closure has passed")
        o = self._orders.get(oid)
        if o is None:
            raise UnknownOrder(oid)
        if qty <= 0:
            self.cancel(oid)
            return Result(oid, [], 0, 0)
        if price == o.price and qty <= o.qty:
            o.qty = qty
            return Result(oid, [], qty, 0)
        self.cancel(oid)
        return self.submit(oid, o.side, price, qty, LIMIT, o.tier)

    def close(self) -> list[int]:
        """Gate closure: the book takes nothing more; every resting order expires. Returns their ids."""
        self.closed = True
        expired = sorted(self._orders)
        for o in self._orders.values():
            o.live = False
        self._orders.clear()
        self._levels = {BUY: {}, SELL: {}}
        self._heaps = {BUY: [], SELL: []}
        return expired

    # -- internals -----------------------------------------------------------------------------------------
    def _rest(self, o: _Order) -> None:
        levels = self._levels[o.side]
        level = levels.get(o.price)
        if level is None:
            level = levels[o.price] = deque()
            heapq.heappush(self._heaps[o.side], -o.price if o.side == BUY else o.price)
        if level and level[-1].tier < o.tier:  # a higher tier goes before the lower tiers at its price
            i = len(level)
            while i and level[i - 1].tier < o.tier:
                i -= 1
            level.insert(i, o)
        else:
            level.append(o)
        self._orders[o.oid] = o

    def _crossing_qty(self, side: int, price: int, need: int) -> int:
        opp = -side
        levels = self._levels[opp]
        best = self.best(opp)
        if best is None:
            return 0
        span = (price - best) if side == BUY else (best - price)
        if span < 0:
            return 0
        if span < len(levels):  # walk the ticks between the best price and the limit
            step = 1 if side == BUY else -1
            prices = (p for p in range(best, price + step, step) if p in levels)
        else:
            prices = iter(
                sorted((p for p in levels if (p <= price if side == BUY else p >= price)), reverse=side == SELL)
            )
        total = 0
        for p in prices:
            for o in levels[p]:
                if o.live:
                    total += o.qty
                    if total >= need:
                        return total
        return total

    def _match(self, oid: int, side: int, price: int, qty: int) -> tuple[list[Fill], int]:
        opp = -side
        fills: list[Fill] = []
        levels, orders = self._levels[opp], self._orders
        while qty:
            best = self.best(opp)
            if best is None or (side == BUY and best > price) or (side == SELL and best < price):
                break
            level = levels[best]
            while qty and level:
                maker = level[0]
                if not maker.live:
                    level.popleft()
                    continue
                take = maker.qty if maker.qty < qty else qty
                fills.append(Fill(maker.oid, oid, best, take))
                qty -= take
                maker.qty -= take
                if maker.qty == 0:
                    maker.live = False
                    level.popleft()
                    del orders[maker.oid]
        return fills, qty
