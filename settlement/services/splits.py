"""Portfolio splits: what an award sold by an aggregator pays its member, the aggregator and the platform.

Rule ``portfolio-split-1`` (ADR 0024). An award is *sold through a portfolio* when its seller is an aggregator
other than the owner of the awarded premise (a member resource of a portfolio order, disaggregated one award
per member). FERC Order No. 2222 (18 CFR 35.28(g)(12)) makes the aggregator the market participant that is
settled by the ISO and leaves its arrangement with each resource to their contract; CAISO settles a Proxy
Demand Resource with its Demand Response Provider through the scheduling coordinator, who pays the customer
under their own agreement (CAISO BPM for Demand Response, settlement). The platform applies that agreement —
the commercial terms the member accepted with their consent (``accounts.terms``): the version of the latest
consent granted by the time the award was sold (its ``created_at``):

* **aggregator fee** = revenue x ``revenue_share_pct`` / 100 + ``fee_per_kw_month`` x kW x hours held / 730
  (the kW-month part for capacity held, i.e. reservations only; 730 = 8,760 h / 12), rounded once half-up to the
  cent and never more than the revenue (a member never pays out of pocket for an award);
* **member share** = revenue - aggregator fee (the parts add up to the revenue exactly);
* **platform fee**: charged to the buyer as for every award (``settlement.services.runs``), shown beside the split;
* **penalties** of a portfolio award: the member bears ``member_penalty_pct`` % (half-up to the cent) and the
  aggregator, who placed the order, the rest (:func:`penalty_allocation`).

No terms accepted (a consent from before terms were published): no aggregator fee, and the aggregator bears the
whole penalty. Each part is its own journal entry, paid by the buyer (``member_share:<fact>``,
``aggregator_fee:<fact>``), so each is paid exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import F

from accounts.models import CommercialTerms, Organisation
from accounts.terms import portfolio_terms, terms_at
from market.models import Award

from .. import assets
from ..models import LedgerAccount, SettlementItem
from .ledger import accounts_ensure
from .posting import EntrySpec, ItemSpec

K = LedgerAccount.Kind
I = SettlementItem.Kind  # noqa: E741
HUNDRED = Decimal(100)
HOURS_PER_MONTH = Decimal(730)
ZERO = Decimal("0")
RULE = "portfolio-split-1"


@dataclass(frozen=True)
class Split:
    revenue: Decimal
    aggregator_fee: Decimal
    member_share: Decimal


def portfolio_split(
    *,
    revenue: Decimal,
    revenue_share_pct: Decimal,
    fee_per_kw_month: Decimal = ZERO,
    kw: Decimal = ZERO,
    hours: Decimal = ZERO,
) -> Split:
    """Split a rounded revenue into the aggregator's fee and the member's share (``portfolio-split-1``)."""
    if revenue != assets.money(revenue):
        raise ValueError("The revenue is a rounded amount in cents.")
    if not (ZERO <= revenue_share_pct <= HUNDRED) or fee_per_kw_month < 0 or kw < 0 or hours < 0:
        raise ValueError("Shares are 0-100 %; fees, kW and hours are not negative.")
    if revenue <= 0:
        return Split(revenue, ZERO, revenue)
    fee = assets.money(revenue * revenue_share_pct / HUNDRED + fee_per_kw_month * kw * hours / HOURS_PER_MONTH)
    fee = min(fee, revenue)
    return Split(revenue, fee, revenue - fee)


def penalty_allocation(*, amount: Decimal, member_pct: Decimal) -> tuple[Decimal, Decimal]:
    """(member's part, aggregator's part) of a portfolio award's penalty; the parts add up to the penalty."""
    if amount <= 0 or amount != assets.money(amount):
        raise ValueError("A penalty is a positive amount in cents.")
    if not ZERO <= member_pct <= HUNDRED:
        raise ValueError("The member's share is 0-100 %.")
    member = assets.money(amount * member_pct / HUNDRED)
    return member, amount - member


@dataclass
class Sale:
    """An award sold through a portfolio: its aggregator, its member and the terms they agreed (by date)."""

    award_id: int
    aggregator_id: int
    member_id: int
    sold_at: datetime
    history: list[tuple[datetime, CommercialTerms]] = field(default_factory=list)

    def terms(self) -> CommercialTerms | None:
        """The terms in force when the award was sold: those of the latest consent granted by then."""
        return terms_at(self.history, self.sold_at)


def portfolio_sales(award_ids) -> dict[int, Sale]:
    """The awards among ``award_ids`` sold through a portfolio, with their terms."""
    ids = sorted({a for a in award_ids if a is not None})
    if not ids:
        return {}
    sales: dict[int, Sale] = {}
    premise_of: dict[int, int] = {}
    for i in range(0, len(ids), 20000):
        for pk, seller, owner, premise_id, created in (
            Award.objects.filter(pk__in=ids[i : i + 20000], seller__kind=Organisation.Kind.AGGREGATOR)
            .exclude(seller_id=F("premise__organisation_id"))
            .values_list("pk", "seller_id", "premise__organisation_id", "premise_id", "created_at")
        ):
            sales[pk] = Sale(award_id=pk, aggregator_id=seller, member_id=owner, sold_at=created)
            premise_of[pk] = premise_id
    history = portfolio_terms({(premise_of[pk], s.aggregator_id) for pk, s in sales.items()})
    for pk, s in sales.items():
        s.history = history.get((premise_of[pk], s.aggregator_id), [])
    return sales


def sale_accounts(sales: dict[int, Sale]) -> dict[tuple, int]:
    """The participant accounts the splits pay (created before the run's transaction)."""
    currency = settings.SETTLEMENT_CURRENCY
    keys = {(s.aggregator_id, K.PARTICIPANT, currency) for s in sales.values()}
    keys |= {(s.member_id, K.PARTICIPANT, currency) for s in sales.values()}
    return accounts_ensure(keys) if keys else {}


def split_entries(
    *,
    sale: Sale,
    acct: dict[tuple, int],
    payer_account: int,
    fact: str,
    revenue: Decimal,
    at: datetime,
    what: str,
    kw: Decimal = ZERO,
    hours: Decimal = ZERO,
    quantity: Decimal = ZERO,
    price: Decimal = ZERO,
    premise_id: int | None = None,
    event_id: int | None = None,
) -> list[EntrySpec]:
    """The member-share and aggregator-fee entries of one revenue (``fact`` names it: ``event:12``,
    ``reservation:3:day:2026-05-01``), paid by ``payer_account``."""
    currency = settings.SETTLEMENT_CURRENCY
    terms = sale.terms()
    pct = terms.revenue_share_pct if terms else ZERO
    per_kw = terms.fee_per_kw_month if terms else ZERO
    split = portfolio_split(revenue=revenue, revenue_share_pct=pct, fee_per_kw_month=per_kw, kw=kw, hours=hours)
    named = f"terms v{terms.version}" if terms else "no terms accepted"
    fee_rule = f"{pct} % of {revenue}" + (f" + {per_kw}/kW-month x {kw} kW x {hours} h / 730" if per_kw and kw else "")
    memo = f"{what}: revenue {revenue}, aggregator fee {split.aggregator_fee} ({fee_rule}, {named})"
    base = dict(
        delivery_start=at, premise_id=premise_id, event_id=event_id, award_id=sale.award_id, price_per_mwh=price
    )
    out = []
    for kind, payee, amount, qty, line in (
        (I.MEMBER_SHARE, sale.member_id, split.member_share, quantity, f"Member share {split.member_share} of {memo}"),
        (I.AGGREGATOR_FEE, sale.aggregator_id, split.aggregator_fee, quantity, f"Aggregator fee of {memo}"),
    ):
        if amount <= 0:
            continue
        key = f"{kind}:{fact}"
        out.append(
            EntrySpec(
                key,
                line[:300],
                [(payer_account, currency, -amount), (acct[(payee, K.PARTICIPANT, currency)], currency, amount)],
                [
                    ItemSpec(
                        business_key=key,
                        kind=kind,
                        payee_id=payee,
                        asset=currency,
                        amount=amount,
                        quantity_kwh=qty,
                        memo=line[:300],
                        **base,
                    )
                ],
            )
        )
    return out


def portfolio_event_settle(*, event_id: int, now: datetime) -> SettlementItem | None:
    """Pay a verified event of an award sold through a portfolio at once (the event task), as the run would: the
    member's share and the aggregator's fee of the performance payment, each once. None when the event's award
    was not sold through a portfolio, or was already paid whole to the member before this rule."""
    from activation.models import DREvent, EventVerification

    from .payments import performance_memo, periods_ensure
    from .posting import entries_post

    facts = DREvent.objects.filter(pk=event_id).values_list("buyer_id", "price_per_mwh", "start").first()
    award_id = event_awards([event_id]).get(event_id)
    if facts is None or award_id is None:
        return None
    buyer_id, price, start = facts
    sale = portfolio_sales([award_id]).get(award_id)
    if sale is None or SettlementItem.objects.filter(business_key=f"performance:event:{event_id}").exists():
        return None
    done = SettlementItem.objects.filter(business_key=f"{I.MEMBER_SHARE}:event:{event_id}").first()
    if done is not None:
        return done
    v = EventVerification.objects.filter(event_id=event_id).values_list("delivered_kwh", "committed_kwh").first()
    if v is None or buyer_id is None or price is None:
        return None  # the caller's own checks explain why
    currency = settings.SETTLEMENT_CURRENCY
    paid = assets.paid_kwh(delivered_kwh=v[0], dispatched_kwh=v[1])
    revenue = assets.performance_amount([(paid, price)])
    acct = sale_accounts({award_id: sale})
    acct.update(accounts_ensure({(buyer_id, K.OPERATOR_PAYABLE, currency)}))
    periods_ensure([start, now])
    premise_id = DREvent.objects.values_list("premise_id", flat=True).get(pk=event_id)
    entries = split_entries(
        sale=sale,
        acct=acct,
        payer_account=acct[(buyer_id, K.OPERATOR_PAYABLE, currency)],
        fact=f"event:{event_id}",
        revenue=revenue,
        at=start,
        what=performance_memo(event_id, v[0], paid, price),
        quantity=paid,
        price=price,
        premise_id=premise_id,
        event_id=event_id,
    )
    entries_post(entries=entries, now=now)
    return (
        SettlementItem.objects.filter(
            business_key__in=[f"{I.MEMBER_SHARE}:event:{event_id}", f"{I.AGGREGATOR_FEE}:event:{event_id}"]
        )
        .order_by("pk")
        .first()
    )


def event_split_entries(
    *, sale: Sale, acct: dict, payer_account: int, row: tuple, perf, bonus, paid, excess
) -> list[EntrySpec]:
    """The split of an event's performance payment (fact ``event:<id>``) and of its over-delivery bonus (fact
    ``over_delivery:event:<id>``), each split on its own so the event task and the run pay each part once.
    ``row``: a row of :func:`settlement.services.runs.event_settlement_rows`."""
    from .payments import performance_memo

    _vid, event_id, start, premise_id, _payee, _award, price, _op, _committed, _base, _actual, kwh = row
    out: list[EntrySpec] = []
    for fact, revenue, qty, what in (
        (f"event:{event_id}", perf, paid, performance_memo(event_id, kwh, paid, price)),
        (f"over_delivery:event:{event_id}", bonus, excess, f"Over-delivery bonus, event {event_id}: {excess} kWh"),
    ):
        out += split_entries(
            sale=sale,
            acct=acct,
            payer_account=payer_account,
            fact=fact,
            revenue=revenue,
            at=start,
            what=what,
            quantity=qty,
            price=price,
            premise_id=premise_id,
            event_id=event_id,
        )
    return out


def member_total(entries: list[EntrySpec]) -> Decimal:
    """What the member is paid by these split entries."""
    return sum((i.amount for e in entries for i in e.items if i.kind == I.MEMBER_SHARE), ZERO)


def event_sales(rows: list[tuple]) -> dict[int, Sale]:
    """Per event id (rows of :func:`settlement.services.runs.event_settlement_rows`): the sale its award was, for
    events of awards sold through a portfolio — except those paid whole to the member before this rule (a
    ``performance`` item exists), which are not paid again."""
    awards = event_awards([r[1] for r in rows])
    sales = portfolio_sales(awards.values())
    if not sales:
        return {}
    by_event = {e: sales[a] for e, a in awards.items() if a in sales}
    paid_whole = set()
    ids = list(by_event)
    for i in range(0, len(ids), 20000):
        paid_whole |= set(
            SettlementItem.objects.filter(kind=I.PERFORMANCE, event_id__in=ids[i : i + 20000]).values_list(
                "event_id", flat=True
            )
        )
    return {e: s for e, s in by_event.items() if e not in paid_whole}


def event_awards(event_ids) -> dict[int, int]:
    """The award each event settles: its own, or for a call of a reservation the reservation's award."""
    from activation.models import DREvent

    ids = list(event_ids)
    out: dict[int, int] = {}
    for i in range(0, len(ids), 20000):
        for pk, award, reserved in DREvent.objects.filter(pk__in=ids[i : i + 20000]).values_list(
            "pk", "award_id", "reservation__award_id"
        ):
            if award or reserved:
                out[pk] = award or reserved
    return out
