from django.contrib import admin

from .models import DispatchSignal, DREvent, EventVerification, VerificationInterval


class DispatchSignalInline(admin.TabularInline):
    model = DispatchSignal
    extra = 0
    raw_id_fields = ["premise"]


@admin.register(DREvent)
class DREventAdmin(admin.ModelAdmin):
    list_display = ["id", "premise", "zone", "target_kw", "start", "end", "status"]
    list_filter = ["status", "zone"]
    search_fields = ["premise__name"]
    raw_id_fields = ["award", "premise"]
    inlines = [DispatchSignalInline]


@admin.register(DispatchSignal)
class DispatchSignalAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "premise", "channel", "status", "created_at", "sent_at"]
    list_filter = ["channel", "status"]
    search_fields = ["premise__name"]
    raw_id_fields = ["event", "premise"]


class VerificationIntervalInline(admin.TabularInline):
    model = VerificationInterval
    extra = 0


@admin.register(EventVerification)
class EventVerificationAdmin(admin.ModelAdmin):
    list_display = ["event", "baseline_kwh", "actual_kwh", "delivered_kwh", "committed_kwh", "verified_at"]
    search_fields = ["event__premise__name"]
    raw_id_fields = ["event", "baseline"]
    inlines = [VerificationIntervalInline]
