"""The staking page's forms: a sell order, a stake, a governance vote (input only: the services validate)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from decimal import Decimal

from django import forms
from django.utils import timezone

from accounts.models import GridZone, Premise
from market.engine.products import PRODUCTS, MarketType
from settlement import assets

from . import formatting as fmt

TOKEN_NAMES = {
    assets.CAPACITY: "Capacity",
    assets.ENERGY: "Energy",
    assets.AVAILABILITY: "Availability",
    assets.PERFORMANCE: "Performance",
    assets.GOVERNANCE: "Governance: gives votes on market parameters",
}


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


class StakeForm(forms.Form):
    """Lock some of the organisation's free tokens until a date (``settlement.services.staking.stake_lock``
    validates again). ``key`` makes a double submit harmless: it becomes the stake's business key."""

    required_css_class = "required"
    asset = forms.ChoiceField(label="Token")
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=18, decimal_places=2, label="Amount to stake")
    locked_until = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), label="Locked until (date; released from 00:00 UTC that day)"
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    confirm = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, balances=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.balances = balances or {}
        self.fields["asset"].choices = [
            (a, f"{a} · {TOKEN_NAMES[a]} ({fmt.token(self.free(a), a)} free)") for a in assets.TOKENS
        ]
        self.fields["key"].initial = uuid.uuid4().hex

    def free(self, asset: str) -> Decimal:
        return (self.balances.get(asset) or {}).get("free", Decimal("0"))

    def clean_locked_until(self):
        day = self.cleaned_data["locked_until"]
        if day <= timezone.now().astimezone(UTC).date():
            raise forms.ValidationError("Pick a date after today.")
        return datetime.combine(day, time(0), tzinfo=UTC)

    def clean(self):
        cleaned = super().clean()
        asset, amount = cleaned.get("asset"), cleaned.get("amount")
        if asset and amount is not None and amount > self.free(asset):
            self.add_error("amount", f"You hold {fmt.token(self.free(asset), asset)} free; stake at most that much.")
        return cleaned


class VoteForm(forms.Form):
    """For or against one proposal (``settlement.services.governance.vote_cast`` weighs and records it)."""

    required_css_class = "required"
    proposal = forms.IntegerField(widget=forms.HiddenInput)
    support = forms.ChoiceField(
        choices=[("for", "For the change"), ("against", "Against the change")],
        widget=forms.RadioSelect,
        label="Your vote",
        error_messages={"required": "Choose for or against."},
    )
    confirm = forms.CharField(widget=forms.HiddenInput, required=False)
