"""Reads of the consumer's offer page: their sell orders (an open one whose window passed shows as expired), the
open auctions they may offer into, and the accredited kW per hour of each premise with why it is what it is."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from assessment.selectors import capacity_profile, hourly_capacity_forecast
from market.engine.products import PRODUCTS, MarketType
from market.models import Auction, MarketOrder
from market.selectors import orders_of_premises

from . import formatting as fmt

ORDERS_SHOWN = 30


def offer_rows(*, premises, org, now: datetime, limit: int = ORDERS_SHOWN) -> list[dict]:
    """The latest sell orders the premises take part in (bounded), with a status in words."""
    rows = []
    for o in orders_of_premises(premises=premises, side=MarketOrder.Side.SELL, limit=limit):
        expired = o.status == MarketOrder.Status.OPEN and o.delivery_end <= now
        mine = org is not None and o.organisation_id == org.pk
        tz_name = premises[0].timezone if premises else "UTC"
        rows.append(
            {
                "order": o,
                "status": "Expired" if expired else o.get_status_display(),
                "status_code": "expired" if expired else o.status,
                "window": fmt.local_window(o.delivery_start, o.delivery_end, tz_name),
                "members": o.my_members,
                "product": fmt.label(PRODUCTS[o.product].label if o.product in PRODUCTS else o.product),
                "market": dict(MarketType.CHOICES).get(o.market, fmt.label(o.market)),
                "can_cancel": mine and o.status == MarketOrder.Status.OPEN and not expired,
                "can_modify": mine and o.status == MarketOrder.Status.OPEN and not expired and o.book_id is not None,
            }
        )
    return rows


def open_auctions(*, now: datetime, limit: int = 20) -> list[Auction]:
    return list(
        Auction.objects.filter(status=Auction.Status.OPEN, gate_closure__gt=now)
        .select_related("zone")
        .order_by("gate_closure", "pk")[:limit]
    )


def auction_label(a: Auction, tz_name: str) -> str:
    product = PRODUCTS[a.product].label if a.product in PRODUCTS else a.product
    return (
        f"{product} · {dict(MarketType.CHOICES).get(a.market, a.market)} · {a.zone.code} · delivery "
        f"{fmt.local_window(a.delivery_start, a.delivery_end, tz_name)} · gate closes {fmt.local(a.gate_closure, tz_name)}"
    )


def capacity_hours(*, premises, day: date, now: datetime | None = None) -> list[dict]:
    """Each premise's accredited kW per local hour of ``day`` and the factors behind it, in words."""
    now = now or timezone.now()
    forecast = hourly_capacity_forecast(premises=premises, day=day)
    out = []
    for p in premises:
        profile = capacity_profile(premise=p, since=now, until=now + timedelta(days=2))
        why = []
        if not profile.meter_validated:
            why.append("0 kW until your meter is validated (enough clean history and a utility file).")
        if profile.suspended:
            why.append("0 kW while the resource is suspended after repeated shortfalls.")
        why.append(
            f"Forecast of each hour's demand × your segment's flexible share × reliability factor "
            f"{fmt.number(profile.reliability, 2)} (delivered ÷ committed on past events)"
            + (f" × derate {fmt.number(profile.derate, 2)}" if profile.derate != 1 else "")
            + ", capped by any availability you declared."
        )
        hours = forecast.get(p.pk, [])
        out.append(
            {"premise": p, "hours": [fmt.number(kw, 1) for kw in hours], "why": why, "peak": max(hours, default=0)}
        )
    return out
