"""The staking page's sell-order form (input only: ``market.services.orders.order_submit`` validates)."""

from __future__ import annotations

from datetime import UTC

from django import forms

from accounts.models import GridZone, Premise
from market.engine.products import PRODUCTS, MarketType


class SellOrderForm(forms.Form):
    """One resource offered in a 15-minute real-time interval, optionally with priority activation."""

    product = forms.ChoiceField(
        choices=[(c, p.label) for c, p in PRODUCTS.items() if MarketType.REAL_TIME in p.markets and c != "forward"]
    )
    zone = forms.ModelChoiceField(queryset=GridZone.objects.order_by("code"), to_field_name="code")
    premise = forms.ModelChoiceField(queryset=Premise.objects.none())
    kw = forms.DecimalField(min_value=0, max_digits=12, decimal_places=3, label="kW")
    price_per_mwh = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, label="Price ($/MWh)")
    delivery_start = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Delivery start (UTC, 15 minutes)"
    )
    priority = forms.BooleanField(required=False, label="Priority activation (dispatched first at equal price)")

    def __init__(self, *args, premises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["premise"].queryset = premises if premises is not None else Premise.objects.none()

    def clean_delivery_start(self):
        start = self.cleaned_data["delivery_start"]
        return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
