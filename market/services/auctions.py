"""Day-ahead and seasonal auctions: opening, clearing at gate closure, re-running a stored clearing.

* Day-ahead: a sealed-bid uniform-price auction per zone and interval (24 hourly or 96 quarter-hourly intervals
  of a delivery day), with all-or-none block offers across intervals; cleared by the ``clear_auction`` Celery
  task at gate closure (enqueued with an ETA when the auction opens, and swept by beat every minute).
* Seasonal: a capacity auction per season and zone: sell offers for the whole season against the operator's
  stepwise demand curve (each step: kW the operator buys at up to a price), the curve's steps being the bids.

Both run the one engine at the welfare optimum (``market.engine.optimum``, rule ``uniform-auction-2``: block
selection by HiGHS, the heuristic of ``market.engine.auction`` as warm start and time-limit fallback). A clearing
stores its complete inputs (every order and demand step, with the time priority used), its outputs, the rule
version and the solver's status, welfare, proven bound and gap; :func:`clearing_rerun` feeds the stored inputs
to the engine of the stored rule version again (with the components that fell back to the heuristic, if any)
and compares. Orders arriving while an auction clears wait for the auction
row's lock and are then refused (gate closed): none is lost or awarded twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import GridZone, Organisation
from accounts.selectors import zone_with_descendant_ids
from flexplatform.errors import ApplicationError, NotPermitted

from .. import hooks
from ..clearing import OfferIn, clear_merit_order
from ..engine import auction as engine
from ..engine import kw_to_w, optimum, price_to_ticks, ticks_to_price, tiers, w_to_kw
from ..engine.products import PRODUCTS, MarketType
from ..errors import MarketError
from ..models import Auction, Award, ClearingRun, MarketOrder, OrderMember
from .awards import Member, awards_announce, member_shares


@transaction.atomic
def auction_open(
    *,
    operator: Organisation,
    market: str,
    product: str,
    zone: GridZone,
    delivery_start: datetime,
    delivery_end: datetime,
    gate_closure: datetime,
    interval_minutes: int | None = None,
    demand_curve: list[dict] | None = None,
) -> Auction:
    """Open an auction (idempotent per market, product, zone and delivery start)."""
    spec = PRODUCTS.get(product)
    if spec is None or market not in (MarketType.DAY_AHEAD, MarketType.SEASONAL) or market not in spec.markets:
        raise ApplicationError(f"No {market} auction for product {product!r}.", fields={"product": ["Not auctioned."]})
    if operator.kind != Organisation.Kind.GRID_OPERATOR:
        raise NotPermitted("Only grid operators open auctions.")
    if zone.pk not in zone_with_descendant_ids(operator.service_zones.all()):
        raise NotPermitted(f"Zone {zone.code} is outside the operator's service area.", fields={"zone": ["Not yours."]})
    if delivery_end <= delivery_start or gate_closure > delivery_start:
        raise ApplicationError(
            "Gate closure ≤ delivery start < delivery end.", fields={"gate_closure": ["Out of order."]}
        )
    steps: list[dict] = []
    if market == MarketType.DAY_AHEAD:
        if interval_minutes not in (15, 60):
            raise ApplicationError(
                "Day-ahead intervals are 60 or 15 minutes.", fields={"interval_minutes": ["60 or 15."]}
            )
        if (delivery_end - delivery_start) % timedelta(minutes=interval_minutes):
            raise ApplicationError("Whole intervals only.", fields={"delivery_end": ["Whole intervals."]})
    else:
        interval_minutes = int((delivery_end - delivery_start).total_seconds() // 60)
        last = None
        for i, step in enumerate(demand_curve or []):
            kw, price = Decimal(str(step["kw"])), Decimal(str(step["price_per_mwh"]))
            if kw <= 0 or price < 0 or (last is not None and price >= last):
                raise ApplicationError(
                    "A demand curve is steps of positive kW at strictly decreasing prices.",
                    fields={"demand_curve": [f"Step {i + 1} is invalid."]},
                )
            last = price
            steps.append(
                {"kw": str(kw.quantize(Decimal("0.001"))), "price_per_mwh": str(price.quantize(Decimal("0.01")))}
            )
        if not steps:
            raise ApplicationError(
                "A seasonal auction needs the operator's demand curve.", fields={"demand_curve": ["Required."]}
            )
    auction, created = Auction.objects.get_or_create(
        market=market,
        product=product,
        zone=zone,
        delivery_start=delivery_start,
        defaults={
            "operator": operator,
            "delivery_end": delivery_end,
            "interval_minutes": interval_minutes,
            "gate_closure": gate_closure,
            "demand_curve": steps,
        },
    )
    if created and not settings.CELERY_TASK_ALWAYS_EAGER:  # eager mode: the beat sweep (and callers) clear it
        hooks.on_commit_send(hooks.auction_opened, auction_id=auction.pk, gate_closure=gate_closure)
    return auction


def _inputs(auction: Auction, orders: list[MarketOrder]) -> dict:
    # at equal price: higher staking tier first, then time of entry, then id (market.engine.tiers)
    rank = tiers.merit_rank((o.pk, o.tier, o.priority_at) for o in orders)
    return {
        "auction": {
            "id": auction.pk,
            "market": auction.market,
            "product": auction.product,
            "zone": auction.zone_id,
            "delivery_start": auction.delivery_start.isoformat(),
            "interval_minutes": auction.interval_minutes,
            "n_intervals": int(
                (auction.delivery_end - auction.delivery_start) / timedelta(minutes=auction.interval_minutes)
            ),
        },
        "demand_curve": auction.demand_curve,
        "orders": [
            {
                "id": o.pk,
                "side": o.side,
                "kw": str(o.kw),
                "price_per_mwh": str(o.price_per_mwh),
                "first_interval": int(
                    (o.delivery_start - auction.delivery_start) / timedelta(minutes=auction.interval_minutes)
                ),
                "n_intervals": int((o.delivery_end - o.delivery_start) / timedelta(minutes=auction.interval_minutes)),
                "is_block": o.is_block,
                "priority": rank[o.pk],
                "tier": o.tier,
                "submitted_at": o.priority_at.isoformat(),
            }
            for o in sorted(orders, key=lambda o: o.pk)
        ],
    }


def _engine_arrays(inputs: dict) -> dict[str, np.ndarray]:
    """Stored inputs → the engine's rows: one per order and interval, the seasonal demand curve's steps as bids."""
    g, side, price, qty, prio, oid, block = [], [], [], [], [], [], []
    for o in inputs["orders"]:
        for k in range(o["first_interval"], o["first_interval"] + o["n_intervals"]):
            g.append(k)
            side.append(engine.SELL if o["side"] == "sell" else engine.BUY)
            price.append(price_to_ticks(Decimal(o["price_per_mwh"])))
            qty.append(kw_to_w(Decimal(o["kw"])))
            prio.append(o["priority"])
            oid.append(o["id"])
            block.append(o["id"] if o["is_block"] else -1)
    for i, step in enumerate(inputs["demand_curve"]):  # seasonal: the demand curve's steps are the bids
        g.append(0)
        side.append(engine.BUY)
        price.append(price_to_ticks(Decimal(step["price_per_mwh"])))
        qty.append(kw_to_w(Decimal(step["kw"])))
        prio.append(-len(inputs["demand_curve"]) + i)
        oid.append(-(i + 1))
        block.append(-1)
    return {
        "group": np.array(g, dtype=np.int64),
        "side": np.array(side, dtype=np.int8),
        "price": np.array(price, dtype=np.int64),
        "qty": np.array(qty, dtype=np.int64),
        "priority": np.array(prio, dtype=np.int64),
        "order_id": np.array(oid, dtype=np.int64),
        "block": np.array(block, dtype=np.int64),
    }


def _run_engine(
    inputs: dict, *, rule_version: str = optimum.RULE_VERSION, fallback=(), time_limit: float | None = None
) -> tuple[dict, object]:
    """Stored inputs → (outputs as JSON, the solver's report or None), through the engine of ``rule_version``.
    The only path, for clearing and re-running. ``fallback``: the components a stored clearing solved by the
    heuristic because its solve ran out of time (so a re-run reproduces it); ``time_limit`` defaults to the
    setting."""
    rows = _engine_arrays(inputs)
    if rule_version == engine.RULE_VERSION:  # clearings stored before the welfare optimum
        result, report = engine.clear(**rows), None
        extra = {"rounds": result.rounds}
    elif rule_version == optimum.RULE_VERSION:
        result = optimum.clear_optimal(
            **rows,
            time_limit=settings.MARKET_DAY_AHEAD_SOLVER_TIME_LIMIT_S if time_limit is None else time_limit,
            workers=settings.MARKET_DAY_AHEAD_SOLVER_WORKERS,
            fallback=fallback,
        )
        report = result.solver
        extra = {
            "fallback": list(report.fallback),
            "readmitted": report.readmitted,
            "paradoxically_rejected": report.paradoxically_rejected,
        }
    else:
        raise ApplicationError(f"No engine for rule version {rule_version}.", code=MarketError.UNKNOWN_RULE_VERSION)
    accepted: dict[str, dict[str, str]] = {}
    for k, o, a in zip(rows["group"].tolist(), rows["order_id"].tolist(), result.accepted.tolist(), strict=True):
        if a > 0:
            accepted.setdefault(str(o), {})[str(k)] = str(w_to_kw(a))
    outputs = {
        "intervals": [
            {
                "interval": int(k),
                "clearing_price_per_mwh": None if p < 0 else str(ticks_to_price(p)),
                "volume_kw": str(w_to_kw(v)),
            }
            for k, p, v in zip(result.groups.tolist(), result.price.tolist(), result.volume.tolist(), strict=True)
        ],
        "accepted": accepted,
        "rejected_blocks": [int(b) for b in result.rejected_blocks.tolist()],
        **extra,
    }
    return outputs, report


def _welfare(value: int | None, interval_minutes: int) -> Decimal | None:
    """Engine welfare (cents per MWh × W, summed over intervals) → currency over the delivery period."""
    if value is None:
        return None
    per_hour = Decimal(value) / (100 * 1_000_000)
    return (per_hour * interval_minutes / 60).quantize(Decimal("0.01"))


def auction_clear(*, auction_id: int, now: datetime | None = None) -> ClearingRun:
    """Clear an auction at (or after) its gate closure. Idempotent: a cleared auction returns its stored run."""
    now = now or timezone.now()
    with transaction.atomic():
        auction = Auction.objects.select_for_update().get(pk=auction_id)
        if auction.status == Auction.Status.CLEARED:
            return auction.clearing_run
        if now < auction.gate_closure:
            raise ApplicationError("The auction's gate has not closed yet.", code=MarketError.NOT_DUE)
        orders = list(MarketOrder.objects.filter(auction=auction, status=MarketOrder.Status.OPEN).order_by("pk"))
        inputs = _inputs(auction, orders)
        outputs, report = _run_engine(inputs)
        total = sum((Decimal(i["volume_kw"]) for i in outputs["intervals"]), Decimal("0"))
        prices = [Decimal(i["clearing_price_per_mwh"]) for i in outputs["intervals"] if i["clearing_price_per_mwh"]]
        run = ClearingRun.objects.create(
            auction=auction,
            rule_version=optimum.RULE_VERSION,
            solver_status=report.status,
            solver_objective=_welfare(report.objective, auction.interval_minutes),
            solver_bound=_welfare(report.bound, auction.interval_minutes),
            solver_gap=report.gap,
            awarded_kw=total,
            clearing_price_per_mwh=max(prices) if prices else None,
            inputs=inputs,
            outputs=outputs,
            cleared_at=now,
        )
        price_of = {i["interval"]: i["clearing_price_per_mwh"] for i in outputs["intervals"]}
        step = timedelta(minutes=auction.interval_minutes)
        members = _sell_members(orders)
        awards: list[Award] = []
        for o in orders:
            acc = outputs["accepted"].get(str(o.pk), {})
            if o.side == MarketOrder.Side.SELL:
                for k, kw in sorted(acc.items(), key=lambda kv: int(kv[0])):
                    start = auction.delivery_start + int(k) * step
                    # each interval is a delivery of its own: the order's whole kW is open in every one
                    fresh = [Member(m.key, m.premise_id, m.kw, m.kw, pk=m.pk) for m in members[o.pk]]
                    awards += [
                        Award(
                            clearing_run=run,
                            order=o,
                            premise_id=m.premise_id,
                            seller_id=o.organisation_id,
                            buyer_id=auction.operator_id,
                            kw=share,
                            clearing_price_per_mwh=Decimal(price_of[int(k)]),
                            window_start=start,
                            window_end=start + step,
                            market=o.market,
                            product=o.product,
                        )
                        for m, share in member_shares(fresh, kw_to_w(Decimal(kw)))
                    ]
            n = int((o.delivery_end - o.delivery_start) / step)
            full = len(acc) == n and all(Decimal(v) == o.kw for v in acc.values())
            o.status = (
                MarketOrder.Status.FILLED
                if full
                else MarketOrder.Status.PARTIALLY_FILLED
                if acc
                else MarketOrder.Status.NOT_AWARDED
            )
            o.remaining_kw = Decimal("0")
        MarketOrder.objects.bulk_update(orders, ["status", "remaining_kw"])
        # nothing stays open after the clearing: every member's remainder in one UPDATE
        OrderMember.objects.filter(order__in=orders).update(remaining_kw=Decimal("0"))
        Award.objects.bulk_create(awards)
        auction.status = Auction.Status.CLEARED
        auction.save(update_fields=["status"])
        awards_announce(awards)
    return run


def _sell_members(orders: list[MarketOrder]) -> dict[int, list[Member]]:
    """The sell orders' members (one query), per order in premise order, keyed by their OrderMember pk: the
    members and tie-break keys the continuous market splits a fill over (``orders.member_shares``)."""
    out: dict[int, list[Member]] = {o.pk: [] for o in orders if o.side == MarketOrder.Side.SELL}
    rows = (
        OrderMember.objects.filter(order_id__in=list(out))
        .order_by("order_id", "premise_id")
        .values_list("order_id", "pk", "premise_id", "kw", "remaining_kw")
    )
    for order_id, pk, premise_id, kw, remaining in rows:
        out[order_id].append(Member(pk, premise_id, kw, remaining, pk=pk))
    return out


def auctions_clear_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    due = Auction.objects.filter(status=Auction.Status.OPEN, gate_closure__lte=now).values_list("pk", flat=True)
    return [auction_clear(auction_id=pk, now=now).pk for pk in list(due)]


@dataclass(frozen=True)
class Rerun:
    identical: bool
    stored: dict
    recomputed: dict


def clearing_rerun(*, run: ClearingRun) -> Rerun:
    """Re-run a stored clearing from its stored inputs, with the engine of its rule version; compare."""
    if run.auction_id is not None:
        # Components the stored run solved get ten times the clearing's time, so a busy machine does not turn an
        # audit into a fallback; those it did not solve in time keep the heuristic's selection, as stored.
        recomputed, _ = _run_engine(
            run.inputs,
            rule_version=run.rule_version,
            fallback=run.outputs.get("fallback", ()),
            time_limit=10 * settings.MARKET_DAY_AHEAD_SOLVER_TIME_LIMIT_S,
        )
    else:
        from datetime import datetime as dt

        req = run.inputs["request"]
        offers = [
            OfferIn(o["id"], Decimal(o["kw"]), Decimal(o["price_per_mwh"]), dt.fromisoformat(o["submitted_at"]))
            for o in run.inputs["offers"]
        ]
        r = clear_merit_order(
            request_kw=Decimal(req["kw"]), max_price_per_mwh=Decimal(req["max_price_per_mwh"]), offers=offers
        )
        recomputed = {
            "clearing_price_per_mwh": None if r.clearing_price_per_mwh is None else str(r.clearing_price_per_mwh),
            "awards": [{"offer_id": a.offer_id, "kw": str(a.kw)} for a in r.awards],
        }
    return Rerun(identical=recomputed == run.outputs, stored=run.outputs, recomputed=recomputed)
