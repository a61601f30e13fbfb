"""Withdrawing a participant's resting offers and orders when its participation ends.

Accounts sends ``accounts.signals.participation_ended`` once a consent is revoked or runs out, an enrolment ends or
a verification lapses (trading suspended); :func:`participation_ended_received` (connected in
``MarketConfig.ready()``) answers it with :func:`participation_withdraw`. What was already awarded is left to the
award's own workflow; an auction order whose gate has closed is the auction's to clear.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ..models import Auction, FlexibilityOffer, MarketOrder, OrderBook, OrderMember


@transaction.atomic
def participation_withdraw(*, organisation_id: int, premise_ids: list[int] | None, now: datetime | None = None) -> int:
    """Cancel the organisation's OPEN offers and resting sell orders (those with a member on ``premise_ids``, or all
    when None). Locks each order's book or auction first, then the order (the order path's lock order), so a
    concurrent match never fills a withdrawn order. Idempotent. Returns how many offers and orders it cancelled."""
    now = now or timezone.now()
    offers = FlexibilityOffer.objects.select_for_update().filter(
        seller_id=organisation_id, status=FlexibilityOffer.Status.OPEN
    )
    if premise_ids is not None:
        offers = offers.filter(premise_id__in=premise_ids)
    offer_ids = list(offers.order_by("pk").values_list("pk", flat=True))
    cancelled = FlexibilityOffer.objects.filter(pk__in=offer_ids).update(status=FlexibilityOffer.Status.CANCELLED)

    orders = MarketOrder.objects.filter(
        organisation_id=organisation_id, side=MarketOrder.Side.SELL, status=MarketOrder.Status.OPEN
    )
    if premise_ids is not None:
        orders = orders.filter(members__premise_id__in=premise_ids)
    rows = sorted(set(orders.values_list("pk", "book_id", "auction_id")))
    book_ids = sorted({b for _, b, _ in rows if b is not None})
    auction_ids = sorted({a for _, _, a in rows if a is not None})
    list(OrderBook.objects.select_for_update().filter(pk__in=book_ids).order_by("pk").values_list("pk"))
    auctions = {a.pk: a for a in Auction.objects.select_for_update().filter(pk__in=auction_ids).order_by("pk")}
    withdrawable = [
        pk
        for pk, _, auction_id in rows
        if auction_id is None
        or (auctions[auction_id].status == Auction.Status.OPEN and now < auctions[auction_id].gate_closure)
    ]
    still_open = list(
        MarketOrder.objects.select_for_update()
        .filter(pk__in=withdrawable, status=MarketOrder.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cancelled += MarketOrder.objects.filter(pk__in=still_open).update(status=MarketOrder.Status.CANCELLED)
    OrderMember.objects.filter(order_id__in=still_open).update(remaining_kw=Decimal("0"))
    return cancelled


def participation_ended_received(sender, *, organisation_id: int, premise_ids: list[int] | None, **kwargs) -> None:
    """The receiver of ``accounts.signals.participation_ended``."""
    participation_withdraw(organisation_id=organisation_id, premise_ids=premise_ids)
