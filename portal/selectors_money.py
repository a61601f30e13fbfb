"""The consumer's money in one place: balances (one selector, used wherever a balance is shown), earnings by month
and by event (fiat and each token, summed in the database, paginated), statements and disputes."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Min, Sum
from django.db.models.functions import TruncMonth

from settlement.models import Dispute
from settlement.selectors import earnings_total, settlement_items_for, token_positions

from . import formatting as fmt

EVENTS_PAGE = 20


def balances(*, organisations, currency: str) -> list[dict]:
    """Every asset the organisations hold: the fiat net position (what the platform owes less receivables, as the
    ledger says) first, then each token: free on the platform, staked, claimable on chain by the linked wallet and
    already claimed to it (one query: :func:`settlement.selectors.token_positions`)."""
    out = [
        {
            "asset": currency,
            "free": earnings_total(organisations=organisations, currency=currency),
            "staked": None,
            "claimable": None,
            "claimed": None,
        }
    ]
    positions = token_positions(organisations=organisations)
    out += [{"asset": a, **v} for a, v in sorted(positions.items()) if a != currency]
    for row in out:
        for key in ("free", "staked", "claimable", "claimed"):
            row[f"{key}_text"] = fmt.amount(row[key], row["asset"]) if row[key] is not None else fmt.DASH
        row["total_text"] = (
            fmt.amount(sum(row[k] for k in ("free", "staked", "claimable", "claimed")), row["asset"])
            if row["staked"] is not None
            else row["free_text"]
        )
    return out


def earnings_by_month(*, organisations) -> dict:
    """Per month and asset: the sum of the settled items (payments, penalties, fees, tokens)."""
    rows = (
        settlement_items_for(organisations=organisations)
        .annotate(month=TruncMonth("delivery_start"))
        .values("month", "currency")
        .annotate(total=Sum("amount"))
        .order_by("-month", "currency")
    )
    months: dict = {}
    for r in rows:
        months.setdefault(r["month"], []).append(
            {"asset": r["currency"], "text": fmt.amount(r["total"], r["currency"])}
        )
    return {"rows": [{"month": m, "totals": t} for m, t in months.items()]}


def earnings_chart(*, organisations, currency: str) -> dict:
    rows = (
        settlement_items_for(organisations=organisations)
        .filter(currency=currency)
        .annotate(month=TruncMonth("delivery_start"))
        .values("month")
        .annotate(total=Sum("amount"))
        .order_by("month")
    )
    return {"labels": [r["month"].strftime("%Y-%m") for r in rows], "values": [float(r["total"]) for r in rows]}


def earnings_by_event(*, organisations, page: str | None) -> dict:
    """One row per event (and asset), newest first, 20 per page: the query count does not grow with history."""
    qs = (
        settlement_items_for(organisations=organisations)
        .filter(event__isnull=False)
        .values("event_id", "currency")
        .annotate(total=Sum("amount"), items=Count("pk"), start=Min("delivery_start"))
        .order_by("-start", "-event_id", "currency")
    )
    p = Paginator(qs, EVENTS_PAGE).get_page(page)
    rows = [
        {
            "event_id": r["event_id"],
            "start": r["start"],
            "text": fmt.amount(r["total"], r["currency"]),
            "items": r["items"],
        }
        for r in p.object_list
    ]
    return {"page": p, "rows": rows}


def statement_months(*, organisations, limit: int = 12) -> list:
    return list(
        settlement_items_for(organisations=organisations)
        .annotate(month=TruncMonth("delivery_start"))
        .values_list("month", flat=True)
        .distinct()
        .order_by("-month")[:limit]
    )


def disputes_of(*, organisations, limit: int = 50) -> list[Dispute]:
    return list(Dispute.objects.filter(item__payee__in=organisations).select_related("item").order_by("-pk")[:limit])
