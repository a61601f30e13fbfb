"""The aggregator's forms: the fleet filter, enrolment of consented premises (one or many, with the terms) and
the portfolio order builder. Times are the chosen zone's local time (``portal.forms_operator.ZoneTimesForm``);
the services check the business rules and their refusals are shown on the fields they name."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import Device, Enrolment, Premise
from market.engine.products import PRODUCTS, MarketType
from market.models import Auction

from .aggregator_selectors import SORTS, FleetFilter
from .forms_operator import ZoneTimesForm, _local

YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]


class FleetFilterForm(forms.Form):
    """Search, filters and sort of the fleet list (a GET form; every field optional)."""

    q = forms.CharField(label="Search (premise, owner, address)", required=False, max_length=100)
    zone = forms.TypedChoiceField(label="Zone", required=False, coerce=int, empty_value=None)
    segment = forms.ChoiceField(label="Segment", required=False, choices=[("", "Any"), *Premise.Segment.choices])
    enrolled = forms.ChoiceField(label="Enrolled with you", required=False, choices=YES_NO)
    validated = forms.ChoiceField(label="Revenue meter validated", required=False, choices=YES_NO)
    device_kind = forms.ChoiceField(
        label="Has a device of kind", required=False, choices=[("", "Any"), *Device.Kind.choices]
    )
    available = forms.ChoiceField(label="Declared available now", required=False, choices=YES_NO)
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[
            ("name", "Name A–Z"),
            ("-name", "Name Z–A"),
            ("zone", "Zone"),
            ("segment", "Segment"),
            ("owner", "Owner"),
            ("newest", "Newest"),
        ],
    )

    def __init__(self, *args, zones=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["zone"].choices = [("", "Any"), *((z.pk, z.code) for z in zones)]

    def to_filter(self) -> FleetFilter:
        if not self.is_valid():
            return FleetFilter()
        d = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        if d.get("sort") not in SORTS:
            d.pop("sort", None)
        return FleetFilter(**d)


class EnrolForm(forms.Form):
    """Enrol consented premises (ticked in the list, or one) under the aggregator's enrolment terms. The commercial
    terms (fee share, penalty share, payment frequency) join this field list when the enrolment service takes
    them; until then the page shows the terms on offer read-only."""

    premises = forms.ModelMultipleChoiceField(
        queryset=Premise.objects.none(),
        label="Premises to enrol",
        error_messages={"required": "Tick at least one consented premise."},
        widget=forms.CheckboxSelectMultiple,
    )
    service = forms.ChoiceField(label="Service", choices=Enrolment.Service.choices)
    ends_at = forms.DateField(
        label="Enrolment ends on (blank: when the consent ends)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    accept_terms = forms.BooleanField(
        label="The enrolment follows the terms shown on this page", error_messages={"required": "Confirm the terms."}
    )

    def __init__(self, *args, enrolable=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["premises"].queryset = enrolable if enrolable is not None else Premise.objects.none()
        self.fields["premises"].label_from_instance = lambda p: p.name

    def clean_ends_at(self):
        day = self.cleaned_data.get("ends_at")
        if day is not None and day <= timezone.localdate():
            raise forms.ValidationError("Give a day after today.")
        return day


class PortfolioOrderForm(ZoneTimesForm):
    """A sell order for a portfolio: members chosen by hand (ticked) or every enrolled premise matching the
    filter, each offering the same kW."""

    TIME_FIELDS = ("delivery_start", "delivery_end")
    market = forms.ChoiceField(label="Market", choices=MarketType.CHOICES)
    product = forms.ChoiceField(label="Product", choices=[(p.code, p.label) for p in PRODUCTS.values()])
    auction = forms.ModelChoiceField(
        queryset=Auction.objects.none(), required=False, label="Auction (day-ahead and seasonal)"
    )
    delivery_start = _local(label="Delivery from (zone's local time)")
    delivery_end = _local(label="Delivery to (zone's local time)")
    price_per_mwh = forms.DecimalField(
        label="Lowest price you accept ($/MWh)", min_value=0, decimal_places=2, max_digits=10
    )
    kw_per_member = forms.DecimalField(label="kW per member", min_value=0.001, decimal_places=3, max_digits=12)
    members = forms.ModelMultipleChoiceField(
        queryset=Premise.objects.none(), required=False, label="Members", widget=forms.CheckboxSelectMultiple
    )
    all_matching = forms.BooleanField(label="Every enrolled premise matching the filter", required=False)
    is_block = forms.BooleanField(label="Block order (all-or-none, day-ahead)", required=False)

    def __init__(self, *args, members=None, auctions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = members if members is not None else Premise.objects.none()
        self.fields["members"].label_from_instance = lambda p: p.name
        self.fields["auction"].queryset = auctions if auctions is not None else Auction.objects.none()
        self.fields["auction"].label_from_instance = lambda a: (
            f"{a.get_market_display()} · {a.product} · {a.zone.code} · {a.delivery_start:%Y-%m-%d %H:%M} UTC"
        )

    def clean(self):
        data = super().clean()
        if not data.get("members") and not data.get("all_matching"):
            self.add_error("members", "Tick members or choose every enrolled premise matching the filter.")
        if data.get("market") in (MarketType.DAY_AHEAD, MarketType.SEASONAL) and not data.get("auction"):
            self.add_error("auction", "Choose the open auction to enter.")
        return data
