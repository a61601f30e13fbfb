"""Reads of portfolio splits for statements and the compensation page (ADR 0024): per award outcome sold
through a portfolio, its revenue, the aggregator's fee, the member's share and the buyer's platform fee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from accounts.models import Organisation

from .models import SettlementItem

I = SettlementItem.Kind  # noqa: E741
ZERO = Decimal("0")


@dataclass
class SplitRow:
    fact: str  # "event:12", "over_delivery:event:12", "reservation:3:day:2026-03-02"
    delivery_start: datetime
    premise: str
    member: str
    aggregator: str
    member_share: Decimal = ZERO
    aggregator_fee: Decimal = ZERO
    platform_fee: Decimal = ZERO  # charged to the buyer on top, shown beside the split
    memo: str = ""

    @property
    def revenue(self) -> Decimal:
        return self.member_share + self.aggregator_fee


def _fact(key: str) -> str:
    return key.split(":", 1)[1]


def portfolio_split_rows(
    *, organisations: list[Organisation], start: datetime | None = None, end: datetime | None = None, limit: int = 200
) -> list[SplitRow]:
    """The splits the organisations took part in, as member or as aggregator, newest first."""
    mine = Q(payee__in=organisations) | Q(award__seller__in=organisations) | Q(premise__organisation__in=organisations)
    items = SettlementItem.objects.filter(mine, kind__in=[I.MEMBER_SHARE, I.AGGREGATOR_FEE], award__isnull=False)
    if start is not None:
        items = items.filter(delivery_start__gte=start)
    if end is not None:
        items = items.filter(delivery_start__lt=end)
    items = items.select_related("premise__organisation", "award__seller").order_by("-delivery_start", "-pk")
    rows: dict[str, SplitRow] = {}
    for i in items[: limit * 2]:
        fact = _fact(i.business_key)
        row = rows.get(fact)
        if row is None:
            row = rows[fact] = SplitRow(
                fact=fact,
                delivery_start=i.delivery_start,
                premise=i.premise.name if i.premise else "",
                member=i.premise.organisation.name if i.premise else "",
                aggregator=i.award.seller.name,
            )
        if i.kind == I.MEMBER_SHARE:
            row.member_share, row.memo = i.amount, i.memo
        else:
            row.aggregator_fee = i.amount
            row.memo = row.memo or i.memo
    fees = dict(
        SettlementItem.objects.filter(
            business_key__in=[f"platform_fee:{f}" for f in rows if f.startswith("event:")]
        ).values_list("business_key", "amount")
    )
    for fact, row in rows.items():
        row.platform_fee = -fees.get(f"platform_fee:{fact}", ZERO)
    return list(rows.values())[:limit]


def portfolio_split_totals(rows: list[SplitRow]) -> dict[str, Decimal]:
    return {
        "revenue": sum((r.revenue for r in rows), ZERO),
        "aggregator_fee": sum((r.aggregator_fee for r in rows), ZERO),
        "member_share": sum((r.member_share for r in rows), ZERO),
        "platform_fee": sum((r.platform_fee for r in rows), ZERO),
    }
