"""Flexibility offers, operator requests, clearing runs and awards."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from .engine import tiers
from .engine.products import PRODUCT_CHOICES, MarketType


class FlexibilityOffer(models.Model):
    """A seller's offer to reduce a premise's load by ``kw`` over a window at ``price_per_mwh`` or more."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWARDED = "awarded", "Awarded"
        PARTIALLY_AWARDED = "partially_awarded", "Partially awarded"
        NOT_AWARDED = "not_awarded", "Not awarded"
        CANCELLED = "cancelled", "Cancelled"

    seller = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="offers")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="offers")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="offers")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "price_per_mwh", "created_at", "id"]
        indexes = [models.Index(fields=["zone", "status", "window_start"], name="offer_zone_status_start")]
        constraints = [
            models.CheckConstraint(condition=Q(kw__gt=0), name="offer_kw_positive"),
            models.CheckConstraint(condition=Q(price_per_mwh__gte=0), name="offer_price_non_negative"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="offer_window_order"),
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk}: {self.kw} kW @ {self.price_per_mwh}/MWh"


class FlexibilityRequest(models.Model):
    """A grid operator's request for ``kw`` of load reduction in a zone, paying at most ``max_price_per_mwh``."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"
        CANCELLED = "cancelled", "Cancelled"

    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="flex_requests")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="flex_requests")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    max_price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kw__gt=0), name="request_kw_positive"),
            models.CheckConstraint(condition=Q(max_price_per_mwh__gte=0), name="request_price_non_negative"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="request_window_order"),
        ]

    def __str__(self) -> str:
        return f"Request {self.pk}: {self.kw} kW in {self.zone_id}"


class ClearingRun(models.Model):
    """One clearing of a request: its inputs, outputs and rule version, re-runnable to the same result."""

    request = models.OneToOneField(
        FlexibilityRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="clearing_run"
    )
    auction = models.OneToOneField(
        "market.Auction", null=True, blank=True, on_delete=models.PROTECT, related_name="clearing_run"
    )
    rule_version = models.CharField(max_length=40)
    clearing_price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    awarded_kw = models.DecimalField(max_digits=12, decimal_places=3)
    inputs = models.JSONField()
    outputs = models.JSONField()
    cleared_at = models.DateTimeField()
    # The block-selection solve of an auction clearing (rule ``uniform-auction-2``, ``market.engine.optimum``).
    solver_status = models.CharField(
        max_length=20,
        blank=True,
        help_text="optimal, closed_form (no block to choose), or time_limit, cut_limit, solver_failed (heuristic kept).",
    )
    solver_objective = models.DecimalField(
        max_digits=18, decimal_places=2, null=True, blank=True, help_text="Welfare of the result (currency)."
    )
    solver_bound = models.DecimalField(
        max_digits=18, decimal_places=2, null=True, blank=True, help_text="Proven upper bound on the welfare."
    )
    solver_gap = models.FloatField(null=True, blank=True, help_text="(bound - welfare) / bound.")

    def __str__(self) -> str:
        return f"Clearing of request {self.request_id}" if self.request_id else f"Clearing of auction {self.auction_id}"


class Award(models.Model):
    """What a resource (premise) is awarded, at the uniform clearing price or the trade price.

    Legacy request clearing links ``request`` and ``offer``; the day-ahead and seasonal auctions link the
    ``clearing_run`` and the sell ``order``; the real-time book links the ``trade``. Portfolio orders are
    disaggregated: one award per member premise. ``buyer`` is the grid operator who pays, for every award.
    """

    clearing_run = models.ForeignKey(
        ClearingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="awards"
    )
    request = models.ForeignKey(
        FlexibilityRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="awards"
    )
    offer = models.ForeignKey(FlexibilityOffer, null=True, blank=True, on_delete=models.PROTECT, related_name="awards")
    order = models.ForeignKey(
        "market.MarketOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="awards"
    )
    trade = models.ForeignKey("market.Trade", null=True, blank=True, on_delete=models.PROTECT, related_name="awards")
    buyer = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="bought_awards"
    )
    market = models.CharField(max_length=16, choices=MarketType.AWARD_CHOICES, default=MarketType.REQUEST)
    product = models.CharField(max_length=24, choices=PRODUCT_CHOICES, default="energy")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="awards")
    seller = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="awards")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    clearing_price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "id"]
        indexes = [
            # A premise's awards that reach into a window (capacity check): those ending after its start.
            models.Index(fields=["premise", "window_end"], name="award_premise_window_end"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["request", "offer"], name="award_unique_request_offer"),
            models.UniqueConstraint(
                fields=["clearing_run", "order", "premise", "window_start"], name="award_unique_run_order_member"
            ),
            models.UniqueConstraint(fields=["trade", "premise"], name="award_unique_trade_member"),
            models.CheckConstraint(condition=Q(kw__gt=0), name="award_kw_positive"),
        ]

    def __str__(self) -> str:
        return f"Award {self.pk}: {self.kw} kW @ {self.clearing_price_per_mwh}/MWh"


class Auction(models.Model):
    """A sealed-bid uniform-price auction: day-ahead (per zone, 24 hourly or 96 quarter-hourly intervals) or
    seasonal (per zone and season, against the operator's stepwise demand curve)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"

    market = models.CharField(max_length=16, choices=MarketType.CHOICES)
    product = models.CharField(max_length=24, choices=PRODUCT_CHOICES)
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="auctions")
    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="auctions")
    delivery_start = models.DateTimeField()
    delivery_end = models.DateTimeField()
    interval_minutes = models.PositiveIntegerField(help_text="60 or 15 (day-ahead); the whole season (seasonal).")
    gate_closure = models.DateTimeField()
    demand_curve = models.JSONField(
        default=list, blank=True, help_text="Seasonal: steps [{kw, price_per_mwh}], the price paid for each block."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery_start", "zone_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "product", "zone", "delivery_start"], name="auction_unique_market_product_zone_start"
            ),
            models.CheckConstraint(condition=Q(delivery_end__gt=F("delivery_start")), name="auction_window_order"),
        ]
        indexes = [models.Index(fields=["status", "gate_closure"], name="auction_status_gate")]

    def __str__(self) -> str:
        return f"{self.market} {self.product} {self.zone_id} {self.delivery_start:%Y-%m-%d %H:%M}"


class OrderBook(models.Model):
    """The persisted identity of one continuous book (product, zone, delivery interval): its row lock
    serialises matching; its status records gate closure."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    product = models.CharField(max_length=24, choices=PRODUCT_CHOICES)
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="order_books")
    delivery_start = models.DateTimeField()
    delivery_end = models.DateTimeField()
    gate_closure = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["delivery_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "zone", "delivery_start", "delivery_end"], name="book_unique_product_zone_interval"
            )
        ]

    def __str__(self) -> str:
        return f"book {self.product} {self.zone_id} {self.delivery_start:%Y-%m-%d %H:%M}"


class MarketOrder(models.Model):
    """A buy or sell order in one market, product and zone, for a delivery interval (or a block of them)."""

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Kind(models.TextChoices):
        LIMIT = "limit", "Limit"
        FOK = "fok", "Fill or kill"
        FAK = "fak", "Fill and kill"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FILLED = "filled", "Filled"
        PARTIALLY_FILLED = "partially_filled", "Partially filled (closed)"
        NOT_AWARDED = "not_awarded", "Not awarded"
        CANCELLED = "cancelled", "Cancelled"
        KILLED = "killed", "Killed (fok/fak rest)"
        EXPIRED = "expired", "Expired at gate closure"

    market = models.CharField(max_length=16, choices=MarketType.CHOICES)
    product = models.CharField(max_length=24, choices=PRODUCT_CHOICES)
    side = models.CharField(max_length=4, choices=Side.choices)
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.LIMIT)
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="market_orders")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="market_orders")
    auction = models.ForeignKey(Auction, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    book = models.ForeignKey(OrderBook, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    is_block = models.BooleanField(default=False, help_text="All-or-none across every interval of the window.")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    remaining_kw = models.DecimalField(max_digits=12, decimal_places=3)
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    delivery_start = models.DateTimeField()
    delivery_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    priority_at = models.DateTimeField(help_text="Time priority: set on entry, reset when a modify loses priority.")
    # Staking tier (market.engine.tiers) and the FLEX it locks per kW, fixed at entry from the governed parameter:
    # the order's open kW and its awards stay backed at this rate until settled (settlement.services.collateral).
    tier = models.PositiveSmallIntegerField(choices=tiers.CHOICES, default=tiers.STANDARD)
    collateral_per_kw = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority_at", "id"]
        indexes = [
            models.Index(fields=["book", "status"], name="order_book_status"),
            # Matching reads the open orders of one side that cross a price, in price-time order.
            models.Index(
                fields=["book", "side", "price_per_mwh", "priority_at", "id"],
                condition=Q(status="open"),
                name="order_book_open_price_time",
            ),
            models.Index(fields=["auction", "status"], name="order_auction_status"),
            models.Index(fields=["organisation", "status"], name="order_org_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kw__gt=0), name="order_kw_positive"),
            models.CheckConstraint(
                condition=Q(remaining_kw__gte=0) & Q(remaining_kw__lte=F("kw")), name="order_remaining_in_range"
            ),
            models.CheckConstraint(condition=Q(price_per_mwh__gte=0), name="order_price_non_negative"),
            models.CheckConstraint(condition=Q(delivery_end__gt=F("delivery_start")), name="order_window_order"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.kw} kW {self.product} @ {self.price_per_mwh}"


class OrderMember(models.Model):
    """A resource (premise) in a sell order, with the kW it contributes; a portfolio order has several.
    ``remaining_kw`` is the member's share still open (capacity it keeps reserved): only an open order's
    members keep one. Filling, killing, cancelling, gate closure and auction clearing all zero it, and the
    capacity check relies on that (``market.services.order_queries.commitments``)."""

    order = models.ForeignKey(MarketOrder, on_delete=models.CASCADE, related_name="members")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="order_memberships")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    remaining_kw = models.DecimalField(max_digits=12, decimal_places=3)
    #: the order's delivery window, copied here (it never changes) so that a premise's open shares overlapping
    #: a window are found from the premise's own index, however many orders the market holds.
    delivery_start = models.DateTimeField()
    delivery_end = models.DateTimeField()

    class Meta:
        ordering = ["order_id", "premise_id"]
        indexes = [
            # A premise's open shares over a window (capacity check): only open orders keep a remainder.
            models.Index(
                fields=["premise", "delivery_start"], condition=Q(remaining_kw__gt=0), name="member_premise_open_window"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "premise"], name="order_member_unique"),
            models.CheckConstraint(condition=Q(kw__gt=0), name="order_member_kw_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.premise_id}: {self.kw} kW"


class Trade(models.Model):
    """A match in a continuous book, at the resting (maker) order's price."""

    book = models.ForeignKey(OrderBook, on_delete=models.PROTECT, related_name="trades")
    buy_order = models.ForeignKey(MarketOrder, on_delete=models.PROTECT, related_name="buy_trades")
    sell_order = models.ForeignKey(MarketOrder, on_delete=models.PROTECT, related_name="sell_trades")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    executed_at = models.DateTimeField()

    class Meta:
        ordering = ["executed_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(kw__gt=0), name="trade_kw_positive")]

    def __str__(self) -> str:
        return f"Trade {self.pk}: {self.kw} kW @ {self.price_per_mwh}"


class ResourceQualification(models.Model):
    """A resource's tested ancillary-service performance: how fast it responds and how long it sustains."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="qualifications")
    product = models.CharField(max_length=24, choices=PRODUCT_CHOICES)
    response_seconds = models.DecimalField(max_digits=8, decimal_places=2)
    sustain_minutes = models.PositiveIntegerField()
    tested_at = models.DateTimeField()

    class Meta:
        ordering = ["premise_id", "product"]
        constraints = [models.UniqueConstraint(fields=["premise", "product"], name="qualification_unique")]

    def __str__(self) -> str:
        return f"{self.premise_id} {self.product}: {self.response_seconds}s / {self.sustain_minutes} min"


class MarketParameter(models.Model):
    """A governed market parameter (``market.parameters``): only an executed governance proposal changes it,
    through ``market.services.parameters.market_parameter_set``."""

    name = models.CharField(max_length=60, unique=True)
    value = models.DecimalField(max_digits=18, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
