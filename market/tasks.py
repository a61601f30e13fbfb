"""Celery adapters for the market: take ids, call a service."""

from celery import shared_task


@shared_task(acks_late=True)
def clear_request(request_id: int) -> int:
    from .services import request_clear

    return request_clear(request_id=request_id).pk


@shared_task(acks_late=True)
def clear_auction(auction_id: int) -> int | None:
    from flexplatform.errors import ApplicationError

    from .services.auctions import auction_clear

    try:
        return auction_clear(auction_id=auction_id).pk
    except ApplicationError as exc:  # delivered before gate closure (clock skew): the beat sweep clears it
        if exc.code == "not_due":
            return None
        raise


@shared_task
def clear_due_auctions() -> list[int]:
    from .services.auctions import auctions_clear_due

    return auctions_clear_due()


@shared_task
def close_due_books() -> int:
    from .services.orders import books_close_due

    return books_close_due()
