"""Bill protection exactly once on real Postgres: workers racing to opt in and to settle the same premise-month."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from flexplatform.errors import Conflict
from settlement.models import BillProtectionEnrolment, BillProtectionMonth, JournalEntry, SettlementItem
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.protection import (
    bill_protection_month_settle,
    bill_protection_opt_in,
    bill_protection_pool_fund,
    pool_balance,
    premise_tariff_set,
)

from .test_concurrency import _race
from .test_services_protection import AFTER, MARCH, OPTED, _march

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_racing_opt_ins_enrol_once():
    w, p, consumer, _ = _march()
    errors = _race(*[lambda: bill_protection_opt_in(user=consumer, premise=p, now=OPTED) for _ in range(3)])
    assert len(errors) == 2 and all(isinstance(e, Conflict) for e in errors), errors
    assert BillProtectionEnrolment.objects.count() == 1


def test_racing_settlements_of_one_month_pay_once():
    w, p, consumer, admin = _march()
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    bill_protection_pool_fund(user=admin, amount=D("10.00"), reference="wire-1")
    errors = _race(*[lambda: bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER) for _ in range(4)])
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors
    assert BillProtectionMonth.objects.get().topup == D("2.60")
    assert SettlementItem.objects.filter(kind="bill_protection").count() == 1
    assert JournalEntry.objects.filter(business_key__startswith="bill_protection:month:").count() == 1
    assert pool_balance() == D("7.40")
    assert ledger_is_balanced() and balance_mismatches() == []
