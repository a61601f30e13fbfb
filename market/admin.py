from django.contrib import admin

from .models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest


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
    list_display = ["request", "rule_version", "clearing_price_per_mwh", "awarded_kw", "cleared_at"]
    list_filter = ["rule_version"]
    search_fields = ["request__id"]
    inlines = [AwardInline]


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    list_display = ["id", "request", "offer", "premise", "seller", "kw", "clearing_price_per_mwh", "window_start"]
    list_filter = ["request__zone"]
    search_fields = ["premise__name", "seller__name"]
    raw_id_fields = ["clearing_run", "request", "offer", "premise", "seller"]
