"""Fiat payouts that leave the platform: bank details, payout runs exported as pain.001, confirmation (ADR 0027).

* :func:`bank_account_set`: the participant's IBAN (ISO 13616) and BIC (ISO 9362), refused unless valid.
* :func:`payout_run_create`: every participant whose fiat account holds money and who has bank details gets one
  payout of its whole balance; the money moves at once from the participant's account to the platform's
  ``withdrawal_pending`` account (so no later run can take it again), and the run's pain.001.001.03 file is
  built and validated against the official XSD. Participants owed money without bank details are left out
  (listed on the run) and keep their balance. The participant accounts are locked in id order and their
  balances re-read under the lock, so two runs created at once pay each balance once.
* :func:`payout_run_download`: the run's file, the same bytes each time; the first download marks its payouts
  ``exported`` (handed to the bank).
* :func:`payout_confirm` (and :func:`payouts_confirm_camt054` for a bank's camt.054 file): an exported payout is
  marked ``paid`` when the bank's booking confirms its EndToEndId for its exact amount and currency; the
  pending money then leaves the ledger for the treasury (the platform's bank account that paid it). A second
  confirmation, an unknown EndToEndId, a payout not yet exported or an amount/currency that differs is refused
  and changes nothing; the business key ``payout:paid:<id>`` makes the ledger entry once-only as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import policies
from accounts.models import Membership, Organisation
from flexplatform.errors import ApplicationError

from ..errors import SettlementError
from ..iso20022 import Confirmation, Debtor, MessageError, Transfer, bic_clean, camt054_parse, iban_clean, pain001_build
from ..models import LedgerAccount
from ..models_payouts import BankAccount, Payout, PayoutConfirmation, PayoutRun
from .audit_trail import audit
from .ledger import account_for, journal_post, platform_account

K = LedgerAccount.Kind
S = Payout.Status
FINANCE = (Membership.Role.ADMIN,)


class PayoutRefused(ApplicationError):
    code = SettlementError.PAYOUT_REFUSED


def _require_finance(actor) -> None:
    if actor is not None:
        policies.require_role(actor, FINANCE, "Only the platform's finance (admin) may pay out.")


def bank_account_set(*, organisation: Organisation, holder_name: str, iban: str, bic: str, actor=None) -> BankAccount:
    """Record where the organisation's fiat is paid; an invalid IBAN or BIC is refused, naming the field."""
    if actor is not None:
        policies.require_act_for(actor, organisation, field="organisation")
    errors = {}
    holder_name = (holder_name or "").strip()
    if not holder_name or len(holder_name) > 70:
        errors["holder_name"] = ["The account holder's name, 1 to 70 characters."]
    try:
        iban = iban_clean(iban or "")
    except MessageError as exc:
        errors["iban"] = [str(exc)]
    try:
        bic = bic_clean(bic or "")
    except MessageError as exc:
        errors["bic"] = [str(exc)]
    if not errors and iban[:2] != bic[4:6]:
        errors["bic"] = [f"The BIC's country {bic[4:6]} is not the IBAN's {iban[:2]}."]
    if errors:
        raise ApplicationError("Invalid bank details.", code=SettlementError.INVALID, fields=errors)
    with transaction.atomic():
        account, _ = BankAccount.objects.update_or_create(
            organisation=organisation, defaults={"holder_name": holder_name, "iban": iban, "bic": bic}
        )
        audit(action="bank_account.set", obj=account, actor=actor, organisation=organisation, iban=iban[-4:])
    return account


def _debtor() -> Debtor:
    return Debtor(
        name=settings.PAYOUT_DEBTOR_NAME,
        iban=iban_clean(settings.PAYOUT_DEBTOR_IBAN),
        bic=bic_clean(settings.PAYOUT_DEBTOR_BIC),
    )


def payout_run_create(*, actor=None, execution_date: date | None = None, now=None) -> PayoutRun:
    """One payout per participant owed fiat with bank details; the run's pain.001 built and XSD-validated."""
    _require_finance(actor)
    now = now or timezone.now()
    currency = settings.SETTLEMENT_CURRENCY
    execution_date = execution_date or now.date()
    if execution_date < now.date():
        raise PayoutRefused("The execution date is in the past.", fields={"execution_date": ["Today or a later day."]})
    debtor = _debtor()
    with transaction.atomic():
        owed = list(
            LedgerAccount.objects.select_for_update()
            .filter(kind=K.PARTICIPANT, asset=currency, organisation__isnull=False, balance__gt=0)
            .order_by("pk")
        )
        if not owed:
            raise PayoutRefused("No participant is owed any money: nothing to pay out.")
        banks = BankAccount.objects.in_bulk([a.organisation_id for a in owed], field_name="organisation_id")
        payable = [a for a in owed if a.organisation_id in banks]
        skipped = [
            {
                "organisation": a.organisation_id,
                "amount": str(a.balance.quantize(Decimal("0.01"))),
                "reason": "no bank details",
            }
            for a in owed
            if a.organisation_id not in banks
        ]
        if not payable:
            raise PayoutRefused(
                f"{len(skipped)} participant(s) are owed money but none has bank details: nothing to pay out."
            )
        run = PayoutRun.objects.create(
            message_id=f"pending-{now.timestamp()}-{actor.pk if actor else 0}"[:35],
            currency=currency,
            execution_date=execution_date,
            skipped=skipped,
            document=b"",
            created_by=actor,
        )
        pending = platform_account(K.WITHDRAWAL_PENDING, currency)
        payouts, transfers = [], []
        for account in payable:
            bank = banks[account.organisation_id]
            amount = account.balance.quantize(Decimal("0.01"))
            if amount <= 0:
                continue
            e2e = f"FLEX-{run.pk}-{account.organisation_id}"
            entry = journal_post(
                business_key=f"payout:reserve:{e2e}",
                memo=f"Payout {e2e}: {amount} {currency} to {bank.iban}",
                legs=[(account, -amount), (pending, amount)],
            )
            payouts.append(
                Payout(
                    organisation_id=account.organisation_id,
                    run=run,
                    end_to_end_id=e2e,
                    amount=amount,
                    currency=currency,
                    iban=bank.iban,
                    bic=bank.bic,
                    holder_name=bank.holder_name,
                    reserve_entry=entry,
                )
            )
            transfers.append(Transfer(e2e, bank.holder_name, bank.iban, bank.bic, amount, f"Flexibility payout {e2e}"))
        Payout.objects.bulk_create(payouts)
        try:
            msg_id, document = pain001_build(
                debtor=debtor, currency=currency, execution_date=execution_date, transfers=transfers
            )
        except MessageError as exc:
            raise PayoutRefused(str(exc), fields={exc.field: [str(exc)]}) from exc
        run.message_id, run.document = msg_id, document
        run.payouts_count = len(payouts)
        run.total = sum((p.amount for p in payouts), Decimal("0"))
        run.save(update_fields=["message_id", "document", "payouts_count", "total"])
        audit(action="payout_run.created", obj=run, actor=actor, total=run.total, payouts=run.payouts_count)
    return run


def payout_run_download(*, run_id: int, actor=None) -> PayoutRun:
    """The run with its pain.001 file; the first download marks its payouts exported (handed to the bank)."""
    _require_finance(actor)
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run_id)
        n = Payout.objects.filter(run=run, status=S.PENDING).update(status=S.EXPORTED)
        if n:
            audit(action="payout_run.exported", obj=run, actor=actor, payouts=n)
    return run


@dataclass
class ConfirmResult:
    record: PayoutConfirmation
    paid: list[Payout]


def _confirm_one(*, end_to_end_id: str, amount: Decimal | None, currency: str, bank_reference: str, now) -> Payout:
    """Mark one exported payout paid, or raise PayoutRefused saying why (nothing changed)."""
    if not end_to_end_id:
        raise PayoutRefused("No EndToEndId.")
    payout = Payout.objects.select_for_update().filter(end_to_end_id=end_to_end_id).first()
    if payout is None:
        raise PayoutRefused(f"No payout has EndToEndId {end_to_end_id}.")
    if payout.status == S.PAID:
        raise PayoutRefused(f"Payout {end_to_end_id} is already paid (bank reference {payout.bank_reference}).")
    if payout.status != S.EXPORTED:
        raise PayoutRefused(f"Payout {end_to_end_id} has not been exported to the bank yet.")
    if amount is None or amount != payout.amount or currency != payout.currency:
        raise PayoutRefused(
            f"Payout {end_to_end_id} is {payout.amount} {payout.currency}; the bank booked {amount} {currency}."
        )
    entry = journal_post(
        business_key=f"payout:paid:{payout.pk}",
        memo=f"Payout {end_to_end_id} paid by the bank, reference {bank_reference}",
        legs=[
            (platform_account(K.WITHDRAWAL_PENDING, payout.currency), -payout.amount),
            (account_for(organisation=None, kind=K.TREASURY, asset=payout.currency), payout.amount),
        ],
    )
    payout.status, payout.paid_entry, payout.paid_at, payout.bank_reference = S.PAID, entry, now, bank_reference[:35]
    payout.save(update_fields=["status", "paid_entry", "paid_at", "bank_reference"])
    return payout


def payout_confirm(*, end_to_end_id: str, amount: Decimal, bank_reference: str, actor=None, now=None) -> Payout:
    """Finance confirms one payout by hand (e.g. from the bank's online statement); refused as the camt.054 is."""
    _require_finance(actor)
    now = now or timezone.now()
    with transaction.atomic():
        payout = _confirm_one(
            end_to_end_id=end_to_end_id.strip(),
            amount=amount,
            currency=Payout.objects.filter(end_to_end_id=end_to_end_id.strip())
            .values_list("currency", flat=True)
            .first()
            or settings.SETTLEMENT_CURRENCY,
            bank_reference=bank_reference.strip() or "manual",
            now=now,
        )
        record = PayoutConfirmation.objects.create(
            source=PayoutConfirmation.Source.MANUAL, confirmed=1, imported_by=actor
        )
        audit(action="payout.confirmed", obj=payout, actor=actor, confirmation=record.pk, amount=payout.amount)
    return payout


def _refusal(c: Confirmation) -> str:
    if c.error:
        return c.error
    if not c.debit:
        return "A credit (CdtDbtInd CRDT), not a payout."
    if not c.booked:
        return "Not booked (Sts is not BOOK)."
    return ""


def payouts_confirm_camt054(*, data: bytes, filename: str = "", actor=None, now=None) -> ConfirmResult:
    """Import a bank's camt.054: each booked debit entry confirms its payouts; each entry refused is recorded
    with its position, NtryRef, EndToEndId and reason. An unreadable file is refused whole."""
    _require_finance(actor)
    now = now or timezone.now()
    try:
        note = camt054_parse(data)
    except MessageError as exc:
        raise PayoutRefused(str(exc), code=SettlementError.INVALID, fields={exc.field: [str(exc)]}) from exc
    paid, errors = [], []
    with transaction.atomic():
        for c in note.confirmations:
            error = _refusal(c)
            if not error:
                try:
                    with transaction.atomic():
                        paid.append(
                            _confirm_one(
                                end_to_end_id=c.end_to_end_id,
                                amount=c.amount,
                                currency=c.currency,
                                bank_reference=c.entry_ref,
                                now=now,
                            )
                        )
                    continue
                except PayoutRefused as exc:
                    error = exc.detail
            errors.append(
                {"entry": c.entry, "entry_ref": c.entry_ref, "end_to_end_id": c.end_to_end_id, "error": error}
            )
        record = PayoutConfirmation.objects.create(
            source=PayoutConfirmation.Source.CAMT054,
            message_id=note.message_id[:35],
            filename=filename[:200],
            confirmed=len(paid),
            errors=errors,
            imported_by=actor,
        )
        audit(action="payouts.confirmed", obj=record, actor=actor, confirmed=len(paid), refused=len(errors))
    return ConfirmResult(record=record, paid=paid)
