"""Read models for fiat payouts (ADR 0027): a participant's bank details and payouts, the finance console."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from accounts.models import Organisation

from .models import LedgerAccount
from .models_payouts import BankAccount, Payout, PayoutConfirmation, PayoutRun


def participant_payouts(*, organisation: Organisation) -> dict:
    """The participant's bank details, what it is owed now (paid out by the next run) and each payout's status."""
    currency = settings.SETTLEMENT_CURRENCY
    owed = (
        LedgerAccount.objects.filter(organisation=organisation, kind=LedgerAccount.Kind.PARTICIPANT, asset=currency)
        .values_list("balance", flat=True)
        .first()
    )
    return {
        "bank_account": BankAccount.objects.filter(organisation=organisation).first(),
        "owed": (owed or Decimal("0")).quantize(Decimal("0.01")),
        "currency": currency,
        "payouts": Payout.objects.filter(organisation=organisation).select_related("run")[:100],
    }


def payout_console_lists() -> dict:
    """Finance's payout console: who is owed now (and whether a run can pay them), runs, payouts, confirmations."""
    currency = settings.SETTLEMENT_CURRENCY
    owed = list(
        LedgerAccount.objects.filter(
            kind=LedgerAccount.Kind.PARTICIPANT, asset=currency, organisation__isnull=False, balance__gt=0
        )
        .select_related("organisation")
        .order_by("organisation__name")
    )
    banked = set(
        BankAccount.objects.filter(organisation__in=[a.organisation_id for a in owed]).values_list(
            "organisation_id", flat=True
        )
    )
    return {
        "currency": currency,
        "owed": [(a.organisation, a.balance.quantize(Decimal("0.01")), a.organisation_id in banked) for a in owed],
        "runs": PayoutRun.objects.all()[:30],
        "payouts": Payout.objects.select_related("organisation", "run")[:100],
        "confirmations": PayoutConfirmation.objects.all()[:20],
    }
