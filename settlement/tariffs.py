"""Retail tariffs as data, and what a load costs under one (pure: no database).

A tariff is flat (one rate per kWh) or time-of-use: a base rate, and periods of the local day with their own
rate (e.g. a 16:00-21:00 weekday peak), as utilities publish TOU schedules (e.g. PG&E E-TOU-C: peak
16:00-21:00 every day; Ofgem-regulated Economy 7: seven night hours at a lower rate). Periods are
half-open ``[from, to)`` in the premise's local time, on every day, weekdays (Mon-Fri) or weekends; they
must not overlap on a day they share. Rates are currency per kWh, at most five decimals; the cost of an
interval is its kWh x the rate in force at its local start, summed exactly and rounded once (half-up, cent)
by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

FLAT, TOU = "flat", "tou"
DAYS = {"all": frozenset(range(7)), "weekdays": frozenset(range(5)), "weekends": frozenset({5, 6})}
MAX_RATE = Decimal("10")  # currency per kWh; a rate above it is a typing error (cents entered as units)
HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


class TariffInvalid(ValueError):
    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    days: str
    start_minute: int
    end_minute: int
    rate: Decimal

    def covers(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.weekday() in DAYS[self.days] and self.start_minute <= minute < self.end_minute

    def as_data(self) -> dict:
        return {
            "days": self.days,
            "from": _hhmm(self.start_minute),
            "to": _hhmm(self.end_minute),
            "rate": str(self.rate),
        }


@dataclass(frozen=True)
class Tariff:
    kind: str
    rate: Decimal  # the flat rate, or the base (off-peak) rate of a TOU tariff
    periods: tuple[Period, ...] = field(default=())

    def rate_at(self, local: datetime) -> Decimal:
        for p in self.periods:
            if p.covers(local):
                return p.rate
        return self.rate

    def as_data(self) -> dict:
        return {"kind": self.kind, "rate": str(self.rate), "periods": [p.as_data() for p in self.periods]}


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(text: str, *, field: str) -> int:
    text = (text or "").strip()
    if not HHMM.fullmatch(text):
        raise TariffInvalid(f"{text!r} is not a time HH:MM.", field=field)
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _rate(value, *, field: str) -> Decimal:
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise TariffInvalid(f"{value!r} is not a number.", field=field) from None
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        raise TariffInvalid(f"A rate per kWh is between 0 and {MAX_RATE}.", field=field)
    if rate.as_tuple().exponent < -5:
        raise TariffInvalid("At most five decimals.", field=field)
    return rate


def tariff_parse(*, kind: str, rate, periods: Iterable[dict] = ()) -> Tariff:
    """A :class:`Tariff` from submitted data, or :class:`TariffInvalid` naming the field (``periods.N.from``)."""
    if kind not in (FLAT, TOU):
        raise TariffInvalid("The tariff kind is flat or tou.", field="kind")
    base = _rate(rate, field="rate")
    parsed: list[Period] = []
    for n, p in enumerate(periods or ()):
        days = (p.get("days") or "all").strip()
        if days not in DAYS:
            raise TariffInvalid("Days are all, weekdays or weekends.", field=f"periods.{n}.days")
        start = _minute(p.get("from", ""), field=f"periods.{n}.from")
        end = _minute(p.get("to", ""), field=f"periods.{n}.to")
        if end <= start:
            raise TariffInvalid("A period ends after it starts (within the day).", field=f"periods.{n}.to")
        period = Period(days, start, end, _rate(p.get("rate", ""), field=f"periods.{n}.rate"))
        for m, q in enumerate(parsed):
            if DAYS[q.days] & DAYS[days] and start < q.end_minute and q.start_minute < end:
                raise TariffInvalid(f"Overlaps period {m + 1}.", field=f"periods.{n}.from")
        parsed.append(period)
    if kind == FLAT and parsed:
        raise TariffInvalid("A flat tariff has no periods.", field="periods")
    if kind == TOU and not parsed:
        raise TariffInvalid("A time-of-use tariff has at least one period.", field="periods")
    return Tariff(kind, base, tuple(parsed))


def tariff_from_data(data: dict) -> Tariff:
    return tariff_parse(kind=data["kind"], rate=data["rate"], periods=data.get("periods", ()))


def load_cost(tariff_at, intervals: Iterable[tuple[datetime, Decimal]], tz: str) -> Decimal:
    """Σ kWh x rate over ``(UTC start, kWh)`` intervals, exact (unrounded). ``tariff_at(local date)`` gives the
    tariff in force on a local day (a tariff change applies from the day it takes effect)."""
    zone = ZoneInfo(tz)
    total = Decimal("0")
    for start, kwh in intervals:
        local = start.astimezone(zone)
        total += kwh * tariff_at(local.date()).rate_at(local)
    return total


__all__ = ["FLAT", "TOU", "Period", "Tariff", "TariffInvalid", "load_cost", "tariff_from_data", "tariff_parse"]
