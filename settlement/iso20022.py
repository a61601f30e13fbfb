"""ISO 20022 messages for fiat payouts: the pain.001 credit-transfer file we send the bank, the camt.054 debit
notification the bank sends back (ADR 0027).

* **pain.001.001.03** (CustomerCreditTransferInitiationV03), built by ``sepaxml`` and validated against the
  official XSD it ships before the bytes leave this module; the EPC SEPA Credit Transfer Customer-to-PSP
  Implementation Guidelines' rules that the XSD does not hold (EUR only under the ``SEPA`` service level; charge
  bearer ``SLEV``; ``EndToEndId`` at most 35 characters, carried unchanged to the bank statement) are ours to
  keep. In another currency the file omits the SEPA service level (a domestic or cross-border transfer).
* **camt.054.001.02** (BankToCustomerDebitCreditNotificationV02; .04 and .08 are read the same way): each
  ``Ntfctn/Ntry`` is a booking on our account; a debit (``CdtDbtInd`` ``DBIT``) that is booked (``Sts`` ``BOOK``)
  confirms the transfers named by its ``NtryDtls/TxDtls/Refs/EndToEndId``, for the amount in
  ``TxDtls/AmtDtls/TxAmt/Amt`` (or ``TxDtls/Amt``; the entry's ``Amt`` when it holds one transfer).

Pure code: plain dataclasses in and out, no database. The XML the bank sends is parsed with ``defusedxml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element  # noqa: S405 - only the type; parsing goes through defusedxml

from defusedxml import ElementTree as SafeET
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError as SepaValidationError

PAIN_SCHEMA = "pain.001.001.03"
CAMT_NAMESPACES = tuple(f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{v}" for v in ("02", "04", "06", "08"))
CENT = Decimal("0.01")


class MessageError(ValueError):
    """A message that cannot be built or read; ``field`` names the element or input at fault."""

    def __init__(self, message: str, *, field: str = "document") -> None:
        super().__init__(message)
        self.field = field


def iban_clean(value: str) -> str:
    """The IBAN in electronic form (ISO 13616: country, check digits mod 97, national length); else MessageError."""
    try:
        return IBAN(value).compact
    except SchwiftyException as exc:
        raise MessageError(f"Not a valid IBAN: {exc}.", field="iban") from exc


def bic_clean(value: str) -> str:
    """The BIC (ISO 9362: 8 or 11 characters, a known country); else MessageError."""
    try:
        return str(BIC(value.replace(" ", "").upper()))
    except SchwiftyException as exc:
        raise MessageError(f"Not a valid BIC: {exc}.", field="bic") from exc


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    name: str
    iban: str
    bic: str
    amount: Decimal
    remittance: str


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str
    bic: str


def pain001_build(
    *, debtor: Debtor, currency: str, execution_date: date, transfers: list[Transfer]
) -> tuple[str, bytes]:
    """(MsgId, the pain.001.001.03 document), one batch of ``transfers``, validated against the official XSD."""
    if not transfers:
        raise MessageError("A credit transfer file needs at least one transfer.", field="transfers")
    config = {
        "name": debtor.name,
        "IBAN": debtor.iban,
        "BIC": debtor.bic,
        "batch": True,
        "currency": currency,
        "domestic": currency != "EUR",  # the SEPA service level is for euro transfers only (EPC SCT rulebook)
    }
    sepa = SepaTransfer(config, schema=PAIN_SCHEMA, clean=True)
    for t in transfers:
        if len(t.end_to_end_id) > 35:
            raise MessageError(f"EndToEndId {t.end_to_end_id!r} is longer than 35.", field="end_to_end_id")
        sepa.add_payment(
            {
                "name": t.name,
                "IBAN": t.iban,
                "BIC": t.bic,
                "amount": int((t.amount * 100).to_integral_exact()),
                "execution_date": execution_date,
                "description": t.remittance,
                "endtoend_id": t.end_to_end_id,
            }
        )
    try:
        return sepa.msg_id, sepa.export(validate=True)
    except SepaValidationError as exc:
        raise MessageError(f"The pain.001 file does not validate against its XSD: {exc.__cause__}.") from exc


@dataclass
class Confirmation:
    """One transfer a camt.054 entry confirms (or the reason it cannot)."""

    entry: int  # 1-based position of the Ntry in the file
    entry_ref: str  # NtryRef, else AcctSvcrRef
    end_to_end_id: str
    amount: Decimal | None
    currency: str
    booked: bool
    debit: bool
    error: str = ""


@dataclass
class Notification:
    message_id: str
    confirmations: list[Confirmation] = field(default_factory=list)


def _ns(tag: str) -> str:
    return tag.split("}", 1)[0][1:] if tag.startswith("{") else ""


def _amount(el: Element | None) -> tuple[Decimal | None, str]:
    if el is None or el.text is None:
        return None, ""
    try:
        return Decimal(el.text.strip()), el.get("Ccy", "")
    except InvalidOperation:
        return None, el.get("Ccy", "")


def camt054_parse(data: bytes) -> Notification:
    """Read a camt.054 debit/credit notification; MessageError names what makes the whole file unreadable."""
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, ValueError) as exc:
        raise MessageError(f"Not well-formed XML: {exc}.") from exc
    except Exception as exc:  # defusedxml's refusals (entities, DTDs)  # noqa: BLE001
        raise MessageError(f"Refused XML: {exc}.") from exc
    ns = _ns(root.tag)
    if ns not in CAMT_NAMESPACES:
        raise MessageError(f"Not a camt.054 document (namespace {ns or 'none'!r}).", field="Document")
    q = {"c": ns}
    body = root.find("c:BkToCstmrDbtCdtNtfctn", q)
    if body is None:
        raise MessageError("No BkToCstmrDbtCdtNtfctn element.", field="BkToCstmrDbtCdtNtfctn")
    msg_id = (body.findtext("c:GrpHdr/c:MsgId", default="", namespaces=q) or "").strip()
    if not msg_id:
        raise MessageError("No GrpHdr/MsgId.", field="GrpHdr/MsgId")
    out = Notification(message_id=msg_id)
    entries = body.findall("c:Ntfctn/c:Ntry", q)
    if not entries:
        raise MessageError("The notification has no Ntry.", field="Ntfctn/Ntry")
    for n, ntry in enumerate(entries, start=1):
        ref = (
            ntry.findtext("c:NtryRef", default="", namespaces=q)
            or ntry.findtext("c:AcctSvcrRef", default="", namespaces=q)
        ).strip()
        status = (
            ntry.findtext("c:Sts/c:Cd", default="", namespaces=q) or ntry.findtext("c:Sts", default="", namespaces=q)
        ).strip()
        debit = (ntry.findtext("c:CdtDbtInd", default="", namespaces=q) or "").strip() == "DBIT"
        entry_amount, entry_ccy = _amount(ntry.find("c:Amt", q))
        txs = ntry.findall("c:NtryDtls/c:TxDtls", q)
        base = dict(entry=n, entry_ref=ref[:35], booked=status == "BOOK", debit=debit)
        if not txs:
            out.confirmations.append(
                Confirmation(end_to_end_id="", amount=entry_amount, currency=entry_ccy, error="No TxDtls.", **base)
            )
            continue
        parts = []
        for tx in txs:
            amount, ccy = _amount(tx.find("c:AmtDtls/c:TxAmt/c:Amt", q))
            if amount is None:
                amount, ccy = _amount(tx.find("c:Amt", q))
            if amount is None and len(txs) == 1:
                amount, ccy = entry_amount, entry_ccy
            e2e = (tx.findtext("c:Refs/c:EndToEndId", default="", namespaces=q) or "").strip()
            parts.append(Confirmation(end_to_end_id=e2e, amount=amount, currency=ccy or entry_ccy, **base))
        total = sum((p.amount for p in parts if p.amount is not None), Decimal("0"))
        if entry_amount is not None and all(p.amount is not None for p in parts) and total != entry_amount:
            for p in parts:
                p.error = f"The entry's Amt {entry_amount} is not the sum of its transactions ({total})."
        out.confirmations.extend(parts)
    return out
