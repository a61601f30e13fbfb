"""Energy-arbitrage plans for a battery or EV: the LP schedule (``market.engine.arbitrage``) turned into offers.

The offers are order bodies ready for ``POST /api/v1/market/orders/`` (energy, sell side, one per interval in
which the optimal schedule imports less than the unmanaged plan), quantised to the market's units
(kW to 3 decimals, $/MWh to cents).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from flexplatform.errors import ApplicationError

from ..engine.arbitrage import Device, Infeasible, offers_from_schedule, optimise, unmanaged_charge_kw
from ..errors import MarketError


def arbitrage_plan(*, prices_per_mwh: list[Decimal], start: datetime, interval_minutes: int, device: Device) -> dict:
    if timezone.is_naive(start):
        raise ApplicationError("Give a timezone.", fields={"start": ["Aware time required."]})
    if not prices_per_mwh or interval_minutes not in (5, 15, 30, 60):
        raise ApplicationError("A price curve of 5-, 15-, 30- or 60-minute intervals.", fields={"prices": ["Invalid."]})
    h = interval_minutes / 60
    prices = [float(p) for p in prices_per_mwh]  # the LP's floats stay inside the computation
    try:
        schedule = optimise(prices_per_mwh=prices, device=device, interval_hours=h)
    except Infeasible as exc:
        raise ApplicationError(
            f"No feasible schedule: {exc}",
            code=MarketError.INFEASIBLE,
            fields={"target_kwh": ["Unreachable with this power and deadline."]},
        ) from exc
    unmanaged = unmanaged_charge_kw(device=device, n=len(prices), interval_hours=h)
    step = timedelta(minutes=interval_minutes)
    q3, q2 = Decimal("0.001"), Decimal("0.01")
    offers = [
        {
            "market": "day_ahead",
            "product": "energy",
            "side": "sell",
            "delivery_start": start + t * step,
            "delivery_end": start + (t + 1) * step,
            "kw": Decimal(str(kw)).quantize(q3, rounding=ROUND_DOWN),
            "price_per_mwh": Decimal(str(p)).quantize(q2),
        }
        for t, kw, p in offers_from_schedule(schedule=schedule, unmanaged_kw=unmanaged, prices_per_mwh=prices)
    ]
    return {
        "schedule": [
            {
                "start": start + t * step,
                "charge_kw": Decimal(str(c)).quantize(q3),
                "discharge_kw": Decimal(str(d)).quantize(q3),
                "energy_kwh": Decimal(str(e)).quantize(q3),
            }
            for t, (c, d, e) in enumerate(
                zip(schedule.charge_kw, schedule.discharge_kw, schedule.energy_kwh, strict=True)
            )
        ],
        "cost": Decimal(str(schedule.cost)).quantize(q2),
        "unmanaged_cost": Decimal(str(sum(p * u * h / 1000 for p, u in zip(prices, unmanaged, strict=True)))).quantize(
            q2
        ),
        "offers": [o for o in offers if o["kw"] > 0],
    }
