"""Portal forms of the onboarding wizard's steps (input only: the services validate)."""

from __future__ import annotations

from django import forms

from accounts.models import CommercialTerms, Consent, Device, Meter, Premise, VerificationDocument
from accounts.onboarding import aggregators, feeder_zones
from accounts.terms import terms_describe, terms_published

DEVICE_FIELDS = [
    "name", "kind", "control_channel", "channel_address", "manufacturer", "model", "rated_kw", "min_kw", "max_kw",
    "ramp_kw_per_min", "min_event_minutes", "max_event_minutes", "notice_minutes", "max_events_per_day",
    "max_events_per_month", "rebound_percent", "rebound_minutes", "comfort_min_c", "comfort_max_c", "setpoint_c",
    "capacity_kwh", "soc_min_percent", "soc_max_percent", "soc_percent",
]  # fmt: skip


class MeterForm(forms.Form):
    required_css_class = "required"
    premise = forms.ModelChoiceField(queryset=Premise.objects.none())
    meter_id = forms.CharField(max_length=64, label="Meter id (as on the meter or the bill)")
    kind = forms.ChoiceField(choices=Meter.Kind.choices, initial=Meter.Kind.AMI)
    interval_minutes = forms.TypedChoiceField(
        choices=[(m, f"{m} minutes") for m in (5, 15, 30, 60)], coerce=int, initial=15, label="Interval"
    )
    has_export_channel = forms.BooleanField(
        required=False, label="Export channel too (the meter measures what the site feeds into the grid)"
    )
    timezone = forms.CharField(max_length=64, required=False, help_text="IANA name; empty: the premise's.")

    def __init__(self, *args, premises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["premise"].queryset = premises if premises is not None else Premise.objects.none()


#: what each device kind needs, grouped; the page shows only the groups of the kind picked (portal.js)
DEVICE_GROUPS = [
    ("storage", "Storage", ("battery", "water_heater"), ["capacity_kwh"]),
    ("soc", "State of charge", ("battery",), ["soc_min_percent", "soc_max_percent", "soc_percent"]),
    ("comfort", "Comfort band", ("hvac", "water_heater"), ["comfort_min_c", "comfort_max_c", "setpoint_c"]),
]
DEVICE_BASIC = ["name", "kind", "control_channel", "rated_kw", "max_kw"]
DEVICE_LIMITS = [f for f in DEVICE_FIELDS if f not in DEVICE_BASIC and not any(f in g[3] for g in DEVICE_GROUPS)]
#: fields the service requires for a kind (marked required in the form when that kind is picked)
DEVICE_KIND_REQUIRED = {"battery": {"capacity_kwh", "soc_min_percent", "soc_max_percent"}}
DEVICE_LABELS = {
    "rated_kw": "Rated power, kW (charger kW, heating element kW, the process's load)",
    "max_kw": "Most the platform may shift, kW (empty: the rated power)",
    "capacity_kwh": "Capacity, kWh (battery; water heater: the tank's stored energy)",
    "soc_min_percent": "Lowest state of charge to keep, %",
    "soc_max_percent": "Highest state of charge, %",
    "soc_percent": "State of charge now, %",
    "comfort_min_c": "Comfort band: lowest temperature, °C",
    "comfort_max_c": "Comfort band: highest temperature, °C",
    "setpoint_c": "Usual setpoint, °C",
    "notice_minutes": "Notice the device needs, minutes",
    "max_event_minutes": "Longest event, minutes",
    "min_event_minutes": "Shortest event, minutes",
}


class DeviceForm(forms.Form):
    """A device's declared capabilities (``accounts.Device``), asked by kind: the basics, the groups of the kind
    (storage, state of charge, comfort band) and optional limits with the model's defaults; consistency is
    ``device_register``'s. Only the values given are passed on (the rest keep their defaults)."""

    required_css_class = "required"
    premise = forms.ModelChoiceField(queryset=Premise.objects.none())

    def __init__(self, *args, premises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["premise"].queryset = premises if premises is not None else Premise.objects.none()
        for name, field in forms.fields_for_model(Device, fields=DEVICE_FIELDS).items():
            if name not in ("name", "kind", "control_channel", "rated_kw"):
                field.required = False
            if name in DEVICE_LABELS:
                field.label = DEVICE_LABELS[name]
            self.fields[name] = field
        self.fields["kind"].widget.attrs["data-kind-select"] = ""
        for names in DEVICE_KIND_REQUIRED.values():
            for name in names:
                self.fields[name].label += " *"

    def clean(self):
        data = super().clean()
        if data.get("max_kw") is None and data.get("rated_kw") is not None:
            data["max_kw"] = data["rated_kw"]
        return {k: v for k, v in data.items() if v is not None and v != ""}

    def groups(self):
        basic = [self[f] for f in ["premise", *DEVICE_BASIC]]
        kinds = [
            (key, title, " ".join(kinds), [self[f] for f in fields]) for key, title, kinds, fields in DEVICE_GROUPS
        ]
        return {"basic": basic, "kinds": kinds, "limits": [self[f] for f in DEVICE_LIMITS]}


class AccountForm(forms.Form):
    required_css_class = "required"
    name = forms.CharField(max_length=200, label="Household or business name")


class PremiseForm(forms.Form):
    required_css_class = "required"
    name = forms.CharField(max_length=200)
    segment = forms.ChoiceField(choices=Premise.Segment.choices)
    grid_zone = forms.ModelChoiceField(queryset=feeder_zones())
    address = forms.CharField(max_length=300)
    utility_account_number = forms.CharField(max_length=64)
    utility_account_holder = forms.CharField(max_length=200)
    tariff = forms.CharField(max_length=64, required=False)
    timezone = forms.CharField(max_length=64, initial="America/New_York")


class ConsentForm(forms.Form):
    required_css_class = "required"
    premise = forms.ModelChoiceField(queryset=Premise.objects.none())
    aggregator = forms.ModelChoiceField(queryset=aggregators())
    scopes = forms.MultipleChoiceField(choices=Consent.Scope.choices, widget=forms.CheckboxSelectMultiple)
    months = forms.IntegerField(min_value=1, max_value=36, initial=12, label="Valid for (months)")
    terms = forms.ModelChoiceField(
        queryset=CommercialTerms.objects.none(),
        required=False,
        label="Commercial terms I accept (the chosen aggregator's, shown above)",
        empty_label="None: this aggregator has published no terms",
    )

    def __init__(self, *args, premises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["premise"].queryset = premises if premises is not None else Premise.objects.none()
        self.fields["terms"].queryset = CommercialTerms.objects.filter(pk__in=[t.pk for t in terms_published()])
        self.fields["terms"].label_from_instance = terms_describe


class TermsForm(forms.Form):
    """An aggregator publishes a new version of its commercial terms."""

    revenue_share_pct = forms.DecimalField(min_value=0, max_value=100, label="Fee: % of each award's revenue")
    fee_per_kw_month = forms.DecimalField(min_value=0, initial=0, label="Fee per kW-month of capacity held")
    member_penalty_pct = forms.DecimalField(
        min_value=0, max_value=100, label="% of portfolio penalties the member bears (you bear the rest)"
    )
    payment_frequency = forms.ChoiceField(choices=CommercialTerms.Frequency.choices)
    summary = forms.CharField(max_length=300, required=False)


class KycForm(forms.Form):
    required_css_class = "required"
    legal_name = forms.CharField(max_length=200)
    doc_type = forms.ChoiceField(choices=VerificationDocument.DocType.choices)
    number = forms.CharField(max_length=64)
    issuing_country = forms.CharField(max_length=2, initial="US")
    expires_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    file = forms.FileField(required=False)


ONBOARDING_FORMS = {
    "account": AccountForm,
    "premise": PremiseForm,
    "meter": MeterForm,
    "consent": ConsentForm,
    "devices": DeviceForm,
    "kyc": KycForm,
}
#: the steps whose form picks one of the organisation's premises
PREMISE_STEPS = ("meter", "consent", "devices")
