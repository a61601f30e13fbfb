"""The demo market day's summary: what each step produced, read back from the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, Sum

from activation.models import DeviceDispatch, DREvent, EventPerformance, EventVerification
from market.engine.products import MarketType
from market.models import Auction, Award, FlexibilityOffer, FlexibilityRequest
from settlement import assets
from settlement.models import PeriodAnchor, SettlementItem, SettlementRun
from settlement.selectors import ledger_is_balanced

from .capacity import capacity_auction_of_day, reservations_of_day
from .history import day_true_reductions
from .world import AUCTION_PRODUCT, AUCTION_ZONE, World, event_window, local_day_bounds


@dataclass
class AuctionSummary:
    """The day-ahead auction of the market day as the summary shows it."""

    zone: str
    product: str
    orders: int = 0
    #: per interval that cleared: start, clearing price, volume
    intervals: list[tuple[datetime, Decimal, Decimal]] = field(default_factory=list)
    #: per award (one member resource, one interval): start, premise, seller, kW, price
    awards: list[tuple[datetime, str, str, Decimal, Decimal]] = field(default_factory=list)

    @property
    def awarded_kw(self) -> Decimal:
        return sum((a[3] for a in self.awards), Decimal("0"))


@dataclass
class DayResult:
    day: date
    offers: int = 0
    requests: int = 0
    awards: int = 0  # of the requests (step 4)
    awarded_kw: Decimal = Decimal("0")
    auction: AuctionSummary | None = None
    events: int = 0
    delivered_kwh: Decimal = Decimal("0")
    #: the generator's true reduction over the same events (ground truth for the measured delivery)
    true_kwh: Decimal = Decimal("0")
    payments: int = 0  # fiat items to participants for the day's events (payments, credits, penalties)
    paid: Decimal = Decimal("0")  # their sum: payments less penalties
    fees: Decimal = Decimal("0")  # platform fees charged to the operator
    tokens: dict[str, Decimal] = field(default_factory=dict)
    #: awards the aggregator sold with its members' resources: the revenue split (ADR 0024)
    portfolio_awards: int = 0
    aggregator_fees: Decimal = Decimal("0")
    member_shares: Decimal = Decimal("0")
    run: SettlementRun | None = None
    anchors: list[PeriodAnchor] = field(default_factory=list)
    ledger_balanced: bool = True
    already_run: bool = False
    devices: str = ""  # what the device simulator did (or why it did not run)
    #: per verified event of the day: (event id, verified at, settled at or None); settled = its first payment
    #: (ADR 0027: the event path pays it as soon as the verification commits; the daily run is the sweep)
    settled_events: list[tuple[int, datetime, datetime | None]] = field(default_factory=list)

    @property
    def settlement_lag(self) -> timedelta | None:
        """The longest wait between an event's verification and its settlement (events paid nothing aside)."""
        lags = [settled - verified for _, verified, settled in self.settled_events if settled is not None]
        return max(lags) if lags else None

    #: the capacity auction's reservations (ADR 0011): start, premise, seller, kW held, $ per MW and hour
    reservations: list[tuple[datetime, str, str, Decimal, Decimal]] = field(default_factory=list)
    #: the operator's calls of them: (event id, premise, kW called, available when called, or None: not verified)
    calls: list[tuple[int, str, Decimal, bool | None]] = field(default_factory=list)
    #: the platform's daily run over the UTC day holding the reservations (availability is settled per UTC day)
    reservation_run: SettlementRun | None = None
    claim: Any = None  # demo.claims.DemoClaim: one consumer's on-chain token claim at the end of the day
    #: the registry's devices commanded for the day's events: (channel, kind) -> (commands, kW)
    commands: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)

    @property
    def measured_vs_true_pct(self) -> Decimal | None:
        """Measured delivery relative to the true reduction, in % (+ = measured more than happened)."""
        if not self.true_kwh:
            return None
        return ((self.delivered_kwh / self.true_kwh - 1) * 100).quantize(Decimal("0.1"))


def auction_of_day(day: date) -> Auction | None:
    return Auction.objects.filter(
        market=MarketType.DAY_AHEAD,
        product=AUCTION_PRODUCT,
        zone__code=AUCTION_ZONE,
        delivery_start=local_day_bounds(day)[0],
    ).first()


def day_result_summarise(result: DayResult, *, world: World, day: date) -> None:
    window_start, _ = event_window(day)
    requested = Award.objects.filter(window_start=window_start, request__operator=world.operator)
    result.offers = FlexibilityOffer.objects.filter(window_start=window_start).count()
    result.requests = FlexibilityRequest.objects.filter(window_start=window_start, operator=world.operator).count()
    result.awards = requested.count()
    result.awarded_kw = requested.aggregate(kw=Sum("kw"))["kw"] or Decimal("0")
    auction = auction_of_day(day)
    awards = requested
    if auction is not None and auction.status == Auction.Status.CLEARED:
        result.auction = auction_summary(auction)
        awards = Award.objects.filter(Q(pk__in=requested) | Q(clearing_run__auction=auction))
    reservations = reservations_of_day(day).select_related("premise", "seller").order_by("window_start", "pk")
    result.reservations = [
        (r.window_start, r.premise.name, r.seller.name, r.reserved_kw, r.availability_price_per_mwh)
        for r in reservations
    ]
    available = dict(
        EventPerformance.objects.filter(event__reservation__in=reservations).values_list("event_id", "available")
    )
    result.calls = [
        (e.pk, e.premise.name, e.target_kw, available.get(e.pk))
        for e in DREvent.objects.filter(reservation__in=reservations).select_related("premise").order_by("pk")
    ]
    capacity = capacity_auction_of_day(day)
    if capacity is not None and capacity.status == Auction.Status.CLEARED:  # the reservations' payments, tokens
        awards = Award.objects.filter(Q(pk__in=awards) | Q(clearing_run__auction=capacity))
    result.events = DREvent.objects.filter(award__in=awards).count()
    result.commands = {
        (channel, kind): (n, kw or Decimal("0"))
        for channel, kind, n, kw in DeviceDispatch.objects.filter(event__award__in=awards)
        .values("channel", "kind")
        .annotate(n=Count("pk"), kw=Sum("shed_kw"))
        .order_by("channel", "kind")
        .values_list("channel", "kind", "n", "kw")
    }
    verified = EventVerification.objects.filter(event__award__in=awards)
    result.delivered_kwh = verified.aggregate(kwh=Sum("delivered_kwh"))["kwh"] or Decimal("0")
    truth = day_true_reductions(world=world, day=day)
    result.true_kwh = sum(
        (truth.get(e, Decimal("0")) for e in verified.values_list("event_id", flat=True)), Decimal("0")
    )
    # the awards' items, and those of the reservations' calls (an event of a reservation, not of an award)
    items = SettlementItem.objects.filter(Q(award__in=awards) | Q(event__reservation__award__in=awards))
    first_paid = dict(
        items.exclude(kind=SettlementItem.Kind.PENALTY)
        .values("event_id")
        .annotate(at=Min("created_at"))
        .values_list("event_id", "at")
    )
    result.settled_events = [
        (event_id, verified_at, first_paid.get(event_id))
        for event_id, verified_at in verified.order_by("event_id").values_list("event_id", "verified_at")
    ]
    fiat = items.filter(currency=settings.SETTLEMENT_CURRENCY)
    to_participants = fiat.exclude(kind=SettlementItem.Kind.PLATFORM_FEE)
    result.payments = to_participants.count()
    cents = assets.CENT  # SQLite sums decimals as floats
    result.paid = (to_participants.aggregate(total=Sum("amount"))["total"] or Decimal("0")).quantize(cents)
    fees = fiat.filter(kind=SettlementItem.Kind.PLATFORM_FEE).aggregate(t=Sum("amount"))["t"] or Decimal("0")
    result.fees = -fees.quantize(cents)
    result.tokens = {
        asset: total.quantize(cents)
        for asset, total in items.filter(currency__in=assets.TOKENS)
        .values("currency")
        .annotate(t=Sum("amount"))
        .values_list("currency", "t")
    }
    splits = fiat.filter(kind__in=[SettlementItem.Kind.AGGREGATOR_FEE, SettlementItem.Kind.MEMBER_SHARE])
    result.portfolio_awards = splits.values("award_id").distinct().count()
    for kind, total in splits.values("kind").annotate(t=Sum("amount")).values_list("kind", "t"):
        if kind == SettlementItem.Kind.AGGREGATOR_FEE:
            result.aggregator_fees = total.quantize(cents)
        else:
            result.member_shares = total.quantize(cents)
    result.anchors = list(
        PeriodAnchor.objects.filter(period__items__in=items)
        .distinct()
        .select_related("period")
        .order_by("period__start")
    )
    result.ledger_balanced = ledger_is_balanced()


def auction_summary(auction: Auction) -> AuctionSummary:
    run = auction.clearing_run
    step = timedelta(minutes=auction.interval_minutes)
    cents = assets.CENT
    return AuctionSummary(
        zone=auction.zone.code,
        product=auction.product,
        orders=auction.orders.count(),
        intervals=[
            (
                auction.delivery_start + i["interval"] * step,
                Decimal(i["clearing_price_per_mwh"]),
                Decimal(i["volume_kw"]),
            )
            for i in run.outputs["intervals"]
            if i["clearing_price_per_mwh"] is not None
        ],
        awards=[
            (a.window_start, a.premise.name, a.seller.name, a.kw, a.clearing_price_per_mwh.quantize(cents))
            for a in Award.objects.filter(clearing_run=run)
            .select_related("premise", "seller")
            .order_by("window_start", "premise_id")
        ],
    )
