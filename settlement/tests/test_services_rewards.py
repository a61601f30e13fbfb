"""Fiat availability rewards from the reward pool (funded by platform fees), pro rata when the pool is short."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from settlement.models import LedgerAccount, RewardShortfall, SettlementItem
from settlement.selectors import balances_match_postings, ledger_is_balanced
from settlement.services.ledger import InsufficientBalance, balance_of, journal_post, platform_account
from settlement.services.rewards import reward_pool_funding
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, contract_make, event_make, parameter_govern, readings_make, world_make

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind
STAMP = DAY.date().isoformat()


def _world(*, price):
    """Two contracts: premise 0 metered all day (24 ready hours), premise 1 missing its last 6 quarter-hours
    (22 ready hours). One event of 10 kWh at ``price`` on premise 0 pays the day's platform fee (2 %)."""
    w = world_make(n=2)
    readings_make(w.premises[0], day=DAY)
    readings_make(w.premises[1], day=DAY, missing=6)
    contracts = [contract_make(w, p.organisation, premise=p) for p in w.premises]
    event_make(
        w, w.premises[0], start=DAY + timedelta(hours=8), price=price, target_kw=D("10"), delivered=[D("2.5")] * 4
    )
    return w, contracts


def _run():
    return settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)


def _reward(c):
    return SettlementItem.objects.filter(business_key=f"availability_reward:contract:{c.pk}:day:{STAMP}").first()


def test_rewards_paid_in_full_from_a_funded_pool_with_tokens_as_before():
    # performance 10 kWh x 100,000 / 1000 = 1,000.00; fee 2 % = 20.00; staking pool 50 % = 10.00;
    # reward pool 25 % = 5.00
    w, (c0, c1) = _world(price=D("100000"))
    _run()
    # 24 h x 0.05 = 1.20 and 22 h x 0.05 = 1.10, in USD, to each contract's participant
    assert (_reward(c0).amount, _reward(c1).amount) == (D("1.20"), D("1.10"))
    assert _reward(c0).currency == "USD" and _reward(c0).payee == w.consumers[0] and _reward(c0).quantity_kwh == 24
    avl = SettlementItem.objects.get(business_key=f"availability:contract:{c1.pk}:day:{STAMP}")
    assert avl.amount == D("22.00") and avl.currency == "FLEX-AVL"  # the tokens, as before
    # the pool keeps 5.00 - 2.30 = 2.70 for later days; the fees account 20.00 - 10.00 - 5.00
    assert balance_of(organisation=None, kind=K.REWARD_POOL, asset="USD") == D("2.70")
    assert balance_of(organisation=None, kind=K.FEES, asset="USD") == D("5.00")
    assert not RewardShortfall.objects.exists()
    assert _run().last_attempt_items == 0  # paid once
    assert ledger_is_balanced() and balances_match_postings()


def test_short_pool_pays_pro_rata_and_records_the_shortfall():
    # performance 10 kWh x 1000 / 1000 = 10.00; fee 0.20; staking 0.10; reward pool 25 % = 0.05
    w, (c0, c1) = _world(price=D("1000"))
    _run()
    # owed 1.20 + 1.10 = 2.30 > 0.05 in the pool: 5 cents split 1.20 : 1.10 -> 2.6087 and 2.3913 cents, floors
    # 2 + 2, the cent left to the larger fraction (contract 0): 0.03 and 0.02; the pool is emptied, never negative
    assert (_reward(c0).amount, _reward(c1).amount) == (D("0.03"), D("0.02"))
    assert balance_of(organisation=None, kind=K.REWARD_POOL, asset="USD") == D("0.00")
    short = {s.contract_id: s for s in RewardShortfall.objects.all()}
    assert (short[c0.pk].owed, short[c0.pk].paid, short[c0.pk].shortfall) == (D("1.20"), D("0.03"), D("1.17"))
    assert (short[c1.pk].owed, short[c1.pk].paid, short[c1.pk].shortfall) == (D("1.10"), D("0.02"), D("1.08"))
    assert short[c0.pk].pool_balance == D("0.05") and short[c0.pk].organisation == w.consumers[0]
    assert "pro rata" in _reward(c0).memo
    # a re-run finds the day paid: nothing more, no second shortfall
    _run()
    assert (
        RewardShortfall.objects.count() == 2 and SettlementItem.objects.filter(kind="availability_reward").count() == 2
    )
    # the pool's account kind forbids going negative
    pool = platform_account(K.REWARD_POOL, "USD")
    with pytest.raises(InsufficientBalance):
        journal_post(
            business_key="overdraw",
            memo="x",
            legs=[(pool, D("-0.01")), (platform_account(K.TREASURY, "USD"), D("0.01"))],
        )
    assert ledger_is_balanced() and balances_match_postings()


def test_empty_pool_records_every_reward_as_shortfall():
    w = world_make(n=1)
    readings_make(w.premises[0], day=DAY)
    c = contract_make(w, w.consumers[0], premise=w.premises[0])
    _run()  # no events: no fees, nothing in the pool
    assert _reward(c) is None
    s = RewardShortfall.objects.get()
    assert (s.owed, s.paid, s.shortfall, s.contract_id) == (D("1.20"), D("0.00"), D("1.20"), c.pk)


def test_pool_funding_never_exceeds_what_the_staking_share_leaves():
    # 0.01 of fees: staking 50 % = 0.005 -> 0.01 half-up, which leaves nothing for the reward pool
    assert reward_pool_funding(fees=D("0.01"), reward_pct=D("25"), staking_pct=D("50")) == D("0")
    # 0.03: staking 0.015 -> 0.02, reward 25 % = 0.0075 -> 0.01 = the 0.01 left
    assert reward_pool_funding(fees=D("0.03"), reward_pct=D("25"), staking_pct=D("50")) == D("0.01")
    assert reward_pool_funding(fees=D("10.00"), reward_pct=D("80"), staking_pct=D("50")) == D("5.00")


def test_governed_fee_and_reward_rate_apply_from_the_next_run_only():
    w = world_make(n=2)
    c = contract_make(w, w.consumers[0], premise=w.premises[0])
    for d in (0, 1):
        readings_make(w.premises[0], day=DAY + timedelta(days=d))
        # 10 kWh x 1000 / 1000 = 10.00 a day, on the other consumer's premise
        event_make(
            w, w.premises[1], start=DAY + timedelta(days=d, hours=8), price=D("1000"), target_kw=D("10"),
            delivered=[D("2.5")] * 4,
        )  # fmt: skip
    _run()  # day 1: fee 2 % = 0.20; reward 24 h x 0.05 = 1.20 owed
    parameter_govern(w.consumers[1], "platform_fee_pct", D("5"), now=DAY + timedelta(days=1))
    parameter_govern(w.consumers[1], "availability_reward_per_hour", D("0.10"), now=DAY + timedelta(days=1))
    settlement_run_execute(window_start=DAY + timedelta(days=1), window_end=DAY + timedelta(days=2), now=NOW)
    fees = dict(SettlementItem.objects.filter(kind="platform_fee").values_list("delivery_start__date", "amount"))
    # day 2: 5 % of 10.00 = 0.50; day 1 stays 0.20
    assert fees == {DAY.date(): D("-0.20"), (DAY + timedelta(days=1)).date(): D("-0.50")}
    owed = dict(RewardShortfall.objects.filter(contract=c).values_list("day", "owed"))
    # day 2: 24 h x 0.10 = 2.40 owed; day 1: 1.20 (both short: the pools got 0.05 and 25 % of 0.50 = 0.125 -> 0.13)
    assert owed == {DAY.date(): D("1.20"), (DAY + timedelta(days=1)).date(): D("2.40")}
    paid = dict(SettlementItem.objects.filter(kind="availability_reward").values_list("delivery_start__date", "amount"))
    assert paid == {DAY.date(): D("0.05"), (DAY + timedelta(days=1)).date(): D("0.13")}
