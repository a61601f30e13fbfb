"""Tokens from market outcomes (ADR 0024, ``settlement.services.token_rules``), with hand-computed numbers;
the refusals first. Reservations mint Capacity tokens per kW-hour held and Availability tokens per hour of
honoured readiness; events mint Energy tokens per delivered kWh paid; a reservation sold through a portfolio
splits its availability payment by the member's terms (share of revenue + fee per kW-month)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from activation import services as activation
from activation.models import Program
from activation.tests.factories import verification_make
from market.models import Award, ClearingRun
from settlement.models import SettlementItem
from settlement.selectors import balances_match_postings, ledger_is_balanced
from settlement.services import token_rules
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, readings_make
from .test_services_splits import _consent, _portfolio

STAMP = DAY.date().isoformat()
H = timedelta(hours=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reserved_kw": D("-1"), "hours": D("1"), "availability_factor": D("1")},
        {"reserved_kw": D("1"), "hours": D("-1"), "availability_factor": D("1")},
        {"reserved_kw": D("1"), "hours": D("1"), "availability_factor": D("1.01")},
    ],
)
def test_capacity_tokens_refuse_negative_inputs_and_a_factor_above_one(kwargs):
    with pytest.raises(ValueError):
        token_rules.capacity_tokens(**kwargs)


def test_honoured_hours_refuse_a_reversed_window():
    with pytest.raises(ValueError):
        token_rules.honoured_hours(window_start=DAY + H, window_end=DAY, ready_hours=[])


def test_rules_by_hand():
    # 25 kW x 2 h x 90/96 = 46.875 -> 46.87 (rounded down)
    assert token_rules.capacity_tokens(reserved_kw=D("25"), hours=D("2"), availability_factor=D("0.9375")) == D("46.87")
    # 17:00-19:30: hours 17 and 18 whole (19:00-19:30 is not a whole hour); 18 not fully metered -> 1
    ready = [DAY + 17 * H, DAY + 19 * H]
    assert token_rules.honoured_hours(
        window_start=DAY + 17 * H, window_end=DAY + 19 * H + timedelta(minutes=30), ready_hours=ready
    ) == [DAY + 17 * H]
    # a call 17:45-18:15 the resource failed voids hours 17 and 18
    ready = [DAY + 17 * H, DAY + 18 * H]
    failed = [(DAY + 17 * H + timedelta(minutes=45), DAY + 18 * H + timedelta(minutes=15))]
    assert (
        token_rules.honoured_hours(
            window_start=DAY + 17 * H, window_end=DAY + 19 * H, ready_hours=ready, failed_calls=failed
        )
        == []
    )
    assert token_rules.energy_tokens(paid_kwh=D("8.1234")) == D("8.12")
    assert token_rules.energy_tokens(paid_kwh=D("-3")) == D("0.00")
    assert token_rules.performance_tokens(excess_kwh=D("1.239")) == D("1.23")
    assert token_rules.governance_tokens(delivered_kwh=D("8.1234")) == D("0.81")


def _reservation(w, premise, *, seller, kw="25", price="31.00"):
    Program.objects.filter(pk=activation.market_program().pk).update(energy_rate_per_mwh=D("180.00"))
    run = ClearingRun.objects.create(rule_version="t", awarded_kw=D(kw), inputs={}, outputs={}, cleared_at=DAY)
    award = Award.objects.create(
        clearing_run=run,
        premise=premise,
        seller=seller,
        buyer=w.operator,
        market="day_ahead",
        product="capacity",
        kw=D(kw),
        clearing_price_per_mwh=D(price),
        window_start=DAY + 17 * H,
        window_end=DAY + 19 * H,
    )
    return activation.award_activate(award_id=award.pk)


def _item(key):
    return SettlementItem.objects.get(business_key=key)


def _run():
    return settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)


@pytest.mark.django_db
def test_portfolio_reservation_mints_capacity_and_availability_tokens_and_splits_its_payment_once():
    from accounts.terms import commercial_terms_publish

    w = _portfolio(tag="r")
    terms = commercial_terms_publish(
        aggregator=w.aggregator,
        by=w.agg_user,
        revenue_share_pct="20",
        fee_per_kw_month="1.46",
        member_penalty_pct="0",
    )
    _consent(w, terms)
    p = w.premises[0]
    readings_make(p, day=DAY, missing=6)  # 90 of 96 intervals; 22:30-24:00 missing, 17:00-19:00 fully metered
    r = _reservation(w, p, seller=w.aggregator)
    start = DAY + 17 * H + timedelta(minutes=30)
    event = activation.reservation_call(
        reservation_id=r.pk, user=w.op_user, target_kw=D("20"), start=start, end=start + timedelta(minutes=30), now=DAY
    )
    verification_make(event, [D("4.1234"), D("4.0")], available=True)
    _run()
    member = w.consumers[0]
    # Capacity tokens: 25 kW x 2 h x 0.9375 = 46.875 -> 46.87, to the resource's owner
    cap = _item(f"capacity_token:reservation:{r.pk}:day:{STAMP}")
    assert (cap.payee, cap.amount, cap.currency, cap.quantity_kwh) == (member, D("46.87"), "FLEX-CAP", D("50.0000"))
    assert "availability 0.9375" in cap.memo
    # Availability tokens: hours 17 and 18 fully metered, the call at 17:30 honoured -> 2
    avl = _item(f"availability:reservation:{r.pk}:day:{STAMP}")
    assert (avl.payee, avl.amount, avl.currency) == (member, D("2.00"), "FLEX-AVL")
    # availability payment 25 x 2 x 0.9375 x 31.00 / 1000 = 1.453125 -> 1.45, split:
    # fee 20 % x 1.45 + 1.46 x 25 kW x 2 h / 730 = 0.29 + 0.10 = 0.39; member 1.06
    key = f"reservation:{r.pk}:day:{STAMP}"
    assert _item(f"aggregator_fee:{key}").amount == D("0.39")
    assert (_item(f"member_share:{key}").payee, _item(f"member_share:{key}").amount) == (member, D("1.06"))
    assert not SettlementItem.objects.filter(business_key__startswith="availability_payment:").exists()
    # the call's energy: 8.1234 kWh x 180 / 1000 = 1.462212 -> 1.46; fee 20 % = 0.292 -> 0.29; member 1.17
    assert _item(f"aggregator_fee:event:{event.pk}").amount == D("0.29")
    assert _item(f"member_share:event:{event.pk}").amount == D("1.17")
    assert _item(f"energy_token:event:{event.pk}").amount == D("8.12")
    assert balances_match_postings() and ledger_is_balanced()
    n = SettlementItem.objects.count()
    assert _run().last_attempt_items == 0 and SettlementItem.objects.count() == n


@pytest.mark.django_db
def test_a_failed_call_voids_its_hours_of_readiness_and_the_capacity_held():
    w = _portfolio(tag="q")
    p = w.premises[1]  # sold by its owner: no split
    readings_make(p, day=DAY)
    r = _reservation(w, p, seller=p.organisation, kw="10", price="20.00")
    start = DAY + 18 * H
    event = activation.reservation_call(
        reservation_id=r.pk, user=w.op_user, target_kw=D("10"), start=start, end=start + timedelta(minutes=15), now=DAY
    )
    verification_make(event, [D("1.0")], available=False)
    _run()
    # factor 96/96 x 0/1 calls available = 0: no capacity tokens, no availability payment; hour 17 still honoured
    assert not SettlementItem.objects.filter(kind="capacity_token").exists()
    assert _item(f"availability:reservation:{r.pk}:day:{STAMP}").amount == D("1.00")
    assert _item(f"energy_token:event:{event.pk}").amount == D("1.00")
