"""The operator console's forms: requests, auctions (with a seasonal demand-curve editor) and emergency events.

Times are entered with the browser's date-time pickers in the chosen zone's local time (its IANA timezone is shown
beside the field) and turned into aware UTC datetimes here; a local time that does not exist or is ambiguous on a
clock-change day is refused with the field named. The services validate the business rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms

from accounts.models import GridZone
from accounts.selectors.zones import zone_timezone
from activation.models import Program
from market.engine.products import PRODUCTS, MarketType

PICKER = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 900}, format="%Y-%m-%dT%H:%M")
INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
CURVE_STEPS = 5


def _local(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, widget=PICKER, input_formats=INPUT_FORMATS)


def localize(naive: datetime, tz_name: str) -> datetime:
    """A wall-clock time in ``tz_name`` as an aware datetime; ValueError when the clock skips it (spring forward)
    or shows it twice (fall back)."""
    tz = ZoneInfo(tz_name)
    naive = naive.replace(tzinfo=None)
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)
        if round_trip != naive:
            raise ValueError(f"{naive:%Y-%m-%d %H:%M} does not exist in {tz_name} (the clocks go forward).")
        raise ValueError(f"{naive:%Y-%m-%d %H:%M} happens twice in {tz_name} (the clocks go back): pick another time.")
    return first


class ZoneTimesForm(forms.Form):
    """A zone picker plus date-time fields read in that zone's timezone."""

    zone = forms.ModelChoiceField(queryset=GridZone.objects.none(), label="Zone")
    TIME_FIELDS: tuple[str, ...] = ()

    def __init__(self, *args, zones=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["zone"].queryset = GridZone.objects.filter(pk__in=[z.pk for z in zones]).order_by("code")
        self.fields["zone"].label_from_instance = lambda z: f"{z.code} — {z.name} ({zone_timezone(z)})"

    def clean(self):
        data = super().clean()
        zone = data.get("zone")
        if zone is None:
            return data
        tz_name = zone_timezone(zone)
        data["timezone"] = tz_name
        for name in self.TIME_FIELDS:
            if data.get(name) is not None:
                try:
                    data[name] = localize(data[name], tz_name)
                except ValueError as exc:
                    self.add_error(name, str(exc))
        return data


class RequestForm(ZoneTimesForm):
    TIME_FIELDS = ("window_start", "window_end")
    window_start = _local(label="From (zone's local time)")
    window_end = _local(label="To (zone's local time)")
    kw = forms.DecimalField(label="Flexibility needed (kW)", min_value=0.001, decimal_places=3, max_digits=12)
    max_price_per_mwh = forms.DecimalField(
        label="Highest price you pay ($/MWh)", min_value=0, decimal_places=2, max_digits=10
    )


class AuctionForm(ZoneTimesForm):
    TIME_FIELDS = ("delivery_start", "delivery_end", "gate_closure")
    market = forms.ChoiceField(
        choices=[(MarketType.DAY_AHEAD, "Day-ahead auction"), (MarketType.SEASONAL, "Seasonal capacity auction")]
    )
    product = forms.ChoiceField(
        choices=[
            (p.code, p.label) for p in PRODUCTS.values() if {MarketType.DAY_AHEAD, MarketType.SEASONAL} & set(p.markets)
        ]
    )
    delivery_start = _local(label="Delivery from (zone's local time)")
    delivery_end = _local(label="Delivery to (zone's local time)")
    gate_closure = _local(label="Gate closure (zone's local time)")
    interval_minutes = forms.TypedChoiceField(
        choices=[(60, "60 minutes"), (15, "15 minutes")], coerce=int, required=False, label="Interval (day-ahead)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, CURVE_STEPS + 1):
            self.fields[f"curve_kw_{i}"] = forms.DecimalField(
                label=f"Step {i}: kW", required=False, min_value=0.001, decimal_places=3, max_digits=12
            )
            self.fields[f"curve_price_{i}"] = forms.DecimalField(
                label=f"Step {i}: $/MWh", required=False, min_value=0, decimal_places=2, max_digits=10
            )

    def curve_fields(self):
        return [(self[f"curve_kw_{i}"], self[f"curve_price_{i}"]) for i in range(1, CURVE_STEPS + 1)]

    def clean(self):
        data = super().clean()
        curve = []
        for i in range(1, CURVE_STEPS + 1):
            kw, price = data.get(f"curve_kw_{i}"), data.get(f"curve_price_{i}")
            if kw is None and price is None:
                continue
            if kw is None or price is None:
                self.add_error(f"curve_kw_{i}" if kw is None else f"curve_price_{i}", "Give both kW and price.")
                continue
            curve.append({"kw": str(kw), "price_per_mwh": str(price)})
        data["demand_curve"] = curve
        if data.get("market") == MarketType.DAY_AHEAD and not data.get("interval_minutes"):
            self.add_error("interval_minutes", "Day-ahead auctions clear per 60- or 15-minute interval.")
        return data


class EmergencyEventForm(ZoneTimesForm):
    TIME_FIELDS = ("start", "end")
    program = forms.ModelChoiceField(queryset=Program.objects.filter(kind=Program.Kind.EMERGENCY), label="Program")
    start = _local(label="From (zone's local time)")
    end = _local(label="To (zone's local time)")
