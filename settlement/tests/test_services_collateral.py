"""Collateral that backs orders and awards (ADR 0025), with hand-computed numbers; the refusals first.

The world: a business owns premises 3 and 4 (80 kW accredited each around the market day), both qualified for
spinning reserve (a premium market: ``collateral_per_kw_premium`` = 1 FLEX per kW by default), and stakes
120 FLEX until two days after the delivery day.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from accounts import services as accounts_services
from accounts.models import GridZone
from activation import services as activation
from activation.models import Reservation
from activation.tests.factories import verification_make
from flexplatform.errors import ApplicationError
from market.hooks import collateral_position
from market.models import Award, MarketOrder
from market.services.orders import order_submit
from market.services.parameters import market_parameter_set
from market.tests.conftest import MarketWorld
from market.tests.factories import DAY, accredit_day, one_owner, qualify
from settlement import assets
from settlement.models import JournalEntry, LedgerAccount, SettlementItem, Stake
from settlement.models_collateral import CollateralSettlement, CollateralSlash
from settlement.selectors import ledger_is_balanced
from settlement.services.collateral import (
    CollateralError,
    CollateralUnsettled,
    collateral_award_settle,
    collateral_slash,
)
from settlement.services.ledger import account_for, journal_post, platform_account
from settlement.services.runs import settlement_run_execute
from settlement.services.staking import StakeError, stake_lock, stake_release

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind
S = DAY + timedelta(hours=17)
E = S + timedelta(minutes=15)
UNTIL = DAY + timedelta(days=2)


@pytest.fixture
def mw(small_world):
    """The market's world (``market.tests.conftest.mw``): each premise accredited 80 kW around DAY."""
    accredit_day(small_world.premises, 80)
    return MarketWorld(
        world=small_world,
        iso=GridZone.objects.get(code="iso-east"),
        sub1=GridZone.objects.get(code="sub-east-1"),
        now=DAY - timedelta(days=1),
    )


def _stake(org, amount, key="s1"):
    """Grant ``amount`` Governance tokens and stake them until two days after the delivery day."""
    journal_post(
        business_key=f"test-grant:{key}",
        memo="granted for the test",
        legs=[
            (platform_account(K.TREASURY, assets.GOVERNANCE), -D(amount)),
            (account_for(organisation=org, kind=K.PARTICIPANT, asset=assets.GOVERNANCE), D(amount)),
        ],
    )
    return stake_lock(organisation=org, asset=assets.GOVERNANCE, amount=D(amount), locked_until=UNTIL, business_key=key)


def _seller(mw, stake="120"):
    org, (p3, p4) = one_owner(mw, [3, 4])
    for p in (p3, p4):
        qualify(p, "spinning_reserve", response_seconds="120", sustain_minutes=30)
    stake_row = _stake(org, stake) if stake else None
    return org, p3, p4, stake_row


def _sell(mw, org, members, *, product="spinning_reserve", start=S, price="100", priority=False):
    return order_submit(
        organisation=org,
        market="real_time",
        product=product,
        side="sell",
        zone=mw.iso,
        members=[(p, D(k)) for p, k in members],
        price_per_mwh=D(price),
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        priority=priority,
        now=mw.now,
    )


def _buy(mw, kw, *, product="spinning_reserve", start=S, price="120"):
    return order_submit(
        organisation=mw.operator,
        market="real_time",
        product=product,
        side="buy",
        zone=mw.iso,
        kw=D(kw),
        price_per_mwh=D(price),
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        now=mw.now,
    )


def _position(org):
    p = collateral_position(org)
    return p.staked, p.locked, p.free


# -- refusals ----------------------------------------------------------------------------------------------------


def test_collateral_is_never_reused_by_a_second_order_or_after_a_fill(mw, django_capture_on_commit_callbacks):
    org, p3, p4, _ = _seller(mw)
    first = _sell(mw, org, [(p3, "60"), (p4, "60")]).order  # 120 kW x 1 FLEX/kW = 120 FLEX locked
    assert (first.tier, first.collateral_per_kw) == (1, D("1.000"))
    assert _position(org) == (D("120"), D("120"), D("0"))
    with pytest.raises(ApplicationError) as e:  # another interval: the resources are free, the collateral is not
        _sell(mw, org, [(p3, "50"), (p4, "50")], start=E)
    assert e.value.code == "insufficient_stake"
    assert e.value.detail == (
        "Spinning reserve is a premium market: 100 kW x 1 FLEX per kW (premium tier) = 100 FLEX of free collateral"
        " is needed; 120 FLEX is staked, 120 FLEX of it is locked by open orders and unsettled awards, 0 FLEX is free."
    )
    assert e.value.fields == {"kw": ["Stake 100 FLEX more, or offer less."]}
    # the order is filled: its 120 kW become two 60 kW awards, which keep the 120 FLEX locked until settled
    with django_capture_on_commit_callbacks(execute=True):
        _buy(mw, "120")
    assert MarketOrder.objects.get(pk=first.pk).status == MarketOrder.Status.FILLED
    assert sorted(Award.objects.filter(order=first).values_list("kw", flat=True)) == [D("60.000"), D("60.000")]
    assert Reservation.objects.filter(award__order=first).count() == 2  # ancillary awards are reservations
    assert _position(org) == (D("120"), D("120"), D("0"))
    with pytest.raises(ApplicationError) as e:  # the probe's case: 120 FLEX backing an award and a new order
        _sell(mw, org, [(p3, "60"), (p4, "60")], start=E)
    assert e.value.code == "insufficient_stake"
    assert MarketOrder.objects.filter(organisation=org).count() == 1


def test_no_slash_without_a_rule_and_no_release_before_settlement(mw, django_capture_on_commit_callbacks):
    org, p3, p4, stake = _seller(mw)
    order = _sell(mw, org, [(p3, "60"), (p4, "60")]).order
    with django_capture_on_commit_callbacks(execute=True):
        _buy(mw, "120")
    award = Award.objects.get(order=order, premise=p3)
    reservation = Reservation.objects.get(award=award)
    operator = accounts_services.user_create(email="op@collat.flex", password="x-pass-123", organisation=mw.operator)
    call = activation.reservation_call(
        reservation_id=reservation.pk, user=operator, target_kw=D("60"), start=S, end=E, now=S - timedelta(minutes=30)
    )
    after = DAY + timedelta(days=2, hours=1)  # the stake's lock has run out
    # unlock before settlement: refused while the awards are unsettled
    with pytest.raises(StakeError) as e:
        stake_release(stake_id=stake.pk, now=after)
    assert e.value.code == "stake_backs_collateral"
    assert "120.00 FLEX is locked" in e.value.detail and "would leave 0.00 FLEX" in e.value.detail
    with pytest.raises(CollateralUnsettled) as e:  # the call is not verified yet
        collateral_award_settle(award_id=award.pk, now=after)
    assert f"Events [{call.pk}]" in e.value.detail
    with pytest.raises(CollateralUnsettled):  # nor before the delivery ends
        collateral_award_settle(award_id=award.pk, now=S)
    verification_make(call, [D("0.75")])  # 5 % of 60 kW x 0.25 h = 15 kWh committed
    # a slash without a rule, under a rule that does not govern the event, or of an award without collateral
    with pytest.raises(CollateralError) as e:
        collateral_slash(award_id=award.pk, event_id=call.pk, rule=None)
    assert "names its rule" in e.value.detail
    with pytest.raises(CollateralError) as e:
        collateral_slash(award_id=award.pk, event_id=call.pk, rule="make-it-up")
    assert "Unknown slashing rule" in e.value.detail
    with pytest.raises(CollateralError) as e:
        collateral_slash(award_id=award.pk, event_id=call.pk, rule="collateral-slash-award-1")
    assert "rule collateral-slash-call-1 does" in e.value.detail
    other = Award.objects.get(order=order, premise=p4)
    with pytest.raises(CollateralError):
        collateral_slash(award_id=other.pk, event_id=call.pk, rule="collateral-slash-call-1")
    assert CollateralSlash.objects.count() == 0 and Stake.objects.get(pk=stake.pk).amount == D("120.00")


def test_a_delivery_at_the_threshold_is_not_slashed(mw, django_capture_on_commit_callbacks):
    org, p3, p4, _ = _seller(mw)
    order = _sell(mw, org, [(p3, "60"), (p4, "60")]).order
    with django_capture_on_commit_callbacks(execute=True):
        _buy(mw, "120")
    award = Award.objects.get(order=order, premise=p3)
    operator = accounts_services.user_create(email="op2@collat.flex", password="x-pass-123", organisation=mw.operator)
    call = activation.reservation_call(
        reservation_id=award.reservation.pk,
        user=operator,
        target_kw=D("60"),
        start=S,
        end=E,
        now=S - timedelta(minutes=30),
    )
    verification_make(call, [D("7.5")])  # exactly 0.5 x 15 kWh: not below the threshold
    with pytest.raises(CollateralError) as e:
        collateral_slash(award_id=award.pk, event_id=call.pk, rule="collateral-slash-call-1")
    assert "delivered 7.5000 kWh of 15.0000 kWh committed, not below 0.5 x" in e.value.detail
    settled = collateral_award_settle(award_id=award.pk, now=DAY + timedelta(days=1))
    assert (settled.collateral, settled.slashed, settled.events) == (D("60.00"), D("0.00"), 1)


# -- the rules at work -------------------------------------------------------------------------------------------


def test_called_reservation_delivering_5_percent_is_slashed_by_the_run_then_released(
    mw, django_capture_on_commit_callbacks
):
    org, p3, p4, stake = _seller(mw)
    order = _sell(mw, org, [(p3, "60"), (p4, "60")]).order
    with django_capture_on_commit_callbacks(execute=True):
        _buy(mw, "120")
    called, idle = Award.objects.get(order=order, premise=p3), Award.objects.get(order=order, premise=p4)
    operator = accounts_services.user_create(email="op3@collat.flex", password="x-pass-123", organisation=mw.operator)
    call = activation.reservation_call(
        reservation_id=called.reservation.pk,
        user=operator,
        target_kw=D("60"),
        start=S,
        end=E,
        now=S - timedelta(minutes=30),
    )
    verification_make(call, [D("0.75")])  # 0.75 of 15 kWh = 5 % < 0.5 x 15 kWh: under-delivered
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=DAY + timedelta(days=2))
    # slash = slashing_rate 0.10 x (60 kW x 1 FLEX/kW = 60 FLEX) = 6.00 FLEX, rule collateral-slash-call-1
    slash = CollateralSlash.objects.get()
    assert (slash.rule, slash.award_id, slash.event_id) == ("collateral-slash-call-1", called.pk, call.pk)
    assert (slash.collateral, slash.slashing_rate, slash.threshold, slash.amount) == (
        D("60.00"),
        D("0.100000"),
        D("0.500000"),
        D("6.00"),
    )
    assert slash.memo == (
        "collateral-slash-call-1: delivered 0.75 kWh < 0.5 x 15 kWh committed; "
        "slash 0.1 x (60 kW x 1 FLEX/kW = 60 FLEX) = 6.00 FLEX"
    )
    entry = JournalEntry.objects.get(business_key=f"collateral-slash:award:{called.pk}:event:{call.pk}")
    legs = {(p.account.kind, p.account.asset): p.amount for p in entry.postings.select_related("account")}
    assert legs == {(K.STAKED, assets.GOVERNANCE): D("-6.00"), (K.PENALTY_POOL, assets.GOVERNANCE): D("6.00")}
    item = SettlementItem.objects.get(kind=SettlementItem.Kind.SLASHING, award=called)
    assert (item.amount, item.currency, item.memo, entry.memo) == (
        D("-6.00"),
        assets.GOVERNANCE,
        slash.memo,
        slash.memo,
    )
    assert Stake.objects.get(pk=stake.pk).amount == D("114.00")
    # both awards settled and released (the idle one: never called, nothing to slash)
    assert dict(CollateralSettlement.objects.values_list("award_id", "slashed")) == {
        called.pk: D("6.00"),
        idle.pk: D("0.00"),
    }
    assert _position(org) == (D("114"), D("0"), D("114"))
    # a second run slashes and releases nothing more
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=DAY + timedelta(days=2))
    assert CollateralSlash.objects.count() == 1 and CollateralSettlement.objects.count() == 2
    # unlock after settlement: the whole remaining stake goes back
    released = stake_release(stake_id=stake.pk, now=UNTIL + timedelta(hours=1))
    assert released.status == Stake.Status.RELEASED
    assert account_for(organisation=org, kind=K.STAKED, asset=assets.GOVERNANCE).balance == D("0")
    # 114 back, plus the run's Governance tokens for the call: 0.75 kWh / 10 kWh per token = 0.075 -> 0.07
    assert account_for(organisation=org, kind=K.PARTICIPANT, asset=assets.GOVERNANCE).balance == D("114.07")
    assert ledger_is_balanced()


def test_priority_tier_locks_its_governed_rate_and_is_dispatched_first_at_equal_price(mw):
    org, p3, p4, _ = _seller(mw, stake="150")
    # priority activation: 2 FLEX per kW; 100 kW needs 200 FLEX, 150 is staked
    with pytest.raises(ApplicationError) as e:
        _sell(mw, org, [(p3, "50"), (p4, "50")], product="energy", priority=True)
    assert "Priority activation: 100 kW x 2 FLEX per kW (priority tier) = 200 FLEX" in e.value.detail
    market_parameter_set(name="collateral_per_kw_priority", value=D("1.5"))  # governance lowers it
    early = _sell(mw, mw.aggregator, [(mw.premise(1), "60"), (mw.premise(2), "40")], product="energy").order
    late = _sell(mw, org, [(p3, "50"), (p4, "50")], product="energy", priority=True).order
    assert (early.tier, early.collateral_per_kw, late.tier, late.collateral_per_kw) == (0, 0, 2, D("1.500"))
    assert _position(org) == (D("150"), D("150"), D("0"))
    market_parameter_set(name="collateral_per_kw_priority", value=D("3"))  # a later change leaves the order as it was
    assert MarketOrder.objects.get(pk=late.pk).collateral_per_kw == D("1.500")
    # equal price: the later priority order is dispatched before the earlier standard one
    trade = _buy(mw, "100", product="energy").trades
    assert [t.sell_order_id for t in trade] == [late.pk]
    assert MarketOrder.objects.get(pk=early.pk).remaining_kw == D("100.000")
    with pytest.raises(ApplicationError) as e:  # buy orders choose no tier
        order_submit(
            organisation=mw.operator,
            market="real_time",
            product="energy",
            side="buy",
            zone=mw.iso,
            kw=D("10"),
            price_per_mwh=D("1"),
            delivery_start=S,
            delivery_end=E,
            priority=True,
            now=mw.now,
        )
    assert e.value.fields == {"priority": ["Only sell orders choose a tier."]}


def test_modify_takes_more_collateral_only_when_free_and_cancel_frees_it(mw):
    from market.services.orders import order_cancel, order_modify

    org, p3, p4, _ = _seller(mw, stake="150")
    order = _sell(mw, org, [(p3, "60"), (p4, "60")]).order  # 120 locked, 30 free
    with pytest.raises(ApplicationError) as e:  # 160 kW: 40 kW more x 1 FLEX = 40 FLEX > 30 free
        order_modify(order_id=order.pk, by=org, price_per_mwh=D("100"), kw=D("160"), now=mw.now)
    assert e.value.code == "insufficient_stake"
    assert "40 kW x 1 FLEX per kW (premium tier) = 40 FLEX" in e.value.detail and "30 FLEX is free" in e.value.detail
    order_modify(order_id=order.pk, by=org, price_per_mwh=D("100"), kw=D("150"), now=mw.now)  # 30 more: fits
    assert _position(org) == (D("150"), D("150"), D("0"))
    order_modify(order_id=order.pk, by=org, price_per_mwh=D("100"), kw=D("100"), now=mw.now)  # less: frees 50
    assert _position(org) == (D("150"), D("100"), D("50"))
    order_cancel(order_id=order.pk, by=org, now=mw.now)
    assert _position(org) == (D("150"), D("0"), D("150"))


def test_the_event_path_releases_collateral_minutes_after_the_call_is_verified(mw, django_capture_on_commit_callbacks):
    from settlement.services.event_settlement import event_settle

    org, p3, p4, _ = _seller(mw)
    order = _sell(mw, org, [(p3, "60"), (p4, "60")]).order
    with django_capture_on_commit_callbacks(execute=True):
        _buy(mw, "120")
    called = Award.objects.get(order=order, premise=p3)
    operator = accounts_services.user_create(email="op4@collat.flex", password="x-pass-123", organisation=mw.operator)
    call = activation.reservation_call(
        reservation_id=called.reservation.pk,
        user=operator,
        target_kw=D("60"),
        start=S,
        end=E,
        now=S - timedelta(minutes=30),
    )
    verification_make(call, [D("0.75")])
    event_settle(event_id=call.pk, now=E + timedelta(minutes=10))  # the 5-minute window of the call's start
    assert CollateralSlash.objects.get().amount == D("6.00")  # 0.1 x 60 FLEX
    assert CollateralSettlement.objects.count() == 2  # both awards of the order: their delivery is over
    assert _position(org) == (D("114"), D("0"), D("114"))
