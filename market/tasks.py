"""Celery adapters for the market: take ids, call a service. The services ask for later work through
``market.hooks`` signals; :func:`connect` (``MarketConfig.ready()``) answers them with these tasks."""

from celery import shared_task

from flexplatform.errors import ApplicationError

from . import hooks
from .errors import MarketError
from .services.auctions import auction_clear, auctions_clear_due
from .services.orders import books_close_due
from .services.requests import request_clear


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


def _request_submitted(sender, *, request_id: int, **kwargs) -> None:
    clear_request.delay(request_id)


def _auction_opened(sender, *, auction_id: int, gate_closure, **kwargs) -> None:
    clear_auction.apply_async((auction_id,), eta=gate_closure)


def connect() -> None:
    """Called once from ``MarketConfig.ready``."""
    hooks.request_submitted.connect(_request_submitted, dispatch_uid="market-clear-request")
    hooks.auction_opened.connect(_auction_opened, dispatch_uid="market-clear-auction")
