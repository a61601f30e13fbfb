"""Celery adapters for the market: take ids, call a service."""

from celery import shared_task


@shared_task(acks_late=True)
def clear_request(request_id: int) -> int:
    from .services import request_clear

    return request_clear(request_id=request_id).pk
