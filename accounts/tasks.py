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
