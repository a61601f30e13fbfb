"""Order intake: the rules an order must pass before it enters a book or an auction.

* Sellers: the trading gate (``accounts.selectors.organisation_trading_status``), premises they may offer
  (their own, or enrolled with them as an aggregator), located in the order's zone or below it, the product's
  minimum size (FERC Order 2222: 100 kW, reached by pooling a portfolio), ancillary qualification (response
  time and sustained duration per resource), free staked FLEX collateral for the order's staking tier
  (``check_collateral``: premium markets and priority activation; the provider settlement registers:
  ``market.hooks.collateral_position``; ADR 0025) and accredited capacity minus everything committed, per
  resource and instant (``market.services.capacity``), with the premise rows locked.
* Buyers: grid operators, in zones of their service area.
* The governed parameter ``minimum_offer_kw`` (``market.parameters.market_parameter``) is a floor on every
  sell order's kW besides the product's own minimum size.
* Real-time timing (aligned 5- or 15-minute intervals, the forward's lead time) and an auction's market,
  product, zone, gate and intervals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal

from django.utils import timezone

from accounts.models import GridZone, Organisation, Premise
from accounts.selectors import ZoneIndex
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from .. import hooks
from ..engine import tiers
from ..engine.products import PRODUCTS, MarketType, ProductSpec
from ..errors import MarketError
from ..models import Auction, MarketOrder, ResourceQualification
from ..parameters import market_parameter
from . import eligibility, order_queries
from .capacity import check_capacity
from .gates import premise_offer_refusals, wholesale_aggregation_refusal

RT_INTERVALS = (5, 15)
CENT = Decimal("0.01")


class GateClosed(Conflict):
    code = MarketError.GATE_CLOSED


def product_spec(product: str, market: str) -> ProductSpec:
    spec = PRODUCTS.get(product)
    if spec is None:
        raise ApplicationError(f"Unknown product {product!r}.", fields={"product": ["Unknown product."]})
    if market not in spec.markets:
        raise ApplicationError(
            f"{spec.label} is not traded in the {market} market.",
            code=MarketError.MARKET_PRODUCT_MISMATCH,
            fields={"market": [f"{spec.label} trades in: {', '.join(spec.markets)}."]},
        )
    return spec


def check_basics(kw: Decimal, price: Decimal, start: datetime, end: datetime) -> None:
    fields: dict[str, list[str]] = {}
    if kw <= 0:
        fields["kw"] = ["Must be greater than zero."]
    if price < 0:
        fields["price_per_mwh"] = ["Must not be negative."]
    if timezone.is_naive(start) or timezone.is_naive(end):
        fields["delivery_start"] = ["Give a timezone (e.g. 2026-11-24T17:00:00Z)."]
    elif end <= start:
        fields["delivery_end"] = ["Delivery must end after it starts."]
    if fields:
        raise ApplicationError("The order is invalid.", fields=fields)


def minimum_sell_kw(spec: ProductSpec, *, parameters: dict | None = None) -> tuple[Decimal, str]:
    """The smallest sell order of a product: its own minimum size or the governed ``minimum_offer_kw``,
    whichever is larger, and a sentence saying which rule it is. ``parameters``: the governed parameters when
    the caller has them."""
    governed = parameters["minimum_offer_kw"] if parameters is not None else market_parameter("minimum_offer_kw")
    if governed > spec.min_size_kw:
        return governed, f"the market's minimum offer (governed parameter minimum_offer_kw) is {governed} kW"
    return spec.min_size_kw, f"{spec.label} needs at least {spec.min_size_kw} kW per order"


def check_minimum(spec: ProductSpec, kw: Decimal, *, parameters: dict | None = None) -> None:
    minimum, rule = minimum_sell_kw(spec, parameters=parameters)
    if kw < minimum:
        raise ApplicationError(
            f"{rule[0].upper()}{rule[1:]}; pool resources in a portfolio offer.",
            code=MarketError.BELOW_MINIMUM_SIZE,
            fields={"kw": [f"At least {minimum} kW."]},
        )


def collateral_terms(
    *, spec: ProductSpec, side: str, priority: bool, parameters: dict | None = None
) -> tuple[int, Decimal]:
    """The order's staking tier (``market.engine.tiers``) and the FLEX it locks per kW: the governed parameter
    ``collateral_per_kw_<tier>`` at entry (fixed on the order, so a later change of the parameter leaves its
    collateral as it was). Only sell orders opt into priority activation."""
    if priority and side != MarketOrder.Side.SELL:
        raise ApplicationError(
            "Priority activation is for sell orders.", fields={"priority": ["Only sell orders choose a tier."]}
        )
    tier = tiers.order_tier(sell=side == MarketOrder.Side.SELL, premium_product=spec.premium, priority=priority)
    name = tiers.parameter_name(tier)
    return tier, parameters[name] if parameters is not None else market_parameter(name)


def check_collateral(*, organisation: Organisation, spec: ProductSpec, kw: Decimal, tier: int, per_kw: Decimal) -> None:
    """Refuse the order unless the organisation's free collateral (staked minus what its open orders and
    unsettled awards lock) covers ``kw`` x ``per_kw``. Locks the organisation's collateral row until the order's
    transaction ends (``market.hooks.collateral_position(lock=True)``): of two orders racing for the same
    collateral, the second sees the first once it commits and is refused (ADR 0025)."""
    if per_kw <= 0:
        return
    required = (kw * per_kw).quantize(CENT, rounding=ROUND_UP)
    position = hooks.collateral_position(organisation, lock=True)
    if position.free < required:
        label = tiers.NAMES[tier]
        where = f"{spec.label} is a premium market" if tier == tiers.PREMIUM else "Priority activation"
        raise ApplicationError(
            f"{where}: {_n(kw)} kW x {_n(per_kw)} FLEX per kW ({label} tier) = {_n(required)} FLEX of free "
            f"collateral is needed; {_n(position.staked)} FLEX is staked, {_n(position.locked)} FLEX of it is "
            f"locked by open orders and unsettled awards, {_n(position.free)} FLEX is free.",
            code=MarketError.INSUFFICIENT_STAKE,
            fields={"kw": [f"Stake {_n(required - position.free)} FLEX more, or offer less."]},
        )


def _n(x: Decimal) -> str:
    """A number as people write it: no trailing zeros, no exponent (100, 1.5, 0)."""
    return f"{x.normalize():f}" if x else "0"


def _lock_offerable(organisation: Organisation, ids: list[int], facts: eligibility.OrderFacts) -> dict[int, Premise]:
    """Lock the member premises (pk order) in one query, if the seller may offer them all
    (``premises_offerable_by``: consent, enrolment, owner's verification, validated meter; as the process's
    copy in ``facts`` has it); refuse the others with the reasons."""
    offerable = facts.organisation.offerable
    allowed = [pid for pid in ids if pid in offerable and facts.profiles[pid].meter_validated]
    found = {}
    if len(allowed) == len(ids):
        found = {p.pk: p for p in order_queries.premises_lock(ids)}
    missing = set(ids) - set(found)
    if missing:
        known = list(Premise.objects.filter(pk__in=missing).order_by("pk"))
        unknown = sorted(missing - {p.pk for p in known})
        if unknown:
            raise ApplicationError(
                f"Unknown premises {unknown}.", fields={"members": [f"Unknown premises: {unknown}."]}
            )
        refusals = premise_offer_refusals(organisation, known)
        reasons = [r for rs in refusals.values() for r in rs]
        raise NotPermitted(
            "This seller may not offer these premises: " + " ".join(reasons),
            fields={"members": [f"Not yours to offer: {sorted(missing)}.", *reasons]},
        )
    return found


def check_seller(
    *,
    organisation: Organisation,
    spec: ProductSpec,
    facts: eligibility.OrderFacts,
    zone: GridZone,
    members: list[tuple[int, Decimal]],
    kw: Decimal,
    start: datetime,
    end: datetime,
    tier: int,
    collateral_per_kw: Decimal,
) -> list[tuple[Premise, Decimal]]:
    """Every seller rule; locks the member premises and returns them with their kW. ``tier`` and
    ``collateral_per_kw``: the order's staking tier and its collateral per kW (:func:`collateral_terms`)."""
    zones = facts.zones
    status = facts.organisation.trading
    if not status.allowed:
        raise NotPermitted(
            "This participant may not trade: " + " ".join(status.reasons), code=MarketError.TRADING_SUSPENDED
        )
    if not members:
        raise ApplicationError("A sell order needs at least one resource.", fields={"members": ["Give a premise."]})
    ids = [pid for pid, _ in members]
    if len(set(ids)) != len(ids):
        raise ApplicationError("A premise appears twice.", fields={"members": ["Each premise once."]})
    premises = _lock_offerable(organisation, ids, facts)
    if not spec.locational_only:  # wholesale: FERC Order 2222 minimum aggregation size in the ISO
        too_small = wholesale_aggregation_refusal(organisation=organisation, zone=zone, start=start, end=end, first=ids)
        if too_small:
            raise ApplicationError(
                f"{spec.label}: {too_small}",
                code=MarketError.BELOW_MINIMUM_AGGREGATION,
                fields={"members": [too_small]},
            )
    inside = zones.with_descendant_ids([zone.pk])
    outside = [pid for pid in ids if premises[pid].grid_zone_id not in inside]
    if outside:
        raise ApplicationError(
            f"Premises {outside} are not in zone {zone.code} or below it.",
            code=MarketError.WRONG_LOCATION,
            fields={"zone": [f"Premises {outside} are outside this zone."]},
        )
    if any(m_kw <= 0 for _, m_kw in members):
        raise ApplicationError("Every member offers a positive kW.", fields={"members": ["kW must be positive."]})
    check_minimum(spec, kw, parameters=facts.parameters)
    if spec.ancillary:
        quals = {q.premise_id: q for q in ResourceQualification.objects.filter(premise_id__in=ids, product=spec.code)}
        bad = [
            pk
            for pk in ids
            if pk not in quals
            or quals[pk].response_seconds > spec.response_seconds
            or quals[pk].sustain_minutes < spec.min_duration_minutes
        ]
        if bad:
            raise ApplicationError(
                f"Premises {bad} are not qualified for {spec.label}: respond within {spec.response_seconds} s "
                f"and sustain {spec.min_duration_minutes} min.",
                code=MarketError.NOT_QUALIFIED,
                fields={"members": [f"Not qualified: {bad}."]},
            )
    check_collateral(organisation=organisation, spec=spec, kw=kw, tier=tier, per_kw=collateral_per_kw)
    out = []
    # every member's commitments in one statement, under the members' locks (taken above)
    committed = order_queries.commitments_many(premise_ids=ids, start=start, end=end)
    for pid, m_kw in members:
        check_capacity(
            premise=premises[pid], start=start, end=end, kw=m_kw, profile=facts.profiles[pid],
            committed=committed.get(pid, []),
        )  # fmt: skip
        out.append((premises[pid], m_kw))
    return out


def check_buyer(
    *, organisation: Organisation, facts: eligibility.OrderFacts, zone: GridZone, spec: ProductSpec
) -> None:
    if organisation.kind != Organisation.Kind.GRID_OPERATOR:
        raise NotPermitted("Only grid operators buy flexibility.")
    if spec.locational_only and zone.kind == GridZone.Kind.ISO_ZONE:
        raise ApplicationError(
            f"{spec.label} is bought for a location in the distribution grid: a substation or feeder.",
            code=MarketError.NOT_LOCATIONAL,
            fields={"zone": ["Name a substation or feeder, not an ISO zone."]},
        )
    if zone.pk not in facts.organisation.served_zone_ids:
        raise NotPermitted(f"Zone {zone.code} is outside the operator's service area.", fields={"zone": ["Not yours."]})


def zone_resolve(zones: ZoneIndex, zone: GridZone | str) -> GridZone:
    code = zone if isinstance(zone, str) else zone.code
    found = zones.by_code.get(code)
    if found is None:
        raise ApplicationError(f"Unknown zone {code!r}.", fields={"zone": [f"Unknown zone {code!r}."]})
    return found


def check_rt_timing(*, spec: ProductSpec, start: datetime, end: datetime, now: datetime) -> None:
    minutes = (end - start).total_seconds() / 60
    if spec.code == "forward":
        if start - now < timedelta(minutes=spec.min_lead_minutes):
            raise ApplicationError(
                f"A forward is for delivery at least {spec.min_lead_minutes // 60} h ahead.",
                code=MarketError.TOO_LATE,
                fields={"delivery_start": ["Too close to delivery for a forward."]},
            )
    elif minutes not in RT_INTERVALS or start.minute % int(minutes) or start.second or start.microsecond:
        raise ApplicationError(
            "A real-time delivery interval is 5 or 15 minutes, aligned to the clock.",
            code=MarketError.BAD_INTERVAL,
            fields={"delivery_end": ["Use a 5- or 15-minute interval aligned to the clock."]},
        )


def check_auction(
    *,
    auction: Auction,
    spec: ProductSpec,
    market: str,
    side: str,
    zone: GridZone,
    start: datetime,
    end: datetime,
    is_block: bool,
    organisation: Organisation,
    now: datetime,
) -> None:
    if auction.market != market or auction.product != spec.code or auction.zone_id != zone.pk:
        raise ApplicationError(
            "The order does not match the auction's market, product and zone.",
            fields={"auction": ["Market, product and zone must match the auction."]},
        )
    if auction.status != Auction.Status.OPEN or now >= auction.gate_closure:
        raise GateClosed("The auction's gate has closed; it takes no more orders.")
    if market == MarketType.SEASONAL:
        if side != MarketOrder.Side.SELL:
            raise ApplicationError(
                "The seasonal auction's demand is the operator's demand curve.", fields={"side": ["Only sell offers."]}
            )
        if (start, end) != (auction.delivery_start, auction.delivery_end):
            raise ApplicationError(
                "A seasonal offer covers the whole season.", fields={"delivery_start": ["The season."]}
            )
        return
    if side == MarketOrder.Side.BUY and organisation.pk != auction.operator_id:
        raise NotPermitted("Only the auction's operator bids in it.")
    step = timedelta(minutes=auction.interval_minutes)
    aligned = (
        start >= auction.delivery_start
        and end <= auction.delivery_end
        and not ((start - auction.delivery_start) % step or (end - start) % step)
    )
    n = (end - start) // step if aligned else 0
    if not aligned or (is_block and n < 2) or (not is_block and n != 1):
        raise ApplicationError(
            "A day-ahead order covers one auction interval; a block order two or more whole intervals.",
            code=MarketError.BAD_INTERVAL,
            fields={"delivery_start": ["Align to the auction's intervals."]},
        )
    if is_block and side != MarketOrder.Side.SELL:
        raise ApplicationError("Block orders are sell offers.", fields={"is_block": ["Sell side only."]})
