"""Bill protection (ADR 0026): refusals first, then hand-computed months (flat and time-of-use, local months),
the pool, and the daily task (once per premise-month)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.models import Membership, Organisation
from accounts.services import user_create
from assessment.models import MeterReading
from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from settlement import tariffs
from settlement.models import BillProtectionMonth, JournalEntry, SettlementItem
from settlement.services.ledger import InsufficientBalance, balance_of
from settlement.services.penalties import penalty_settle
from settlement.services.protection import (
    bill_protection_compute,
    bill_protection_month_settle,
    bill_protection_opt_in,
    bill_protection_pool_fund,
    bill_protection_settle_due,
    pool_balance,
    premise_tariff_set,
)
from settlement.services.runs import settlement_run_execute
from settlement.services.statements import statement_build, statement_csv, statement_pdf

from .factories import DAY, NOW, event_make, world_make

pytestmark = pytest.mark.django_db
MARCH = date(2026, 3, 1)
OPTED = datetime(2026, 2, 15, 9, tzinfo=UTC)
AFTER = datetime(2026, 4, 10, tzinfo=UTC)  # March is over and SETTLE_AFTER has passed


def _users(w):
    consumer = user_create(email="c0@example.com", password="pw-12345678", organisation=w.consumers[0])
    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = user_create(email="admin@example.com", password="pw-12345678", organisation=platform)
    return consumer, admin


def _march(tz: str = "UTC", *, penalty: str = "5.00"):
    """Premise 0 on 2 March 2026 (a Monday): 92 quarter-hours at 0.5 kWh and a 10:00-11:00 UTC event that cut
    4 x 2 kWh (baseline 2, actual 0), paid 8 kWh x 100/MWh = 0.80, and a penalty."""
    w = world_make(n=2)
    p = w.premises[0]
    p.timezone = tz
    p.save(update_fields=["timezone"])
    event = event_make(w, p, start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4)
    meter = p.meters.get()
    event_slots = {DAY + timedelta(hours=10, minutes=15 * i) for i in range(4)}
    MeterReading.objects.bulk_create(
        [
            MeterReading(meter=meter, start=t, kwh=D("0") if t in event_slots else D("0.5"))
            for t in (DAY + timedelta(minutes=15 * i) for i in range(96))
        ]
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    penalty_settle(event_id=event.pk, payee=w.consumers[0], amount=D(penalty), reason="short", business_key="p0")
    consumer, admin = _users(w)
    return w, p, consumer, admin


# --- refusals ----------------------------------------------------------------------------------------------


def test_opting_in_twice_is_refused():
    w, p, consumer, _ = _march()
    e = bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    assert e.covers_from == MARCH  # the month after opting in
    with pytest.raises(Conflict) as exc:
        bill_protection_opt_in(user=consumer, premise=p, now=OPTED + timedelta(days=1))
    assert exc.value.fields == {"premise": ["Already opted in."]}


def test_a_top_up_twice_for_the_same_month_is_refused_and_pays_once():
    w, p, consumer, admin = _march()
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    bill_protection_pool_fund(user=admin, amount=D("100.00"), reference="wire-1")
    first = bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)
    with pytest.raises(Conflict):
        bill_protection_month_settle(premise_id=p.pk, month=date(2026, 3, 17), now=AFTER)
    assert BillProtectionMonth.objects.get() == first
    assert SettlementItem.objects.filter(kind="bill_protection").count() == 1
    assert JournalEntry.objects.filter(business_key__startswith="bill_protection:month:").count() == 1
    assert pool_balance() == D("100.00") - first.topup


def test_other_refusals_change_nothing():
    w, p, consumer, admin = _march()
    other = user_create(email="c1@example.com", password="pw-12345678", organisation=w.consumers[1])
    auditor_org = Organisation.objects.create(name="Audit", kind=Organisation.Kind.PLATFORM)
    auditor = user_create(
        email="aud@example.com", password="pw-12345678", organisation=auditor_org, role=Membership.Role.AUDITOR
    )
    with pytest.raises(NotPermitted):
        bill_protection_opt_in(user=other, premise=p, now=OPTED)  # not their premise
    with pytest.raises(NotPermitted):
        bill_protection_opt_in(user=auditor, premise=p, now=OPTED)
    with pytest.raises(NotPermitted):
        bill_protection_pool_fund(user=consumer, amount=D("10"), reference="x")
    with pytest.raises(ApplicationError) as exc:
        premise_tariff_set(
            user=consumer,
            premise=p,
            kind="tou",
            rate="0.10",
            periods=[{"from": "16:00", "to": "21:00", "rate": "0.4"}, {"from": "20:00", "to": "22:00", "rate": "0.5"}],
        )
    assert list(exc.value.fields) == ["periods.1.from"]
    with pytest.raises(ApplicationError) as exc:
        premise_tariff_set(user=consumer, premise=p, kind="flat", rate="20")  # cents typed as units
    assert list(exc.value.fields) == ["rate"]
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    with pytest.raises(ApplicationError) as exc:  # no tariff for the month
        bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)
    assert list(exc.value.fields) == ["tariff"]
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    with pytest.raises(ApplicationError) as exc:  # February is before the cover
        bill_protection_month_settle(premise_id=p.pk, month=date(2026, 2, 1), now=AFTER)
    assert list(exc.value.fields) == ["month"]
    with pytest.raises(ApplicationError):  # March not over + 3 days
        bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=datetime(2026, 4, 2, tzinfo=UTC))
    with pytest.raises(InsufficientBalance):  # an unfunded pool pays nothing and stores nothing
        bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)
    assert not BillProtectionMonth.objects.exists()
    assert not SettlementItem.objects.filter(kind="bill_protection").exists()
    bill_protection_pool_fund(user=admin, amount=D("1.00"), reference="wire-1")
    with pytest.raises(InsufficientBalance):  # 2.60 is due; the pool holds 1.00
        bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)
    assert pool_balance() == D("1.00") and not BillProtectionMonth.objects.exists()


# --- hand-computed months ----------------------------------------------------------------------------------


def test_flat_tariff_month_hand_computed():
    """Flat 0.20/kWh. Metered 92 x 0.5 = 46 kWh -> 9.20; baseline load 46 + 4 x (2 - 0) = 54 kWh -> 10.80.
    With = 9.20 - 0.80 payment + 5.00 penalty = 13.40; top-up = 13.40 - 10.80 = 2.60."""
    w, p, consumer, admin = _march()
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    c = bill_protection_compute(premise=p, month=MARCH)
    assert (c.metered_kwh, c.baseline_kwh, c.intervals) == (D("46"), D("54"), 96)
    assert (c.energy_with, c.energy_without) == (D("9.20"), D("10.80"))
    assert (c.payments, c.penalties) == (D("0.80"), D("-5.00"))
    assert (c.bill_with, c.topup) == (D("13.40"), D("2.60"))
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    bill_protection_pool_fund(user=admin, amount=D("10.00"), reference="wire-1")
    m = bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)
    assert m.topup == D("2.60") and m.item.amount == D("2.60") and m.item.payee == w.consumers[0]
    assert m.tariffs == [{"valid_from": "2026-03-01", "kind": "flat", "rate": "0.20000", "periods": []}]
    assert pool_balance() == D("7.40")
    # the computation is on the month's statement
    statement = statement_build(organisation=w.consumers[0], year=2026, month=3)
    assert (
        "# bill_protection P0,metered_kwh 46.0000,baseline_kwh 54.0000,energy_with 9.20,payments 0.80,"
        "penalties -5.00,bill_with 13.40,bill_without 10.80,topup 2.60" in statement_csv(statement)
    )
    assert b"Bill protection P0: with = tariff x 46.0000 kWh metered 9.20 - payments 0.80 + penalties 5.00 = 13.40" in (
        statement_pdf(statement)
    )
    assert balance_of(organisation=w.consumers[0], kind="participant", asset="USD") == D("0.80") - D("0.80") + D("2.60")


def test_no_top_up_when_participating_paid():
    """Penalty 0.30 instead: with = 9.20 - 0.80 + 0.30 = 8.70 < 10.80 -> no top-up, the month is still recorded."""
    w, p, consumer, admin = _march(penalty="0.30")
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    m = bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)  # the empty pool is not asked
    assert (m.bill_with, m.energy_without, m.topup, m.item) == (D("8.70"), D("10.80"), D("0"), None)


def test_time_of_use_in_local_time_and_local_month():
    """Europe/Berlin (UTC+1 in early March): peak 11:00-12:00 local on weekdays at 0.40, base 0.10. The event
    (10:00-11:00 UTC) falls in the peak. Plus 1 kWh at 23:45 UTC on 28 Feb (00:45 local on 1 March: counted) and
    1 kWh at 22:30 UTC on 31 March (00:30 on 1 April, CEST: not counted).
    With: 47 kWh at base = 4.70 (the peak quarter-hours metered 0); without: 4.70 + 8 kWh x 0.40 = 7.90.
    Bill with = 4.70 - 0.80 + 5.00 = 8.90; top-up = 1.00."""
    w, p, consumer, admin = _march("Europe/Berlin")
    meter = p.meters.get()
    MeterReading.objects.create(meter=meter, start=datetime(2026, 2, 28, 23, 45, tzinfo=UTC), kwh=D("1"))
    MeterReading.objects.create(meter=meter, start=datetime(2026, 3, 31, 22, 30, tzinfo=UTC), kwh=D("1"))
    premise_tariff_set(
        user=consumer,
        premise=p,
        kind="tou",
        rate="0.10",
        periods=[{"days": "weekdays", "from": "11:00", "to": "12:00", "rate": "0.40"}],
        valid_from=MARCH,
    )
    c = bill_protection_compute(premise=p, month=MARCH)
    assert (c.metered_kwh, c.energy_with, c.energy_without) == (D("47"), D("4.70"), D("7.90"))
    assert (c.bill_with, c.topup) == (D("8.90"), D("1.00"))


def test_a_tariff_change_mid_month_applies_from_its_day():
    """0.20 until 1 March, 0.30 from 2 March (the day of all the readings): with 46 x 0.30 = 13.80, without
    54 x 0.30 = 16.20; bill with 13.80 - 0.80 + 5.00 = 18.00; top-up 1.80. A tariff inside a settled month is refused."""
    w, p, consumer, admin = _march()
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.30", valid_from=date(2026, 3, 2))
    c = bill_protection_compute(premise=p, month=MARCH)
    assert (c.energy_with, c.energy_without, c.topup) == (D("13.80"), D("16.20"), D("1.80"))
    assert [t["rate"] for t in c.tariffs] == ["0.20000", "0.30000"]
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    bill_protection_pool_fund(user=admin, amount=D("5.00"), reference="wire-1")
    bill_protection_month_settle(premise_id=p.pk, month=MARCH, now=AFTER)
    with pytest.raises(ApplicationError) as exc:
        premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.50", valid_from=date(2026, 3, 20))
    assert list(exc.value.fields) == ["valid_from"]


def test_daily_task_settles_each_premise_month_once():
    from settlement.tasks import settle_bill_protection

    w, p, consumer, admin = _march()
    premise_tariff_set(user=consumer, premise=p, kind="flat", rate="0.20", valid_from=MARCH)
    bill_protection_opt_in(user=consumer, premise=p, now=OPTED)
    bill_protection_pool_fund(user=admin, amount=D("10.00"), reference="wire-1")
    assert bill_protection_settle_due(now=datetime(2026, 4, 2, tzinfo=UTC)) == {
        "settled": 0,
        "skipped": 0,
        "refused": 0,
    }
    first = settle_bill_protection.delay().get()
    months = BillProtectionMonth.objects.filter(premise=p).count()
    assert first["settled"] == months >= 1  # March and every later month that is over
    assert settle_bill_protection.delay().get() == {"settled": 0, "skipped": 0, "refused": 0}
    assert SettlementItem.objects.filter(kind="bill_protection").count() == 1  # only March had a top-up
    assert pool_balance() == D("7.40")


def test_tariff_rate_lookup_pure():
    t = tariffs.tariff_parse(
        kind="tou", rate="0.1", periods=[{"days": "weekends", "from": "00:00", "to": "24:00", "rate": "0.05"}]
    )
    assert t.rate_at(datetime(2026, 3, 7, 12)) == D("0.05")  # Saturday
    assert t.rate_at(datetime(2026, 3, 9, 12)) == D("0.1")  # Monday
    with pytest.raises(tariffs.TariffInvalid) as exc:
        tariffs.tariff_parse(kind="flat", rate="0.1", periods=[{"from": "01:00", "to": "02:00", "rate": "0.2"}])
    assert exc.value.field == "periods"
    with pytest.raises(tariffs.TariffInvalid) as exc:
        tariffs.tariff_parse(kind="tou", rate="0.1", periods=[{"from": "25:00", "to": "02:00", "rate": "0.2"}])
    assert exc.value.field == "periods.0.from"
