from django.contrib import admin

from .models import GridZone, IdempotencyRecord, Membership, Meter, Organisation, Premise


@admin.register(GridZone)
class GridZoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "parent"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    filter_horizontal = ["service_zones"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organisation__name"]
    raw_id_fields = ["user", "organisation"]


class MeterInline(admin.TabularInline):
    model = Meter
    extra = 0


@admin.register(Premise)
class PremiseAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "segment", "grid_zone", "aggregator", "timezone"]
    list_filter = ["segment", "grid_zone", "aggregator"]
    search_fields = ["name", "organisation__name", "address"]
    raw_id_fields = ["organisation"]
    inlines = [MeterInline]


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ["meter_id", "premise", "interval_minutes", "created_at"]
    list_filter = ["interval_minutes"]
    search_fields = ["meter_id", "premise__name"]
    raw_id_fields = ["premise"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "scope", "key", "response_status", "created_at"]
    list_filter = ["scope", "response_status"]
    search_fields = ["key", "user__email"]


# Devices
from .models import Device  # noqa: E402


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "premise", "kind", "control_channel", "rated_kw", "min_kw", "max_kw", "active"]
    list_filter = ["kind", "control_channel", "active"]
    search_fields = ["name", "premise__name", "channel_address"]
    raw_id_fields = ["premise"]
    readonly_fields = ["counted_kw"]

    @admin.display(description="Counted kW (60-minute event)")
    def counted_kw(self, obj):
        from .device_services import device_capability

        if obj.pk is None:
            return "—"
        cap = device_capability(obj)
        return f"{cap.kw} kW — " + " ".join(cap.reasons)
