"""Fiat payouts: bank details, the pain.001 payout run, confirmation by camt.054 or by hand (ADR 0027).

Refusals first; every number is worked by hand in the comments."""

from __future__ import annotations

import os
from decimal import Decimal as D
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from defusedxml import ElementTree as SafeET

from flexplatform.errors import ApplicationError
from settlement.models import BankAccount, LedgerAccount, Payout, PayoutConfirmation, PayoutRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.ledger import balance_of
from settlement.services.payouts import (
    bank_account_set,
    payout_confirm,
    payout_run_create,
    payout_run_download,
    payouts_confirm_camt054,
)

from .factories import tokens_grant, world_make

pytestmark = pytest.mark.django_db

K = LedgerAccount.Kind
PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"
FIXTURE = Path(__file__).parent / "fixtures" / "camt054_payouts.xml"
XSD = Path(os.path.dirname(sepaxml.__file__)) / "schemas" / "pain.001.001.03.xsd"
# Valid IBANs and BICs (published examples: Deutsche Bundesbank's test IBAN, the ECB's SEPA examples)
IBAN_A, BIC_A = "DE02 1203 0000 0000 2020 51", "BYLADEM1001"
IBAN_B, BIC_B = "DE02500105170137075030", "INGDDEFFXXX"


@pytest.fixture
def eur(settings):
    settings.SETTLEMENT_CURRENCY = "EUR"


@pytest.fixture
def owed(eur):
    """Three participants owed 12.34, 5.05 and 3.00 EUR; the first two gave bank details, the third did not."""
    w = world_make(n=3, tag="po")
    a, b, c = w.consumers
    for org, amount in ((a, "12.34"), (b, "5.05"), (c, "3.00")):
        tokens_grant(org, "EUR", D(amount), f"po-{org.pk}")
    bank_account_set(organisation=a, holder_name="Anna Example", iban=IBAN_A, bic=BIC_A)
    bank_account_set(organisation=b, holder_name="Bernd Beispiel", iban=IBAN_B, bic=BIC_B)
    return a, b, c


def _balance(org, kind=K.PARTICIPANT):
    return balance_of(organisation=org, kind=kind, asset="EUR")


def _pending():
    return balance_of(organisation=None, kind=K.WITHDRAWAL_PENDING, asset="EUR")


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iban", "bic", "field"),
    [
        ("DE02120300000000202052", BIC_A, "iban"),  # one digit changed: mod 97 fails (ISO 7064)
        ("DE0212030000000020205", BIC_A, "iban"),  # a digit short of Germany's 22 characters
        ("XX02120300000000202051", BIC_A, "iban"),  # no such country
        (IBAN_A, "BYLADEM", "bic"),  # 7 characters: a BIC has 8 or 11
        (IBAN_A, "BYLAZZM1", "bic"),  # ZZ is no country
        (IBAN_A, "BNPAFRPPXXX", "bic"),  # a French bank for a German IBAN
    ],
)
def test_bank_details_refused_unless_iban_and_bic_are_valid(eur, iban, bic, field):
    org = world_make(n=1, tag="bd").consumers[0]
    with pytest.raises(ApplicationError) as exc:
        bank_account_set(organisation=org, holder_name="Anna Example", iban=iban, bic=bic)
    assert field in exc.value.fields
    assert not BankAccount.objects.exists()


def test_a_payee_without_bank_details_is_left_out_and_keeps_its_balance(owed):
    a, b, c = owed
    run = payout_run_create()
    assert set(run.payouts.values_list("organisation_id", flat=True)) == {a.pk, b.pk}
    assert run.skipped == [{"organisation": c.pk, "amount": "3.00", "reason": "no bank details"}]
    assert _balance(c) == D("3.00")


def test_nobody_with_bank_details_owed_refuses_the_run(eur):
    org = world_make(n=1, tag="nb").consumers[0]
    tokens_grant(org, "EUR", D("4.00"), "nb")
    with pytest.raises(ApplicationError, match="none has bank details"):
        payout_run_create()
    assert not PayoutRun.objects.exists() and _balance(org) == D("4.00")


def test_a_payout_is_never_made_twice(owed):
    a, b, _ = owed
    payout_run_create()
    # everything owed with bank details is already on its way: a second run finds only the payee without
    with pytest.raises(ApplicationError, match="none has bank details"):
        payout_run_create()
    assert Payout.objects.count() == 2 and PayoutRun.objects.count() == 1


def test_confirmation_refused_for_unknown_not_exported_already_paid_or_wrong_amount(owed):
    a, _, _ = owed
    run = payout_run_create()
    e2e = run.payouts.get(organisation=a).end_to_end_id
    with pytest.raises(ApplicationError, match="No payout has EndToEndId FLEX-0-0"):
        payout_confirm(end_to_end_id="FLEX-0-0", amount=D("12.34"), bank_reference="r1")
    with pytest.raises(ApplicationError, match="not been exported"):
        payout_confirm(end_to_end_id=e2e, amount=D("12.34"), bank_reference="r1")
    payout_run_download(run_id=run.pk)
    with pytest.raises(ApplicationError, match="is 12.34 EUR; the bank booked 12.43 EUR"):
        payout_confirm(end_to_end_id=e2e, amount=D("12.43"), bank_reference="r1")
    assert Payout.objects.get(end_to_end_id=e2e).status == Payout.Status.EXPORTED
    payout_confirm(end_to_end_id=e2e, amount=D("12.34"), bank_reference="r1")
    with pytest.raises(ApplicationError, match="already paid"):
        payout_confirm(end_to_end_id=e2e, amount=D("12.34"), bank_reference="r2")
    assert Payout.objects.get(end_to_end_id=e2e).bank_reference == "r1"
    assert _pending() == D("5.05")  # 12.34 + 5.05 reserved, 12.34 paid out once


def test_only_finance_may_run_payouts(owed, django_user_model):
    from accounts.models import Membership

    user = django_user_model.objects.create_user(username="c@po.example", email="c@po.example", password="x")
    Membership.objects.create(user=user, organisation=owed[0], role=Membership.Role.CONSUMER)
    with pytest.raises(ApplicationError) as exc:
        payout_run_create(actor=user)
    assert exc.value.code == "permission_denied" and not PayoutRun.objects.exists()


def test_an_unreadable_camt054_is_refused_whole(owed):
    with pytest.raises(ApplicationError, match="Not well-formed XML"):
        payouts_confirm_camt054(data=b"<Document><BkToCstmrDbtCdtNtfctn>")
    with pytest.raises(ApplicationError, match="Not a camt.054 document"):
        payouts_confirm_camt054(data=payout_run_create().document)  # our own pain.001 is not a notification
    assert not PayoutConfirmation.objects.exists()


# --- the run and its file ---------------------------------------------------------------------------------------


def test_the_run_reserves_each_balance_and_exports_a_valid_pain001(owed):
    a, b, c = owed
    run = payout_run_create()
    # 12.34 + 5.05 = 17.39 in two transfers; both balances moved to the pending account, the third untouched
    assert (run.payouts_count, run.total, run.currency) == (2, D("17.39"), "EUR")
    assert _balance(a) == _balance(b) == D("0") and _pending() == D("17.39")
    assert set(Payout.objects.values_list("status", flat=True)) == {"pending"}
    assert ledger_is_balanced() and balance_mismatches() == []

    document = bytes(run.document)
    xmlschema.XMLSchema(str(XSD)).validate(document.decode())  # the official ISO 20022 XSD sepaxml ships
    root = SafeET.fromstring(document)
    header = root.find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}GrpHdr")
    assert header.findtext(f"{PAIN}MsgId") == run.message_id
    assert (header.findtext(f"{PAIN}NbOfTxs"), header.findtext(f"{PAIN}CtrlSum")) == ("2", "17.39")
    info = root.find(f"{PAIN}CstmrCdtTrfInitn/{PAIN}PmtInf")
    assert info.findtext(f"{PAIN}PmtTpInf/{PAIN}SvcLvl/{PAIN}Cd") == "SEPA"
    assert info.findtext(f"{PAIN}DbtrAcct/{PAIN}Id/{PAIN}IBAN") == "DE89370400440532013000"
    sent = {
        tx.findtext(f"{PAIN}PmtId/{PAIN}EndToEndId"): (
            tx.findtext(f"{PAIN}Amt/{PAIN}InstdAmt"),
            tx.findtext(f"{PAIN}CdtrAcct/{PAIN}Id/{PAIN}IBAN"),
            tx.findtext(f"{PAIN}CdtrAgt/{PAIN}FinInstnId/{PAIN}BIC"),
        )
        for tx in info.findall(f"{PAIN}CdtTrfTxInf")
    }
    assert sent == {
        f"FLEX-{run.pk}-{a.pk}": ("12.34", "DE02120300000000202051", BIC_A),
        f"FLEX-{run.pk}-{b.pk}": ("5.05", "DE02500105170137075030", BIC_B),
    }
    # every download is the same file; the first marks the payouts exported
    again = payout_run_download(run_id=run.pk)
    assert bytes(again.document) == document
    assert set(Payout.objects.values_list("status", flat=True)) == {"exported"}


def test_camt054_confirms_booked_debits_and_reports_each_refused_entry(owed):
    a, b, _ = owed
    run = payout_run_download(run_id=payout_run_create().pk)
    pa, pb = run.payouts.get(organisation=a), run.payouts.get(organisation=b)
    pmt_inf_id = SafeET.fromstring(bytes(run.document)).findtext(f".//{PAIN}PmtInfId")
    data = (
        FIXTURE.read_text()
        .replace("{E2E_OK}", pa.end_to_end_id)
        .replace("{AMOUNT_OK}", "12.34")
        .replace("{E2E_MISMATCH}", pb.end_to_end_id)
        .replace("{MSG_ID}", run.message_id)
        .replace("{PMT_INF_ID}", pmt_inf_id)
        .encode()
    )
    result = payouts_confirm_camt054(data=data, filename="camt054.xml")
    assert [p.pk for p in result.paid] == [pa.pk]
    assert result.record.message_id == "COBADEFF054-20260306-0001" and result.record.confirmed == 1
    assert result.record.errors == [
        {
            "entry": 2,
            "entry_ref": "2026030600002",
            "end_to_end_id": pb.end_to_end_id,
            "error": f"Payout {pb.end_to_end_id} is 5.05 EUR; the bank booked 5.00 EUR.",
        },
        {
            "entry": 3,
            "entry_ref": "2026030600003",
            "end_to_end_id": "FLEX-999999-1",
            "error": "No payout has EndToEndId FLEX-999999-1.",
        },
        {
            "entry": 4,
            "entry_ref": "2026030600004",
            "end_to_end_id": "OPERATOR-INV-2026-0311",
            "error": "A credit (CdtDbtInd CRDT), not a payout.",
        },
    ]
    pa.refresh_from_db()
    pb.refresh_from_db()
    assert (pa.status, pa.bank_reference) == ("paid", "2026030600001") and pb.status == "exported"
    # 17.39 reserved, 12.34 left for the bank: 5.05 still pending
    assert _pending() == D("5.05")
    # the same statement imported again pays nothing twice: entry 1 is refused as already paid
    again = payouts_confirm_camt054(data=data)
    assert again.paid == [] and again.record.errors[0]["error"].endswith(
        "is already paid (bank reference 2026030600001)."
    )
    assert _pending() == D("5.05")
    assert ledger_is_balanced() and balance_mismatches() == []


def test_a_run_in_another_currency_omits_the_sepa_service_level(settings):
    settings.SETTLEMENT_CURRENCY = "USD"
    org = world_make(n=1, tag="usd").consumers[0]
    tokens_grant(org, "USD", D("9.99"), "usd")
    bank_account_set(organisation=org, holder_name="Anna Example", iban=IBAN_A, bic=BIC_A)
    document = bytes(payout_run_create().document)
    xmlschema.XMLSchema(str(XSD)).validate(document.decode())
    root = SafeET.fromstring(document)
    assert root.find(f".//{PAIN}SvcLvl") is None
    assert root.find(f".//{PAIN}InstdAmt").get("Ccy") == "USD"
