"""Thin Celery adapters for accounts: expiry of verifications and consents (beat)."""

from celery import shared_task

from .consents import consents_expire
from .kyc.services import verification_cases_expire


@shared_task
def expire_verifications() -> int:
    return verification_cases_expire()


@shared_task
def expire_consents() -> int:
    return consents_expire()


@shared_task
def send_notification_emails() -> int:
    """The notification outbox: send pending emails (each at most once)."""
    from .notifications import notification_emails_send

    return notification_emails_send()
