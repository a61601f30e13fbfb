"""Django admin views of bill protection (read-only: every change goes through ``settlement.services.protection``)."""

from __future__ import annotations

from django.contrib import admin

from .models_protection import BillProtectionEnrolment, BillProtectionMonth, PremiseTariff


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PremiseTariff)
class PremiseTariffAdmin(ReadOnly):
    list_display = ["premise", "valid_from", "kind", "rate", "periods"]
    raw_id_fields = ["premise"]


@admin.register(BillProtectionEnrolment)
class BillProtectionEnrolmentAdmin(ReadOnly):
    list_display = ["premise", "opted_in_at", "covers_from"]


@admin.register(BillProtectionMonth)
class BillProtectionMonthAdmin(ReadOnly):
    list_display = ["premise", "month", "energy_with", "payments", "penalties", "bill_with", "energy_without", "topup"]
    list_filter = ["month"]
