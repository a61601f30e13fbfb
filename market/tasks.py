"""Celery adapters for the market: take ids, call a service. The services ask for later work through
``market.hooks`` signals; :func:`connect` (``MarketConfig.ready()``) answers them with these tasks."""

import logging

from celery import shared_task

from flexplatform.errors import ApplicationError

from . import hooks
from .errors import MarketError
from .services.auctions import auction_clear, auctions_clear_due
from .services.orders import books_close_due
from .services.requests import request_clear

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def clear_request(request_id: int) -> int:
    return request_clear(request_id=request_id).pk


@shared_task(acks_late=True)
def clear_auction(auction_id: int) -> int | None:
    try:
        return auction_clear(auction_id=auction_id).pk
    except ApplicationError as exc:  # delivered before gate closure (clock skew): the beat sweep clears it
        if exc.code == MarketError.NOT_DUE:
            return None
        raise


@shared_task
def clear_due_auctions() -> list[int]:
    return auctions_clear_due()


@shared_task
def close_due_books() -> int:
    return books_close_due()


#: premises per offers task: a seller's list is sent whole, or in parts of this size (an aggregator's portfolio)
OFFERS_CHUNK = 100


@shared_task(acks_late=True)
def offers_submit_chunk(submissions: list[dict]) -> int:
    """A chunk of sellers' offer lists (``{"seller": id, "created_by": id or None, "items": [[premise id, zone
    id, kW, price per MWh, window start, window end], ...]}``, decimals as strings, times ISO 8601), each all or
    nothing (:func:`market.services.offers_bulk.offers_submit_sellers`); a refused list is logged. Safe to run
    again: an item its seller has already offered for that premise and window is not offered twice. Returns how
    many offers were made."""
    from datetime import datetime
    from decimal import Decimal

    from accounts.models import GridZone, Organisation, Premise

    from .services.offers_bulk import OfferItem, SellerOffers, offers_submit_sellers

    sellers = Organisation.objects.in_bulk({s["seller"] for s in submissions})
    premises = Premise.objects.select_related("grid_zone").in_bulk({i[0] for s in submissions for i in s["items"]})
    zones = GridZone.objects.in_bulk({i[1] for s in submissions for i in s["items"]})
    batch = [
        SellerOffers(
            seller=sellers[s["seller"]],
            created_by=s.get("created_by"),
            items=[
                OfferItem(
                    premise=premises[p],
                    zone=zones[z],
                    kw=Decimal(kw),
                    price_per_mwh=Decimal(price),
                    window_start=datetime.fromisoformat(ws),
                    window_end=datetime.fromisoformat(we),
                )  # fmt: skip
                for p, z, kw, price, ws, we in s["items"]
            ],
        )
        for s in submissions
    ]
    made = 0
    for sub, found in zip(batch, offers_submit_sellers(submissions=batch, skip_offered=True), strict=True):
        if isinstance(found, ApplicationError):
            log.warning("offers of seller %s refused: %s", sub.seller.pk, found.detail)
        else:
            made += len(found)
    return made


def _request_submitted(sender, *, request_id: int, **kwargs) -> None:
    clear_request.delay(request_id)


def _auction_opened(sender, *, auction_id: int, gate_closure, **kwargs) -> None:
    clear_auction.apply_async((auction_id,), eta=gate_closure)


def connect() -> None:
    """Called once from ``MarketConfig.ready``."""
    hooks.request_submitted.connect(_request_submitted, dispatch_uid="market-clear-request")
    hooks.auction_opened.connect(_auction_opened, dispatch_uid="market-clear-auction")
