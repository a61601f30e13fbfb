"""Read models for the portal's dashboards, composed from each app's selectors."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum

from .models import Membership
from .selectors import premises_visible_to, user_organisations


def _daily_load(premises, days: int = 14) -> dict:
    """Daily kWh per local day for the premises' meters over the last ``days`` days of data (chart data)."""
    from assessment.models import MeterReading

    meter_ids = [m.pk for p in premises for m in p.meters.all()]
    latest = (
        MeterReading.objects.filter(meter_id__in=meter_ids).order_by("-start").values_list("start", flat=True).first()
    )
    if latest is None:
        return {"labels": [], "values": []}
    tz = ZoneInfo(premises[0].timezone) if premises else ZoneInfo("UTC")
    since = latest - timedelta(days=days)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for start, kwh in MeterReading.objects.filter(meter_id__in=meter_ids, start__gt=since).values_list("start", "kwh"):
        totals[start.astimezone(tz).date().isoformat()] += kwh
    labels = sorted(totals)
    return {"labels": labels, "values": [float(totals[d]) for d in labels]}  # chart display only


def consumer_dashboard(*, user, currency: str) -> dict:
    from activation.selectors import events_visible_to, reservations_visible_to
    from market.selectors import awards_visible_to, expected_earnings, offers_for_premises, orders_with_member_premises
    from settlement.selectors import earnings_total, settlement_items_for

    orgs = user_organisations(user, role=Membership.Role.CONSUMER)
    premises = list(premises_visible_to(user).prefetch_related("meters"))
    market = {
        "my_orders": list(orders_with_member_premises(premises=premises)[:50]),
        "my_offers": list(offers_for_premises(premises=premises)[:50]),
        "my_awards": list(awards_visible_to(user).order_by("-window_start")[:50]),
        "expected_earnings": expected_earnings(premises=premises),
    }
    items = list(settlement_items_for(organisations=orgs).order_by("-delivery_start")[:50])
    return {
        "organisations": orgs,
        "premises": premises,
        "earnings": earnings_total(organisations=orgs, currency=currency),
        "currency": currency,
        "items": items,
        "events": list(events_visible_to(user).order_by("-start")[:20]),
        "reservations": list(reservations_visible_to(user).order_by("-window_start")[:20]),
        "load_chart": _daily_load(premises),
        "flexibility": _flexibility(premises),
        **market,
    }


def _flexibility(premises) -> list[dict]:
    from assessment.selectors import premise_flexibility_summary

    return [premise_flexibility_summary(premise=p) for p in premises]


def aggregator_dashboard(*, user) -> dict:
    from activation.selectors import events_visible_to, reservations_visible_to
    from assessment.selectors import coming_day, portfolio_capacity_by_hour, portfolio_flexibility
    from market.selectors import awards_visible_to, offers_for_seller, orders_for

    orgs = user_organisations(user, role=Membership.Role.AGGREGATOR)
    premises = list(premises_visible_to(user))
    offers = list(offers_for_seller(seller=orgs[0] if orgs else None).order_by("-window_start")[:100])
    awards = list(awards_visible_to(user).order_by("-window_start")[:100])
    return {
        "organisations": orgs,
        "premises": premises,
        "offers": offers,
        "awards": awards,
        "awarded_kw": sum((a.kw for a in awards), Decimal("0")),
        "portfolio_orders": list(orders_for(organisation=orgs[0] if orgs else None)[:100]),
        "events": list(events_visible_to(user).order_by("-start")[:50]),
        "reservations": list(reservations_visible_to(user).order_by("-window_start")[:50]),
        "flexibility": portfolio_flexibility(premises=premises),
        "capacity_day": (day := coming_day(premises=premises)),
        "capacity_by_hour": [
            {"hour": h, "kw": kw} for h, kw in enumerate(portfolio_capacity_by_hour(premises=premises, day=day))
        ],
    }


def operator_console(*, user) -> dict:
    from activation.selectors import events_visible_to
    from market.selectors import clearing_runs_for_zones
    from settlement.selectors import anchor_alerts_open, anchors_recent

    orgs = user_organisations(user, role=Membership.Role.GRID_OPERATOR)
    runs = list(clearing_runs_for_zones(user).order_by("-cleared_at")[:50])
    events = list(events_visible_to(user).order_by("-start")[:100])
    delivered = sum((e.verification.delivered_kwh for e in events if hasattr(e, "verification")), Decimal("0"))
    return {
        "organisations": orgs,
        "zones": [z for o in orgs for z in o.service_zones.all()],
        "runs": runs,
        "events": events,
        "delivered_kwh": delivered,
        "anchors": list(anchors_recent(24)),
        "anchor_alerts": anchor_alerts_open(),
    }


def public_market_summary() -> dict:
    from market.models import ClearingRun
    from settlement.models import PeriodAnchor

    runs = ClearingRun.objects.exclude(clearing_price_per_mwh=None).exclude(request=None)
    agg = runs.aggregate(n=Count("id"), kw=Sum("awarded_kw"))
    return {
        "runs": list(runs.select_related("request__zone").order_by("-cleared_at")[:10]),
        "cleared": agg["n"] or 0,
        "awarded_kw": agg["kw"] or Decimal("0"),
        "anchors": PeriodAnchor.objects.filter(status=PeriodAnchor.Status.CONFIRMED).count(),
    }
