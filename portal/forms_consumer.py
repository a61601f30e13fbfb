"""Forms of the consumer's pages (input only: the services validate and say why they refuse)."""

from __future__ import annotations

from django import forms

from accounts.models import Consent, Device, Premise
from accounts.models_terms import CommercialTerms
from accounts.onboarding import aggregators
from accounts.terms import terms_describe, terms_published

UPLOAD_FORMATS = [
    ("platform_csv", "Platform CSV (columns meter_id, start, kwh)"),
    ("utility_csv", "Your utility's CSV download (Green Button CSV)"),
    ("green_button_xml", "Green Button XML (ESPI)"),
]


class _PremiseForm(forms.Form):
    required_css_class = "required"

    def __init__(self, *args, premises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["premise"].queryset = Premise.objects.filter(pk__in=[p.pk for p in premises or []])


class MeterUploadForm(forms.Form):
    required_css_class = "required"
    meter = forms.ChoiceField(label="Meter")
    format = forms.ChoiceField(choices=UPLOAD_FORMATS, label="File format")
    file = forms.FileField(label="File")
    account_number = forms.CharField(
        max_length=64, required=False, label="Utility account number (as on your bill; proves the meter is yours)"
    )

    def __init__(self, *args, meters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._meters = {m.meter_id: m for m in meters}
        self.fields["meter"].choices = [(m.meter_id, f"{m.meter_id} ({m.premise.name})") for m in meters]

    def clean_meter(self):
        return self._meters[self.cleaned_data["meter"]]


class ConsentGrantForm(_PremiseForm):
    premise = forms.ModelChoiceField(queryset=Premise.objects.none(), label="Premise")
    aggregator = forms.ModelChoiceField(queryset=aggregators(), label="Who (the aggregator)")
    scopes = forms.MultipleChoiceField(
        choices=Consent.Scope.choices, widget=forms.CheckboxSelectMultiple, label="What data"
    )
    purpose = forms.ChoiceField(choices=Consent.Purpose.choices, label="Purpose")
    months = forms.IntegerField(min_value=1, max_value=36, initial=12, label="Valid for (months)")
    terms = forms.ModelChoiceField(
        queryset=CommercialTerms.objects.none(),
        required=False,
        label="Commercial terms I accept (the chosen aggregator's, shown above)",
        empty_label="None: this aggregator has published no terms",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["terms"].queryset = CommercialTerms.objects.filter(pk__in=[t.pk for t in terms_published()])
        self.fields["terms"].label_from_instance = terms_describe


class AvailabilityForm(_PremiseForm):
    premise = forms.ModelChoiceField(queryset=Premise.objects.none(), label="Premise")
    available_kw = forms.DecimalField(
        min_value=0, decimal_places=3, label="What you can deliver, kW (0: I'm away / not available)"
    )
    soc_percent = forms.DecimalField(
        min_value=0, max_value=100, required=False, label="Battery state of charge now, % (if you have one)"
    )
    valid_until = forms.DateTimeField(
        label="Until (your local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean_valid_until(self):
        from django.utils import timezone

        from .formatting import zone

        value = self.cleaned_data["valid_until"]
        premise = self.cleaned_data.get("premise")
        if premise is not None:
            value = value.replace(tzinfo=None).replace(tzinfo=zone(premise.timezone))
        return value if timezone.is_aware(value) else timezone.make_aware(value)


class DeviceLimitsForm(forms.Form):
    """A device's comfort band and event limits, which dispatch honours (``accounts.Device``)."""

    required_css_class = "required"
    comfort_min_c = forms.DecimalField(required=False, label="Lowest temperature, °C")
    comfort_max_c = forms.DecimalField(required=False, label="Highest temperature, °C")
    max_event_minutes = forms.IntegerField(min_value=1, label="Longest event, minutes")
    max_events_per_day = forms.IntegerField(min_value=0, label="Events per day at most")
    notice_minutes = forms.IntegerField(min_value=0, label="Notice needed, minutes")

    @classmethod
    def for_device(cls, device: Device, data=None):
        initial = {f: getattr(device, f) for f in cls.base_fields}
        form = cls(data, initial=initial, prefix=f"d{device.pk}")
        if device.kind not in (Device.Kind.HVAC, Device.Kind.WATER_HEATER):
            del form.fields["comfort_min_c"], form.fields["comfort_max_c"]
        return form


class OfferForm(forms.Form):
    """A sell offer of one or more of the consumer's premises: where (an open day-ahead auction, or the
    real-time market with a product), when (local time of the premises), how much (kW per premise), at what price."""

    required_css_class = "required"
    market = forms.ChoiceField(
        choices=[
            ("day_ahead", "Day-ahead auction (cleared once at gate closure)"),
            ("real_time", "Real-time (continuous: trades at once when matched)"),
        ],
        label="Market",
    )
    auction = forms.ChoiceField(required=False, label="Auction (day-ahead)")
    product = forms.ChoiceField(required=False, label="Product (real-time)")
    zone = forms.CharField(required=False, max_length=64, label="Zone code (real-time; empty: your premise's)")
    start = forms.DateTimeField(
        label="From (your local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label="To (your local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    price_per_mwh = forms.DecimalField(min_value=0, decimal_places=2, label="Price you ask, per MWh")

    def __init__(self, *args, premises=(), auctions=(), capacity=None, tz_name="UTC", currency="USD", **kwargs):
        from market.engine.products import PRODUCTS, MarketType

        from .selectors_offers import auction_label

        super().__init__(*args, **kwargs)
        self.tz_name = tz_name
        self.premises = list(premises)
        self._auctions = {str(a.pk): a for a in auctions}
        self.fields["auction"].choices = [("", "—")] + [(str(a.pk), auction_label(a, tz_name)) for a in auctions]
        markets = dict(MarketType.CHOICES)
        self.fields["product"].choices = [("", "—")] + [
            (p.code, f"{p.label} ({', '.join(markets[m] for m in p.markets)}; at least {p.min_size_kw} kW)")
            for p in PRODUCTS.values()
        ]
        self.fields["price_per_mwh"].label = f"Price you ask, {currency}/MWh"
        peaks = {row["premise"].pk: row for row in capacity or []}
        for p in self.premises:
            row = peaks.get(p.pk)
            help_text = (
                f"Accredited up to {fmt_kw(row['peak'])} in the best hour tomorrow (table below says why)."
                if row
                else ""
            )
            self.fields[f"kw_{p.pk}"] = forms.DecimalField(
                min_value=0, decimal_places=3, required=False, label=f"kW offered at {p.name}", help_text=help_text
            )

    def _local(self, value):
        from .formatting import zone

        return value.replace(tzinfo=None).replace(tzinfo=zone(self.tz_name)) if value else value

    def clean(self):
        data = super().clean()
        data["start"], data["end"] = self._local(data.get("start")), self._local(data.get("end"))
        members = [(p, data.get(f"kw_{p.pk}")) for p in self.premises if data.get(f"kw_{p.pk}")]
        if not members:
            self.add_error(None, "Give the kW offered at one premise at least.")
        data["members"] = members
        if data.get("market") == "day_ahead":
            auction = self._auctions.get(data.get("auction") or "")
            if auction is None:
                self.add_error("auction", "Pick an open auction.")
            data["auction_obj"] = auction
        elif not data.get("product"):
            self.add_error("product", "Pick the product.")
        return data


def fmt_kw(value) -> str:
    from .formatting import kw

    return kw(value, 1)
