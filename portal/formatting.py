"""The portal's one formatting layer: energy, power, money and token amounts with their unit and sensible
decimals, human labels for the platform's codes, and times in a premise's timezone with the zone shown.

Templates use it through the ``fmt`` template filters (``portal/templatetags/fmt.py``); views and selectors that
compose sentences (a penalty's rule, a notification) call these functions. Amounts stay Decimal until printed."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone

DASH = "—"

#: codes whose plain-words label is not just the code with spaces (every other code: "day_ahead" -> "Day ahead")
LABELS = {
    "day_ahead": "Day-ahead market",
    "intraday": "Intraday market",
    "real_time": "Real-time market",
    "balancing": "Balancing market",
    "operator_request": "Operator request",
    "meter_validated": "Meter validated",
    "kyc": "Identity check (KYC)",
    "kyc_level": "Owner's identity check (KYC level)",
    "verified": "Identity verified (KYC/KYB)",
    "aggregator_verified": "Aggregator verified (KYB)",
    "aggregator_licence": "Aggregator licence",
    "metering_interval": "Interval meter",
    "minimum_consumption": "Minimum annual consumption",
    "minimum_aggregation_size": "Minimum aggregation size (FERC 2222)",
    "kyc_approved": "Identity check approved",
    "ami": "Smart meter (AMI)",
    "ev_charger": "EV charger",
    "hvac": "Heating / cooling (HVAC)",
    "vendor_api": "Vendor cloud API",
    "openadr": "OpenADR",
    "ocpp": "OCPP",
    "s2": "S2 energy manager",
    "mqtt": "MQTT",
    "kw": "kW",
    "kwh": "kWh",
    "cvrmse": "CV(RMSE)",
    "x_of_y": "X of Y days",
    "high_x_of_y": "High X of Y days",
    "opt_out": "Opt-out",
    "ci": "Commercial & industrial",
    "caiso-10in10": "CAISO 10-in-10 (with day-of adjustment)",
    "caiso-10in10-unadjusted": "CAISO 10-in-10 (unadjusted)",
    "pjm-cbl": "PJM customer baseline (adjusted)",
    "pjm-cbl-unadjusted": "PJM customer baseline (unadjusted)",
    "pjm-same-day": "PJM same-day baseline",
    "pjm-match-day": "PJM matching-day baseline",
    "nyiso-cbl": "NYISO customer baseline (adjusted)",
    "nyiso-cbl-unadjusted": "NYISO customer baseline (unadjusted)",
    "caltrack-hourly": "CalTRACK hourly model",
    "c_and_i": "Commercial & industrial",
}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def number(value, places: int = 2) -> str:
    """``value`` rounded half-up to ``places`` decimals, with thousands separators; a dash when there is none."""
    d = _decimal(value)
    if d is None:
        return DASH
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) if places else d.quantize(Decimal(1))
    if q == 0:
        q = abs(q)  # no "-0.00"
    return f"{q:,.{places}f}"


def kwh(value, places: int = 2) -> str:
    return DASH if _decimal(value) is None else f"{number(value, places)} kWh"


def kw(value, places: int = 2) -> str:
    return DASH if _decimal(value) is None else f"{number(value, places)} kW"


def currency_code(currency: str | None = None) -> str:
    return currency or getattr(settings, "SETTLEMENT_CURRENCY", "USD")


def money(value, currency: str | None = None) -> str:
    """A fiat amount in the settlement currency (or ``currency``), two decimals: ``1,234.50 USD``."""
    return DASH if _decimal(value) is None else f"{number(value, 2)} {currency_code(currency)}"


def price_mwh(value, currency: str | None = None) -> str:
    """A price per MWh: ``54.20 USD/MWh``."""
    return DASH if _decimal(value) is None else f"{number(value, 2)} {currency_code(currency)}/MWh"


def token(value, symbol: str = "") -> str:
    """A token amount: up to 4 decimals, trailing zeros dropped (at least 2), then the symbol."""
    d = _decimal(value)
    if d is None:
        return DASH
    text = number(d, 4)
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{whole}.{frac} {symbol}".strip()


def is_fiat(unit: str) -> bool:
    return bool(unit) and len(unit) == 3 and unit.isalpha() and unit.isupper()


def amount(value, unit: str = "") -> str:
    """Money or a token by its unit: a fiat code (three capitals) has two decimals, a token up to four."""
    if is_fiat(unit):
        return money(value, unit)
    return token(value, unit)


def percent(value, places: int = 0) -> str:
    return DASH if _decimal(value) is None else f"{number(value, places)} %"


def label(code) -> str:
    """The plain-words label of a platform code (``day_ahead`` -> ``Day-ahead market``)."""
    if code is None or code == "":
        return DASH
    text = str(code)
    if text in LABELS:
        return LABELS[text]
    words = text.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def zone(tz_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name) if tz_name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local(value: datetime | None, tz_name: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` in the premise's timezone with the zone's abbreviation shown: ``2026-12-07 17:00 EST``."""
    if value is None:
        return DASH
    if timezone.is_naive(value):
        value = timezone.make_aware(value, ZoneInfo("UTC"))
    moment = value.astimezone(zone(tz_name))
    return f"{moment.strftime(fmt)} {moment.tzname()}"


def local_window(start: datetime | None, end: datetime | None, tz_name: str | None = None) -> str:
    """``2026-12-07 17:00–18:45 EST`` (the end's date shown when the window crosses midnight)."""
    if start is None or end is None:
        return DASH
    z = zone(tz_name)
    s, e = start.astimezone(z), end.astimezone(z)
    end_fmt = "%H:%M" if s.date() == e.date() else "%Y-%m-%d %H:%M"
    return f"{s.strftime('%Y-%m-%d %H:%M')}–{e.strftime(end_fmt)} {e.tzname()}"
