"""Enrolment terms and portfolio splits (ADR 0024), with hand-computed numbers; the refusals first.

An award an aggregator sells with a member's premise settles into the member's share and the aggregator's fee
(each its own journal entry, paid by the buyer) beside the platform fee; its penalties are shared by the terms the
member accepted with their consent.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from accounts import services as accounts_services
from accounts.consents import consent_grant
from accounts.models import Consent, ConsentTerms, Membership
from accounts.terms import commercial_terms_publish
from flexplatform.errors import ApplicationError, NotPermitted
from settlement.models import JournalEntry, LedgerAccount, SettlementItem
from settlement.selectors import balances_match_postings, ledger_is_balanced
from settlement.services.payments import settlement_create_for_event
from settlement.services.penalties import penalty_settle
from settlement.services.runs import settlement_run_execute
from settlement.services.splits import penalty_allocation, portfolio_split

from .factories import DAY, NOW, event_make, world_make

K = LedgerAccount.Kind


# -- the rule, pure ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"revenue": D("1.234"), "revenue_share_pct": D("10")},  # not rounded to the cent
        {"revenue": D("1.00"), "revenue_share_pct": D("100.01")},
        {"revenue": D("1.00"), "revenue_share_pct": D("-1")},
        {"revenue": D("1.00"), "revenue_share_pct": D("10"), "fee_per_kw_month": D("-0.5")},
        {"revenue": D("1.00"), "revenue_share_pct": D("10"), "kw": D("-1")},
    ],
)
def test_split_refuses_unrounded_revenue_and_shares_out_of_range(kwargs):
    with pytest.raises(ValueError):
        portfolio_split(**kwargs)


@pytest.mark.parametrize(
    "amount,pct", [(D("0"), D("10")), (D("-1.00"), D("10")), (D("1.005"), D("10")), (D("1.00"), D("101"))]
)
def test_penalty_allocation_refuses_bad_amounts_and_shares(amount, pct):
    with pytest.raises(ValueError):
        penalty_allocation(amount=amount, member_pct=pct)


def test_split_by_hand():
    # 15 % of 12.34 = 1.851 -> 1.85 (half-up, once); the member keeps 12.34 - 1.85 = 10.49
    s = portfolio_split(revenue=D("12.34"), revenue_share_pct=D("15"))
    assert (s.aggregator_fee, s.member_share) == (D("1.85"), D("10.49"))
    # 10 % of 1.45 + 2.00/kW-month x 25 kW x 2 h / 730 h = 0.145 + 0.136986.. = 0.281986.. -> 0.28; member 1.17
    s = portfolio_split(
        revenue=D("1.45"), revenue_share_pct=D("10"), fee_per_kw_month=D("2.00"), kw=D("25"), hours=D("2")
    )
    assert (s.aggregator_fee, s.member_share) == (D("0.28"), D("1.17"))
    # the fee never exceeds the revenue: 5.00/kW-month x 100 kW x 730 h / 730 = 500 -> capped at 0.10
    s = portfolio_split(
        revenue=D("0.10"), revenue_share_pct=D("0"), fee_per_kw_month=D("5"), kw=D("100"), hours=D("730")
    )
    assert (s.aggregator_fee, s.member_share) == (D("0.10"), D("0.00"))
    # nothing earned, nothing taken
    assert portfolio_split(revenue=D("0.00"), revenue_share_pct=D("50")).aggregator_fee == 0


def test_penalty_allocation_by_hand():
    # 33.33 % of 10.01 = 3.336333 -> 3.34 for the member; the aggregator 10.01 - 3.34 = 6.67
    assert penalty_allocation(amount=D("10.01"), member_pct=D("33.33")) == (D("3.34"), D("6.67"))
    assert penalty_allocation(amount=D("4.00"), member_pct=D("0")) == (D("0.00"), D("4.00"))


# -- terms at consent -------------------------------------------------------------------------------------------


def _portfolio(tag="s"):
    """A member's premise (consumer 0) enrolled with an aggregator; users for the owner, aggregator and operator."""
    w = world_make(n=2, aggregator_members=1, tag=tag)
    w.owner = accounts_services.user_create(
        email=f"own-{tag}@t.flex", password="x-pass-123", organisation=w.consumers[0]
    )
    w.agg_user = accounts_services.user_create(
        email=f"agg-{tag}@t.flex", password="x-pass-123", organisation=w.aggregator, role=Membership.Role.AGGREGATOR
    )
    w.op_user = accounts_services.user_create(email=f"op-{tag}@t.flex", password="x-pass-123", organisation=w.operator)
    w.operator.service_zones.add(w.zone)
    return w


def _consent(w, terms, *, now=DAY - timedelta(days=5)):
    return consent_grant(
        premise=w.premises[0],
        aggregator=w.aggregator,
        by=w.owner,
        scopes=[Consent.Scope.INTERVAL_READINGS],
        expires_at=DAY + timedelta(days=300),
        terms=terms.pk if terms is not None else None,
        now=now,
    )


@pytest.mark.django_db
def test_terms_refused_out_of_range_or_by_a_stranger_and_consent_refused_without_the_current_terms():
    w = _portfolio()
    with pytest.raises(ApplicationError) as e:
        commercial_terms_publish(
            aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="150", member_penalty_pct="x"
        )
    assert set(e.value.fields) == {"revenue_share_pct", "member_penalty_pct"}
    with pytest.raises(NotPermitted):
        commercial_terms_publish(aggregator=w.aggregator, by=w.owner, revenue_share_pct="10", member_penalty_pct="0")
    v1 = commercial_terms_publish(
        aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="10", member_penalty_pct="0"
    )
    v2 = commercial_terms_publish(
        aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="20", member_penalty_pct="25"
    )
    assert (v1.version, v2.version) == (1, 2)
    # the same numbers again publish nothing new
    assert (
        commercial_terms_publish(
            aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="20.00", member_penalty_pct="25"
        )
        == v2
    )
    with pytest.raises(ApplicationError) as e:
        _consent(w, None)  # terms not accepted
    assert "terms" in e.value.fields
    with pytest.raises(ApplicationError) as e:
        _consent(w, v1)  # a stale version: not what is in force now
    assert "terms" in e.value.fields
    assert not Consent.objects.exists()
    consent = _consent(w, v2)
    assert ConsentTerms.objects.get(consent=consent).terms == v2


# -- settlement -------------------------------------------------------------------------------------------------


def _run():
    return settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)


def _item(key):
    return SettlementItem.objects.get(business_key=key)


def _legs(key):
    entry = JournalEntry.objects.get(business_key=key)
    return {(p.account.organisation_id, p.account.kind, p.amount) for p in entry.postings.select_related("account")}


@pytest.mark.django_db
def test_portfolio_event_settles_into_member_share_aggregator_fee_and_platform_fee_once():
    w = _portfolio()
    terms = commercial_terms_publish(
        aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="20", member_penalty_pct="25"
    )
    _consent(w, terms)
    member, agg, op = w.consumers[0], w.aggregator, w.operator
    # committed 10 kW x 0.5 h = 5 kWh; delivered 4 + 4 = 8 kWh at 200.00/MWh
    event = event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=17),
        delivered=[D("4"), D("4")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    direct = event_make(
        w,
        w.premises[1],
        start=DAY + timedelta(hours=17),
        delivered=[D("1"), D("1")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    run = _run()
    # performance: 5 kWh paid (capped at dispatch) x 200 / 1000 = 1.00; fee 20 % = 0.20; member 0.80
    share = _item(f"member_share:event:{event.pk}")
    fee = _item(f"aggregator_fee:event:{event.pk}")
    assert (share.payee, share.amount, share.quantity_kwh) == (member, D("0.80"), D("5.0000"))
    assert (fee.payee, fee.amount) == (agg, D("0.20"))
    assert _legs(share.business_key) == set(
        [(op.pk, K.OPERATOR_PAYABLE, D("-0.80")), (member.pk, K.PARTICIPANT, D("0.80"))]
    )
    assert _legs(fee.business_key) == set([(op.pk, K.OPERATOR_PAYABLE, D("-0.20")), (agg.pk, K.PARTICIPANT, D("0.20"))])
    # bonus: excess min(3, 5 x 0.20 = 1) = 1 kWh x 200 / 1000 x 0.10 = 0.02; fee 20 % = 0.004 -> 0.00; member 0.02
    assert _item(f"member_share:over_delivery:event:{event.pk}").amount == D("0.02")
    assert not SettlementItem.objects.filter(business_key=f"aggregator_fee:over_delivery:event:{event.pk}").exists()
    # the platform fee is the buyer's: 2 % of 1.00 = 0.02
    assert _item(f"platform_fee:event:{event.pk}").amount == D("-0.02")
    # the member is not paid the whole performance payment as well
    assert not SettlementItem.objects.filter(event=event, kind__in=["performance", "over_delivery"]).exists()
    # a household selling its own premise is paid as before
    assert _item(f"performance:event:{direct.pk}").payee == w.consumers[1]
    assert not SettlementItem.objects.filter(event=direct, kind__in=["member_share", "aggregator_fee"]).exists()
    # tokens stay with the resource: Energy 5 kWh paid -> 5.00; Performance 1 kWh above commitment; Governance 8/10
    assert _item(f"energy_token:event:{event.pk}").amount == D("5.00")
    assert _item(f"performance_token:event:{event.pk}").amount == D("1.00")
    assert _item(f"governance_token:event:{event.pk}").amount == D("0.80")
    assert _item(f"energy_token:event:{direct.pk}").amount == D("2.00")
    assert balances_match_postings() and ledger_is_balanced()
    # a re-run and the event task add nothing
    n = SettlementItem.objects.count()
    assert _run().last_attempt_items == 0 and run.pk == _run().pk
    assert settlement_create_for_event(event_id=event.pk, now=NOW) == share
    assert SettlementItem.objects.count() == n


@pytest.mark.django_db
def test_event_task_pays_the_split_first_and_the_run_only_adds_the_bonus_split():
    w = _portfolio(tag="t")
    terms = commercial_terms_publish(
        aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="20", member_penalty_pct="0"
    )
    _consent(w, terms)
    event = event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=17),
        delivered=[D("4"), D("4")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    first = settlement_create_for_event(event_id=event.pk, now=NOW)
    assert (first.kind, first.amount) == ("member_share", D("0.80"))
    assert _item(f"aggregator_fee:event:{event.pk}").amount == D("0.20")
    _run()
    assert SettlementItem.objects.filter(business_key__startswith="member_share:").count() == 2  # + the bonus
    assert not SettlementItem.objects.filter(event=event, kind="performance").exists()


@pytest.mark.django_db
def test_without_accepted_terms_no_fee_and_the_aggregator_bears_the_penalty():
    w = _portfolio(tag="u")
    _consent(w, None)  # the aggregator had published no terms
    event = event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=17),
        delivered=[D("1"), D("1")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    _run()
    assert _item(f"member_share:event:{event.pk}").amount == D("0.40")  # 2 kWh x 200 / 1000, no fee
    assert not SettlementItem.objects.filter(kind="aggregator_fee").exists()
    item = penalty_settle(
        event_id=event.pk, payee=w.consumers[0], amount=D("3.00"), reason="shortfall", business_key="p1"
    )
    assert (item.payee, item.amount) == (w.aggregator, D("-3.00"))
    assert not SettlementItem.objects.filter(kind="penalty", payee=w.consumers[0]).exists()


@pytest.mark.django_db
def test_portfolio_penalty_shared_by_the_terms_once():
    w = _portfolio(tag="v")
    terms = commercial_terms_publish(
        aggregator=w.aggregator, by=w.agg_user, revenue_share_pct="20", member_penalty_pct="33.33"
    )
    _consent(w, terms)
    event = event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=17),
        delivered=[D("0.5"), D("0.5")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    _run()
    # member share 0.20 x 0.8 = 0.16 on the member's account; penalty 10.01: member 3.34, aggregator 6.67
    first = penalty_settle(
        event_id=event.pk, payee=w.consumers[0], amount=D("10.01"), reason="shortfall", business_key="p2"
    )
    again = penalty_settle(
        event_id=event.pk, payee=w.consumers[0], amount=D("10.01"), reason="shortfall", business_key="p2"
    )
    assert first == again
    member = _item("penalty:p2")
    aggregator = _item("penalty:p2:aggregator")
    assert (member.payee, member.amount) == (w.consumers[0], D("-3.34"))
    assert (aggregator.payee, aggregator.amount) == (w.aggregator, D("-6.67"))
    assert "33.33 %" in member.memo and "terms v1" in member.memo
    # the member's 3.34: 0.16 from its balance, 3.18 owed
    assert _legs("penalty:p2") == set(
        [
            (None, K.PENALTY_POOL, D("3.34")),
            (w.consumers[0].pk, K.PARTICIPANT, D("-0.16")),
            (w.consumers[0].pk, K.RECEIVABLE, D("-3.18")),
        ]
    )
    assert SettlementItem.objects.filter(kind="penalty").count() == 2
    assert balances_match_postings() and ledger_is_balanced()
