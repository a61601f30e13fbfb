"""The demo scenario: a world of participants with weeks of meter data, and one market day through all seven steps.

Everything goes through the apps' services and tasks, exactly as the portal, API and Celery would call them.
The market day is *yesterday* (local time of the demo grid), replayed with a simulated clock: offers before
gate closure, the operator's requests, clearing, a day-ahead auction (orders before its gate closure, cleared
at it), events, the meter data of the day (with each dispatched resource's response), verification,
settlement, and anchoring of the day's settlement hours on chain.
Running it again is harmless: the world is created once, each day is run once."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from accounts.models import GridZone, Organisation
from accounts.selectors import zone_with_descendant_ids
from activation.services import events_advance, events_verify_due
from assessment.selectors import accredited_capacity_kw
from assessment.services import flexibility_assess
from market.engine.products import MarketType
from market.models import Auction, FlexibilityOffer, FlexibilityRequest
from market.services import offer_submit, request_submit
from market.services.auctions import auction_clear, auction_open
from settlement.models import SettlementRun
from settlement.services.anchoring import periods_anchor_closed
from settlement.services.runs import settlement_run_execute

from .auction_orders import auction_orders_enter
from .capacity import capacity_auction_run, reservation_day_settle, reservations_call
from .claims import consumer_claim_run
from .devices import devices_simulate_finish, devices_simulate_start
from .history import day_readings_load
from .summary import DayResult, day_result_summarise
from .world import (
    AUCTION_DEMAND_SHARE,
    AUCTION_GATE_HOURS,
    AUCTION_PRODUCT,
    AUCTION_ZONE,
    MAX_PRICE,
    PORTFOLIO_PRICE_RANGE,
    PRICE_RANGE,
    World,
    auction_window,
    event_window,
    local_day_bounds,
    reservation_window,
)


def market_day_run(
    *, world: World, day: date, now: datetime | None = None, simulate_devices: bool = False
) -> DayResult:
    """Steps 2-7 for one market day. Safe to call again: what is done is not redone. With
    ``simulate_devices`` (``manage.py demo``) the dispatched commands reach simulated devices over MQTT."""
    now = now or timezone.now()
    window_start, window_end = event_window(day)
    result = DayResult(day=day)
    rng = random.Random(day.toordinal())  # noqa: S311 - demo prices, not security
    requests = FlexibilityRequest.objects.filter(operator=world.operator, window_start=window_start)
    if requests.exists():
        result.already_run = True
    else:
        gate_closure = window_start - timedelta(hours=26)
        # Step 2: assessment (baseline for the window, flexible kW per premise).
        capacity = {}
        for premise in world.premises:
            flexibility_assess(premise=premise, window_start=window_start, window_end=window_end, now=gate_closure)
            # What the market lets it sell: assessed kW x reliability factor, capped by declarations.
            capacity[premise.pk] = accredited_capacity_kw(premise=premise, start=window_start, end=window_end)
        # Step 3: offers, by the premise owner or, for enrolled households, by the aggregator.
        for premise in world.premises:
            kw = capacity[premise.pk]
            if kw <= 0:
                continue
            lo, hi = PRICE_RANGE[premise.segment]
            offer_submit(
                seller=premise.aggregator or premise.organisation,
                premise=premise,
                zone=premise.grid_zone,
                kw=kw,
                price_per_mwh=Decimal(rng.randint(lo * 100, hi * 100)) / 100,
                window_start=window_start,
                window_end=window_end,
            )
        simulation = devices_simulate_start(world) if simulate_devices else None
        # Step 4: the operator requests ~60 % of what is offered in each substation; clearing runs in Celery.
        for sub in GridZone.objects.filter(kind=GridZone.Kind.SUBSTATION).order_by("code"):
            offered = FlexibilityOffer.objects.filter(
                premise__grid_zone__parent=sub, window_start=window_start, status=FlexibilityOffer.Status.OPEN
            ).aggregate(kw=Sum("kw"))["kw"] or Decimal("0")
            if offered:
                request_submit(
                    operator=world.operator,
                    zone=sub,
                    kw=(offered * Decimal("0.6")).quantize(Decimal("0.001")),
                    max_price_per_mwh=MAX_PRICE,
                    window_start=window_start,
                    window_end=window_end,
                )
        # Step 4b: the operator's day-ahead auction for a substation's morning hours, cleared at gate closure.
        day_ahead_auction_run(world=world, day=day)
        # Step 4c: the operator's day-ahead capacity auction; its awards are reservations (kW held), and the
        # operator calls the first reserved hour (an event per reservation, dispatched with the call's notice).
        capacity_auction_run(world=world, day=day)
        reservations_call(world=world, day=day)
        # Step 5: awards became events with dispatch signals (Celery, chained on commit); the clock runs the day.
        if simulation is not None:
            result.devices = devices_simulate_finish(simulation)
        auction_start, auction_end = auction_window(day)
        reserved_start, _ = reservation_window(day)
        called = (reserved_start, reserved_start + timedelta(hours=1))
        for instant in (window_start, window_end, auction_start, auction_end, *called):
            events_advance(now=instant)
        # The day's meter data arrives, with each dispatched resource's response.
        day_readings_load(world=world, day=day)
    # Step 6: verification of every completed event with complete data, as the demo's clock reads now (the day's
    # meter data has arrived); each verification, once committed, settles its event at once (ADR 0027).
    events_verify_due(now=now)
    # Step 7: the day's settlement run (the daily run over the local market day: the sweep, which pays what the
    # event path has not; a repeat pays nothing), then the day's settlement hours are closed: seal, anchor, confirm.
    day_start, day_end = local_day_bounds(day)
    result.run = settlement_run_execute(
        window_start=day_start, window_end=day_end, trigger=SettlementRun.Trigger.DAILY, now=now
    )
    # The platform's daily run over the UTC day holding the reservations settles their availability (per whole
    # UTC day) and mints Capacity and Availability tokens.
    result.reservation_run = reservation_day_settle(day=day, now=now)
    result.anchors = periods_anchor_closed(now=now, wait=True)
    day_result_summarise(result, world=world, day=day)
    # The day ends with one consumer claiming its FLEX tokens on chain with its own wallet (ADR 0023).
    result.claim = consumer_claim_run(world=world)
    return result


def _energy_price_range(seller: Organisation, members) -> tuple[int, int]:
    """The aggregator's portfolio price range, or the consumer's by its premise's segment."""
    if seller.kind == Organisation.Kind.AGGREGATOR:
        return PORTFOLIO_PRICE_RANGE
    return PRICE_RANGE[members[0][0].segment]


def day_ahead_auction_run(*, world: World, day: date) -> Auction:
    """The market day's day-ahead auction, through the market's services: the operator opens a congestion
    auction for ``AUCTION_ZONE`` over the local day (hourly intervals, gate closure at noon the day before);
    for each hour of :func:`auction_window` every seller there offers its resources' accredited capacity (a
    consumer its own premise, the aggregator its enrolled households as one portfolio order), the operator bids
    for ``AUCTION_DEMAND_SHARE`` of it at ``MAX_PRICE``; at gate closure it clears at a uniform price per hour
    and each member resource gets its award (an event, settled with the day). Safe to call again: the auction is
    opened once, offered into once, cleared once."""
    day_start, day_end = local_day_bounds(day)
    gate_closure = day_start - timedelta(hours=AUCTION_GATE_HOURS)
    zone = GridZone.objects.get(code=AUCTION_ZONE)
    auction = auction_open(
        operator=world.operator,
        market=MarketType.DAY_AHEAD,
        product=AUCTION_PRODUCT,
        zone=zone,
        delivery_start=day_start,
        delivery_end=day_end,
        interval_minutes=60,
        gate_closure=gate_closure,
    )
    if auction.status == Auction.Status.OPEN and not auction.orders.exists():
        start, end = auction_window(day)
        inside = zone_with_descendant_ids([zone])
        auction_orders_enter(
            auction=auction,
            operator=world.operator,
            zone=zone,
            product=AUCTION_PRODUCT,
            premises=[p for p in world.premises if p.grid_zone_id in inside],
            start=start,
            end=end,
            entered=gate_closure - timedelta(hours=1),  # the simulated clock: orders before gate closure
            rng=random.Random(day.toordinal() * 31 + 7),  # noqa: S311 - demo prices, not security
            price_range=_energy_price_range,
            demand_share=AUCTION_DEMAND_SHARE,
            max_price=MAX_PRICE,
        )
    auction_clear(auction_id=auction.pk, now=gate_closure)  # a cleared auction returns its stored run
    auction.refresh_from_db()
    return auction
