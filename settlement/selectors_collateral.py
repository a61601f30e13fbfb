"""Reads of an organisation's collateral (ADR 0025): staked, locked per open order and per unsettled award, free,
slashed with rule and numbers, released after settlement — the participant's staking page."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from accounts.models import Organisation
from market.engine import tiers

from .models import Stake
from .models_collateral import CollateralSettlement, CollateralSlash
from .services.collateral import award_locks, awards_locked, collateral_position, order_locks

CENT = Decimal("0.01")


def collateral_overview(*, organisation: Organisation) -> dict:
    """Everything the staking page shows, in one dict."""
    position = collateral_position(organisation)
    orders = [
        {
            "order": o,
            "tier": tiers.NAMES[o.tier],
            "open_kw": o.remaining_kw,
            "per_kw": o.collateral_per_kw,
            "locked": amount.quantize(CENT),
        }
        for o, amount in order_locks(organisation.pk)
    ]
    award_rows = award_locks(organisation.pk)
    awards = [
        {
            "award": a,
            "tier": tiers.NAMES[a.order.tier],
            "per_kw": a.order.collateral_per_kw,
            "collateral": amount.quantize(CENT),
        }
        for a, amount in award_rows
    ]
    slashes = list(
        CollateralSlash.objects.filter(organisation=organisation).select_related("award", "event").order_by("-pk")
    )
    return {
        "position": position,
        "orders_locked": sum((r["locked"] for r in orders), Decimal("0")),
        "awards_locked": awards_locked(award_rows).quantize(CENT),
        "order_locks": orders,
        "award_locks": awards,
        "slashes": slashes,
        "slashed_total": (
            CollateralSlash.objects.filter(organisation=organisation).aggregate(t=Sum("amount"))["t"] or Decimal("0")
        ).quantize(CENT),
        "settled": list(
            CollateralSettlement.objects.filter(organisation=organisation).select_related("award").order_by("-pk")[:50]
        ),
        "stakes": list(Stake.objects.filter(organisation=organisation).order_by("-pk")),
    }
