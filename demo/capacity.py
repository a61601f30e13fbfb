"""The market day's capacity reservation: the operator's day-ahead capacity auction for the ISO zone's early
afternoon, its awards held as reservations (ADR 0011), one hour of them called, and the UTC day's settlement
run that pays their availability and mints Capacity and Availability tokens (ADR 0024).

Everything goes through the market's and activation's services: a capacity order needs 100 kW (FERC Order 2222's
minimum size, ``market.engine.products``), so only the factories, the larger businesses and the aggregator's
pooled portfolio reach it; the rest stay out, as they would in the market."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from accounts.models import GridZone, Membership, Organisation
from activation.models import Reservation
from activation.services.reservations import reservation_call
from market.engine.products import MarketType
from market.models import Auction
from market.services.auctions import auction_clear, auction_open
from settlement.models import SettlementRun
from settlement.services.runs import settlement_run_execute

from .auction_orders import auction_orders_enter
from .world import (
    AUCTION_GATE_HOURS,
    PORTFOLIO_PRICE_RANGE,
    RESERVATION_CALL_NOTICE,
    RESERVATION_DEMAND_SHARE,
    RESERVATION_MAX_PRICE,
    RESERVATION_PRICE_RANGE,
    RESERVATION_PRODUCT,
    RESERVATION_ZONE,
    World,
    local_day_bounds,
    reservation_window,
)

HOUR = timedelta(hours=1)


def capacity_auction_of_day(day: date) -> Auction | None:
    return Auction.objects.filter(
        market=MarketType.DAY_AHEAD,
        product=RESERVATION_PRODUCT,
        zone__code=RESERVATION_ZONE,
        delivery_start=local_day_bounds(day)[0],
    ).first()


def _reservation_price_range(seller: Organisation, members) -> tuple[int, int]:
    """A consumer's capacity price range; the aggregator's portfolio asks a tenth of its energy price range."""
    if seller.kind == Organisation.Kind.AGGREGATOR:
        lo, hi = PORTFOLIO_PRICE_RANGE
        return max(lo // 10, 1), hi // 10
    return RESERVATION_PRICE_RANGE


def capacity_auction_run(*, world: World, day: date) -> Auction:
    """The operator's day-ahead capacity auction for ``RESERVATION_ZONE`` over the local day (hourly, gate
    closure at noon the day before): for each hour of :func:`reservation_window` every seller offers its
    resources' accredited kW there (a consumer its premise, the aggregator its households as one portfolio) if
    that reaches the product's minimum, the operator bids for ``RESERVATION_DEMAND_SHARE`` of it at
    ``RESERVATION_MAX_PRICE`` ($ per MW and hour held). Cleared at gate closure; each award becomes a
    reservation. Safe to call again."""
    day_start, day_end = local_day_bounds(day)
    gate_closure = day_start - timedelta(hours=AUCTION_GATE_HOURS)
    zone = GridZone.objects.get(code=RESERVATION_ZONE)
    auction = auction_open(
        operator=world.operator,
        market=MarketType.DAY_AHEAD,
        product=RESERVATION_PRODUCT,
        zone=zone,
        delivery_start=day_start,
        delivery_end=day_end,
        interval_minutes=60,
        gate_closure=gate_closure,
    )
    if auction.status == Auction.Status.OPEN and not auction.orders.exists():
        start, end = reservation_window(day)
        auction_orders_enter(
            auction=auction,
            operator=world.operator,
            zone=zone,
            product=RESERVATION_PRODUCT,
            premises=world.premises,
            start=start,
            end=end,
            entered=gate_closure - HOUR,
            rng=random.Random(day.toordinal() * 17 + 3),  # noqa: S311 - demo prices, not security
            price_range=_reservation_price_range,
            demand_share=RESERVATION_DEMAND_SHARE,
            max_price=RESERVATION_MAX_PRICE,
        )
    auction_clear(auction_id=auction.pk, now=gate_closure)
    auction.refresh_from_db()
    return auction


def reservations_of_day(day: date):
    start, end = reservation_window(day)
    return Reservation.objects.filter(
        award__clearing_run__auction__product=RESERVATION_PRODUCT, window_start__gte=start, window_end__lte=end
    )


def reservations_call(*, world: World, day: date) -> list[int]:
    """The operator calls the first hour of the day's reservations, each for its reserved kW, with
    ``RESERVATION_CALL_NOTICE`` of notice (the simulated clock); the later hours stay held, uncalled. Returns
    the call events' ids (none made twice: a reservation already called is skipped)."""
    start, _ = reservation_window(day)
    user = (
        Membership.objects.filter(organisation=world.operator, role=Membership.Role.GRID_OPERATOR)
        .select_related("user")
        .order_by("pk")
        .first()
        .user
    )
    called = []
    for r in reservations_of_day(day).filter(window_start=start, events__isnull=True).order_by("pk"):
        event = reservation_call(
            reservation_id=r.pk,
            user=user,
            target_kw=r.reserved_kw,
            start=r.window_start,
            end=r.window_end,
            now=r.window_start - RESERVATION_CALL_NOTICE,
        )
        called.append(event.pk)
    return called


def reservation_day_settle(*, day: date, now: datetime) -> SettlementRun | None:
    """The platform's daily run over the UTC day holding the reservations (``settlement.tasks.settle_day``):
    availability is settled per whole UTC day (``reservation-availability-1``), which the local market day's run
    does not contain. Its events were paid already; it pays nothing twice."""
    start, _ = reservation_window(day)
    utc_day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if utc_day + timedelta(days=1) > now:
        return None
    return settlement_run_execute(
        window_start=utc_day, window_end=utc_day + timedelta(days=1), trigger=SettlementRun.Trigger.DAILY, now=now
    )
