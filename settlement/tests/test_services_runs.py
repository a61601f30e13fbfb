"""Settlement runs, per payment kind, with hand-computed numbers (rounding included)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from settlement import assets
from settlement.models import AggregatorAgreement, LedgerAccount, SettlementItem, SettlementRun
from settlement.selectors import balances_match_postings, ledger_is_balanced
from settlement.services.ledger import balance_of
from settlement.services.runs import InvalidWindow, settlement_run_execute
from settlement.services.staking import stake_lock

from .factories import DAY, NOW, contract_make, event_make, readings_make, tokens_grant, world_make

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind


def _run(start=DAY, end=DAY + timedelta(days=1), now=NOW):
    return settlement_run_execute(window_start=start, window_end=end, now=now)


def _item(key):
    return SettlementItem.objects.get(business_key=key)


def test_performance_per_interval_rounded_once_half_up_and_platform_fee():
    w = world_make(n=1)
    # 4 intervals: 0.3333 + 0.3333 + 0.3334 + 0.5000 = 1.5000 kWh at 123.45/MWh = 0.185175 -> 0.19 (half-up)
    e = event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=17),
        price=D("123.45"),
        target_kw=D("2"),
        delivered=[D("0.3333"), D("0.3333"), D("0.3334"), D("0.5000")],
    )
    run = _run()
    perf = _item(f"performance:event:{e.pk}")
    assert perf.amount == D("0.19") and perf.quantity_kwh == D("1.5000") and perf.payee == w.consumers[0]
    # platform fee 2 % of 0.19 = 0.0038 -> 0.00: no fee item; the operator owes exactly the payment
    assert not SettlementItem.objects.filter(kind="platform_fee").exists()
    assert balance_of(organisation=w.operator, kind=K.OPERATOR_PAYABLE, asset="USD") == D("-0.19")
    # commitment 2 kW x 1 h = 2 kWh; delivered 1.5: no bonus, no performance tokens
    assert not SettlementItem.objects.filter(kind__in=["over_delivery", "performance_token"]).exists()
    # no load-shifting device and no rebound: a curtailment, nothing shifted, no energy credit;
    # governance 1.5 / 10 = 0.15 FLEX-GOV
    assert not SettlementItem.objects.filter(kind__in=["energy_credit", "shift_credit"]).exists()
    assert _item(f"governance_token:event:{e.pk}").amount == D("0.15")
    assert run.status == SettlementRun.Status.COMPLETED and run.attempts == 1
    assert ledger_is_balanced() and balances_match_postings()


def test_over_delivery_bonus_capped_and_performance_tokens_and_fee():
    w = world_make(n=1)
    # commitment 4 kW x 1 h = 4 kWh; delivered 4 x 1.3 = 5.2 kWh; excess 1.2 capped at 20 % x 4 = 0.8 kWh
    e = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=10), price=D("200.00"), target_kw=D("4"), delivered=[D("1.3")] * 4
    )
    _run()
    # performance-2 pays energy up to the dispatched 4 kWh: 4 x 200 / 1000 = 0.80 (5.2 kWh would be 1.04)
    perf = _item(f"performance:event:{e.pk}")
    assert perf.amount == D("0.80") and perf.quantity_kwh == D("4.0000")
    assert "5.2000 kWh delivered, capped at the dispatched 4.0000 kWh" in perf.memo
    # bonus 0.8 kWh x 200 / 1000 x 0.10 = 0.016 -> 0.02
    assert _item(f"over_delivery:event:{e.pk}").amount == D("0.02")
    assert _item(f"performance_token:event:{e.pk}").amount == D("0.80")
    fee = _item(f"platform_fee:event:{e.pk}")  # 2 % of 0.80 = 0.016 -> 0.02, charged to the operator
    assert fee.amount == D("-0.02") and fee.payee == w.operator
    # half of the day's fees goes to the staking pool (nobody staked: it waits there); the reward pool's 25 %
    # of 0.02 = 0.005 -> 0.01 half-up, which is all the staking share leaves: the fees account keeps 0.00
    assert balance_of(organisation=None, kind=K.FEES, asset="USD") == D("0.00")
    assert balance_of(organisation=None, kind=K.STAKING_POOL, asset="USD") == D("0.01")
    assert balance_of(organisation=None, kind=K.REWARD_POOL, asset="USD") == D("0.01")
    assert balance_of(organisation=w.operator, kind=K.OPERATOR_PAYABLE, asset="USD") == D("-0.84")  # 0.80+0.02+0.02
    assert balance_of(organisation=w.consumers[0], kind=K.PARTICIPANT, asset=assets.PERFORMANCE) == D("0.80")


def test_capacity_payment_availability_factor_and_tokens():
    w = world_make(n=1)
    readings_make(w.premises[0], day=DAY, missing=6)  # 90 of 96 intervals; hours 22 and 23 incomplete
    c = contract_make(w, w.consumers[0], premise=w.premises[0], kw="10", rate="0.35")
    _run()
    stamp = DAY.date().isoformat()
    # 10 kW x 90/96 x 0.35 /kW-day = 3.28125 -> 3.28
    assert _item(f"capacity:contract:{c.pk}:day:{stamp}").amount == D("3.28")
    assert _item(f"capacity_token:contract:{c.pk}:day:{stamp}").amount == D("9.37")  # 9.375 rounded down
    assert _item(f"availability:contract:{c.pk}:day:{stamp}").amount == D("22.00")  # 22 fully metered hours


def test_aggregator_fee_and_member_split_by_largest_remainder():
    w = world_make(n=3, aggregator_members=3)
    AggregatorAgreement.objects.create(aggregator=w.aggregator, fee_percent=D("15"))
    for p in w.premises:
        readings_make(p, day=DAY)
    # contributions 1, 1, 1 kWh (events on the day)
    for p in w.premises:
        event_make(w, p, start=DAY + timedelta(hours=18), price=D("100"), target_kw=D("1"), delivered=[D("0.25")] * 4)
    c = contract_make(w, w.aggregator, kw="10", rate="1.0")  # 10 kW x 1.0 x 1.0 = 10.00
    _run()
    stamp = DAY.date().isoformat()
    # fee 15 % = 1.50; rest 8.50 over three equal members: 2.8333.. each -> 2.83, 2.83, 2.83, 1 cent left ->
    # largest remainder, tie broken by lower organisation id: 2.84, 2.83, 2.83.
    assert _item(f"aggregator_fee:contract:{c.pk}:day:{stamp}").amount == D("1.50")
    shares = [_item(f"member_share:contract:{c.pk}:day:{stamp}:org:{o.pk}").amount for o in w.consumers]
    assert shares == [D("2.84"), D("2.83"), D("2.83")]
    assert balance_of(organisation=w.operator, kind=K.OPERATOR_PAYABLE, asset="USD") <= D("-10.00")


def test_bill_protection_makes_whole():
    w = world_make(n=1)
    # baseline 2 kWh x 4; delivered 0.1 each: actual 7.6 kWh, earnings 0.4 kWh x 50 / 1000 = 0.02
    # with: 7.6 x 0.30 - 0.02 = 2.26; without: 8 x 0.30 = 2.40 -> participating saved money: no top-up
    e = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=9), price=D("50"), target_kw=D("1"), delivered=[D("0.1")] * 4
    )
    contract_make(w, w.consumers[0], premise=w.premises[0], bill_protection=True, tariff_per_kwh=D("0.30"))
    from settlement.services.penalties import penalty_settle

    # a penalty of 0.75 makes the bill with participation 2.26 + 0.75 = 3.01 > 2.40: top-up 0.61
    penalty_settle(event_id=e.pk, payee=w.consumers[0], amount=D("0.75"), reason="shortfall", business_key=f"ev{e.pk}")
    _run()
    assert _item(f"bill_protection:event:{e.pk}").amount == D("0.61")


def test_rerun_pays_nothing_twice_and_counts_attempts():
    w = world_make(n=2)
    for p in w.premises:
        readings_make(p, day=DAY)
        contract_make(w, p.organisation, premise=p)
        event_make(w, p, start=DAY + timedelta(hours=12), price=D("99.99"), target_kw=D("1"), delivered=[D("0.4")] * 4)
    first = _run()
    n, balances = SettlementItem.objects.count(), list(LedgerAccount.objects.values_list("pk", "balance"))
    again = _run()
    assert again.pk == first.pk and again.attempts == 2 and again.last_attempt_items == 0
    assert SettlementItem.objects.count() == n == first.items_created
    assert list(LedgerAccount.objects.values_list("pk", "balance")) == balances
    # an overlapping on-demand window pays nothing more either
    _run(start=DAY + timedelta(hours=11), end=DAY + timedelta(hours=13, minutes=5))
    assert SettlementItem.objects.count() == n


def test_staking_rewards_pro_rata_stake_times_time():
    w = world_make(n=3)
    for i, org in enumerate(w.consumers[:2]):
        tokens_grant(org, assets.GOVERNANCE, D("100"), f"g{i}")
    # A stakes 100 for the whole day, B stakes 100 for half the day (from 12:00)
    stake_lock(
        organisation=w.consumers[0],
        asset=assets.GOVERNANCE,
        amount=D("100"),
        locked_until=DAY + timedelta(days=5),
        business_key="a",
        now=DAY - timedelta(hours=1),
    )
    stake_lock(
        organisation=w.consumers[1],
        asset=assets.GOVERNANCE,
        amount=D("100"),
        locked_until=DAY + timedelta(days=5),
        business_key="b",
        now=DAY + timedelta(hours=12),
    )
    # fees of the day: performance 500 kWh... 10 kWh x 1000/MWh = 10.00 -> fee 0.20; half to stakers = 0.10
    event_make(
        w, w.premises[2], start=DAY + timedelta(hours=8), price=D("1000"), target_kw=D("10"), delivered=[D("2.5")] * 4
    )
    _run()
    stamp = DAY.date().isoformat()
    a = _item(f"staking_reward:day:{stamp}:org:{w.consumers[0].pk}").amount
    b = _item(f"staking_reward:day:{stamp}:org:{w.consumers[1].pk}").amount
    # weights 100 x 86400 : 100 x 43200 = 2 : 1 -> 0.0666.. and 0.0333.. -> 0.06 + 0.03, 1 cent to A (larger rest)
    assert (a, b) == (D("0.07"), D("0.03"))
    # the reward pool takes 25 % of 0.20 = 0.05; the fees account keeps 0.20 - 0.10 - 0.05
    assert balance_of(organisation=None, kind=K.FEES, asset="USD") == D("0.05")
    assert balance_of(organisation=None, kind=K.STAKING_POOL, asset="USD") == D("0")


def test_staking_pool_carries_over_days_without_stakers():
    w = world_make(n=2)
    event_make(
        w, w.premises[1], start=DAY + timedelta(hours=8), price=D("1000"), target_kw=D("10"), delivered=[D("2.5")] * 4
    )
    _run()  # fee 0.20, pool 0.10, nobody staked: it stays in the pool
    assert balance_of(organisation=None, kind=K.STAKING_POOL, asset="USD") == D("0.10")
    tokens_grant(w.consumers[0], assets.GOVERNANCE, D("5"), "g")
    stake_lock(
        organisation=w.consumers[0],
        asset=assets.GOVERNANCE,
        amount=D("5"),
        locked_until=DAY + timedelta(days=9),
        business_key="late",
        now=DAY + timedelta(days=1),
    )
    event_make(
        w,
        w.premises[1],
        start=DAY + timedelta(days=1, hours=8),
        price=D("1000"),
        target_kw=D("20"),  # dispatched 20 kWh: all 20 delivered are paid
        delivered=[D("5")] * 4,
    )
    _run(start=DAY + timedelta(days=1), end=DAY + timedelta(days=2))  # fee 0.40, pool 0.20 + 0.10 carried
    assert _item(f"staking_reward:day:{(DAY + timedelta(days=1)).date()}:org:{w.consumers[0].pk}").amount == D("0.30")
    assert balance_of(organisation=None, kind=K.STAKING_POOL, asset="USD") == D("0")


def test_invalid_windows_refused():
    with pytest.raises(InvalidWindow):
        _run(start=DAY, end=DAY)
    with pytest.raises(InvalidWindow):
        _run(start=DAY + timedelta(minutes=3))
    with pytest.raises(InvalidWindow):
        _run(end=NOW + timedelta(days=1))
    assert not SettlementRun.objects.exists()
