"""Why a clearing came out as it did, in words an operator reads: the merit order of what was considered, the
clearing price and the rule that set it, and, when less than asked was awarded, the reasons.

Pure code over a run's stored ``inputs``/``outputs`` (the same JSON the run was cleared from, so the explanation
is reproducible years later), no ORM. Rules explained: ``merit-order-uniform-1`` (:mod:`market.clearing`,
requests) and the auction rules of :mod:`market.engine` (day-ahead and seasonal), whose inputs hold orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class MeritRow:
    rank: int
    offer_id: int
    kw: Decimal
    price_per_mwh: Decimal
    cumulative_kw: Decimal
    awarded_kw: Decimal
    outcome: str  # "accepted", "marginal (part)", "not needed"


@dataclass
class Explanation:
    requested_kw: Decimal | None
    awarded_kw: Decimal
    clearing_price_per_mwh: Decimal | None
    price_rule: str
    merit_order: list[MeritRow] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _d(value) -> Decimal:
    return Decimal(str(value))


def explain_request_run(*, inputs: dict, outputs: dict, zone_code: str = "") -> Explanation:
    """A request clearing: eligible offers cheapest first (ties by submission time, then id), the uniform price of
    the marginal accepted offer, and why the request was not (fully) met."""
    request = inputs.get("request", {})
    requested = _d(request.get("kw", "0"))
    cap = _d(request.get("max_price_per_mwh", "0"))
    awarded_by_offer = {int(a["offer_id"]): _d(a["kw"]) for a in outputs.get("awards", [])}
    offers = sorted(
        inputs.get("offers", []), key=lambda o: (_d(o["price_per_mwh"]), o.get("submitted_at", ""), int(o["id"]))
    )
    rows: list[MeritRow] = []
    cumulative = Decimal("0")
    for rank, o in enumerate(offers, start=1):
        kw, got = _d(o["kw"]), awarded_by_offer.get(int(o["id"]), Decimal("0"))
        cumulative += kw
        outcome = "accepted" if got == kw and got > 0 else "marginal (part)" if got > 0 else "not needed"
        rows.append(MeritRow(rank, int(o["id"]), kw, _d(o["price_per_mwh"]), cumulative, got, outcome))
    awarded = sum(awarded_by_offer.values(), Decimal("0"))
    price = outputs.get("clearing_price_per_mwh")
    price = None if price is None else _d(price)
    where = f" in zone {zone_code}" if zone_code else ""
    reasons: list[str] = []
    excluded = inputs.get("excluded") or {}
    above, uncovered = int(excluded.get("above_price_cap", 0)), int(excluded.get("window_not_covered", 0))
    if not offers:
        if not (above or uncovered):
            reasons.append(f"No open offer{where} when the request cleared: nothing to award.")
        else:
            reasons.append(f"No open offer{where} was eligible.")
    if above:
        reasons.append(f"{above} open offer{'s' if above != 1 else ''}{where} asked more than the cap of {cap} $/MWh.")
    if uncovered:
        reasons.append(f"{uncovered} open offer{'s' if uncovered != 1 else ''}{where} did not cover the whole window.")
    if offers and awarded < requested:
        offered = sum((r.kw for r in rows), Decimal("0"))
        reasons.append(f"Eligible offers totalled {offered} kW, less than the {requested} kW requested.")
    if awarded >= requested and requested > 0:
        reasons.append(f"Met in full: {awarded} kW from {sum(1 for r in rows if r.awarded_kw > 0)} offer(s).")
    rule = (
        f"Uniform price: every accepted offer is paid {price} $/MWh, the price of the marginal (last accepted) offer."
        if price is not None
        else "No offer was accepted, so there is no clearing price."
    )
    return Explanation(requested, awarded, price, rule, rows, reasons)


def explain_auction_run(*, inputs: dict, outputs: dict) -> Explanation:
    """An auction clearing: sell orders cheapest first (the supply stack), the demand curve or buy orders, the
    clearing price from the engine's outputs, and why nothing cleared when nothing did."""
    orders = inputs.get("orders", [])
    sells = sorted(
        (o for o in orders if o.get("side") == "sell"), key=lambda o: (_d(o["price_per_mwh"]), o["priority"])
    )
    buys = [o for o in orders if o.get("side") == "buy"]
    curve = inputs.get("demand_curve") or []
    # outputs["accepted"]: {order id: {interval: kW}}; the stack shows each order's largest accepted kW
    accepted = {
        int(k): max((_d(v) for v in per.values()), default=Decimal("0"))
        for k, per in (outputs.get("accepted") or {}).items()
    }
    rows, cumulative = [], Decimal("0")
    for rank, o in enumerate(sells, start=1):
        kw, got = _d(o["kw"]), accepted.get(int(o["id"]), Decimal("0"))
        cumulative += kw
        outcome = "accepted" if got == kw and got > 0 else "marginal (part)" if got > 0 else "not needed"
        rows.append(MeritRow(rank, int(o["id"]), kw, _d(o["price_per_mwh"]), cumulative, got, outcome))
    demand = sum((_d(s["kw"]) for s in curve), Decimal("0")) + sum((_d(o["kw"]) for o in buys), Decimal("0"))
    awarded = sum((r.awarded_kw for r in rows), Decimal("0"))
    priced = [i["clearing_price_per_mwh"] for i in outputs.get("intervals", []) if i.get("clearing_price_per_mwh")]
    price = _d(priced[0]) if priced else None
    reasons: list[str] = []
    if not sells:
        reasons.append("No sell order reached the auction before gate closure.")
    if sells and not demand:
        reasons.append("No demand: the auction had no buy order and no demand curve.")
    if sells and demand and awarded == 0:
        top = max([_d(s["price_per_mwh"]) for s in curve] + [_d(o["price_per_mwh"]) for o in buys], default=None)
        cheapest = rows[0].price_per_mwh
        reasons.append(f"The cheapest offer ({cheapest} $/MWh) asked more than the highest bid ({top} $/MWh).")
    rule = (
        f"Uniform price per interval at the welfare optimum: {price} $/MWh in the first priced interval."
        if price is not None
        else "Nothing cleared, so there is no clearing price."
    )
    return Explanation(demand or None, awarded, price, rule, rows, reasons)
