from django.contrib import admin

from .models import (
    Auction,
    Award,
    ClearingRun,
    FlexibilityOffer,
    FlexibilityRequest,
    MarketOrder,
    MarketParameter,
    OrderBook,
    OrderMember,
    ResourceQualification,
    Trade,
)


@admin.register(FlexibilityOffer)
class FlexibilityOfferAdmin(admin.ModelAdmin):
    list_display = ["id", "seller", "premise", "zone", "kw", "price_per_mwh", "window_start", "window_end", "status"]
    list_filter = ["status", "zone"]
    search_fields = ["seller__name", "premise__name"]
    raw_id_fields = ["seller", "premise", "created_by"]


@admin.register(FlexibilityRequest)
class FlexibilityRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "operator", "zone", "kw", "max_price_per_mwh", "window_start", "window_end", "status"]
    list_filter = ["status", "zone"]
    search_fields = ["operator__name"]
    raw_id_fields = ["operator", "created_by"]


class AwardInline(admin.TabularInline):
    model = Award
    extra = 0
    raw_id_fields = ["offer", "premise", "seller", "request"]


@admin.register(ClearingRun)
class ClearingRunAdmin(admin.ModelAdmin):
    list_display = ["request", "auction", "rule_version", "solver_status", "solver_gap", "awarded_kw", "cleared_at"]
    list_filter = ["rule_version", "solver_status"]
    search_fields = ["request__id"]
    inlines = [AwardInline]


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    list_display = ["id", "request", "offer", "premise", "seller", "kw", "clearing_price_per_mwh", "window_start"]
    list_filter = ["request__zone"]
    search_fields = ["premise__name", "seller__name"]
    raw_id_fields = ["clearing_run", "request", "offer", "order", "trade", "premise", "seller", "buyer"]


@admin.register(Auction)
class AuctionAdmin(admin.ModelAdmin):
    list_display = ["id", "market", "product", "zone", "delivery_start", "interval_minutes", "gate_closure", "status"]
    list_filter = ["market", "product", "status"]
    raw_id_fields = ["zone", "operator"]


@admin.register(OrderBook)
class OrderBookAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "zone", "delivery_start", "delivery_end", "gate_closure", "status"]
    list_filter = ["product", "status"]


class OrderMemberInline(admin.TabularInline):
    model = OrderMember
    raw_id_fields = ["premise"]
    extra = 0


@admin.register(MarketOrder)
class MarketOrderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "market",
        "product",
        "side",
        "kind",
        "organisation",
        "zone",
        "kw",
        "remaining_kw",
        "price_per_mwh",
        "delivery_start",
        "status",
    ]
    list_filter = ["market", "product", "side", "status"]
    raw_id_fields = ["organisation", "zone", "auction", "book", "created_by"]
    inlines = [OrderMemberInline]


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = ["id", "book", "buy_order", "sell_order", "kw", "price_per_mwh", "executed_at"]
    raw_id_fields = ["book", "buy_order", "sell_order"]


@admin.register(ResourceQualification)
class ResourceQualificationAdmin(admin.ModelAdmin):
    list_display = ["premise", "product", "response_seconds", "sustain_minutes", "tested_at"]
    list_filter = ["product"]
    raw_id_fields = ["premise"]


@admin.register(MarketParameter)
class MarketParameterAdmin(admin.ModelAdmin):
    """Changed only by executed governance proposals (``market.services.parameters.market_parameter_set``)."""

    list_display = ["name", "value", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
