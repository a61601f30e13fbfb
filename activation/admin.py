from django.contrib import admin

from .models import DispatchSignal, DREvent, EventVerification, Program, Reservation, VerificationInterval


class DispatchSignalInline(admin.TabularInline):
    model = DispatchSignal
    extra = 0
    raw_id_fields = ["premise"]


@admin.register(DREvent)
class DREventAdmin(admin.ModelAdmin):
    list_display = ["id", "premise", "zone", "source", "target_kw", "start", "end", "status", "price_per_mwh", "buyer"]
    list_filter = ["status", "source", "zone"]
    search_fields = ["premise__name"]
    raw_id_fields = ["award", "reservation", "premise", "buyer"]
    inlines = [DispatchSignalInline]
    # Status, money and who pays change only through the activation services (and their audit), not here.
    readonly_fields = [
        "status",
        "source",
        "price_per_mwh",
        "buyer",
        "award",
        "reservation",
        "target_kw",
        "start",
        "end",
    ]

    def has_delete_permission(self, request, obj=None):
        # An event is the record its dispatch rows, verification and settlement hang on; it is cancelled through
        # the services, never deleted (its dispatch rows hold it by construction, ADR 0052).
        return False


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
    list_display = [
        "event",
        "baseline_kwh",
        "actual_kwh",
        "delivered_kwh",
        "committed_kwh",
        "actual_source",
        "verified_at",
    ]
    search_fields = ["event__premise__name"]
    raw_id_fields = ["event", "baseline"]
    inlines = [VerificationIntervalInline]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "product",
        "premise",
        "zone",
        "buyer",
        "reserved_kw",
        "window_start",
        "window_end",
        "availability_price_per_mwh",
        "energy_price_per_mwh",
    ]
    list_filter = ["product", "zone"]
    search_fields = ["premise__name", "buyer__name", "seller__name"]
    raw_id_fields = ["award", "premise", "seller", "buyer"]
    # A reservation is what the market awarded: its terms are not edited by hand.
    readonly_fields = [
        "award",
        "created_at",
        "product",
        "premise",
        "zone",
        "seller",
        "buyer",
        "reserved_kw",
        "window_start",
        "window_end",
        "availability_price_per_mwh",
        "energy_price_per_mwh",
        "notice_minutes",
    ]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "notice_minutes", "energy_rate_per_mwh", "penalty_rate_per_mwh"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
