"""Penalties, disputes, staking and slashing, governance, withdrawals: hand-computed numbers and refusals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from market.models import MarketParameter
from settlement import assets
from settlement.models import AuditRecord, Dispute, LedgerAccount, Proposal, SettlementItem
from settlement.selectors import balances_match_postings, ledger_is_balanced, market_parameter
from settlement.services.disputes import dispute_open, dispute_resolve
from settlement.services.governance import (
    proposal_create,
    proposal_execute,
    proposal_tally,
    proposals_tally_due,
    vote_cast,
)
from settlement.services.ledger import balance_of
from settlement.services.penalties import penalty_settle
from settlement.services.runs import settlement_run_execute
from settlement.services.staking import StakeError, stake_lock, stake_release, staked_collateral

from .factories import DAY, NOW, contract_make, event_make, tokens_grant, world_make

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create(username="u")


def _paid_world():
    w = world_make(n=2)
    e = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("4"), delivered=[D("1")] * 4
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    return w, e


def test_penalty_from_balance_then_receivable_exactly_once():
    w, e = _paid_world()
    org = w.consumers[0]
    assert balance_of(organisation=org, kind=K.PARTICIPANT, asset="USD") == D("0.40")  # 4 kWh x 100 / 1000
    item = penalty_settle(event_id=e.pk, payee=org, amount=D("1.25"), reason="shortfall x rate", business_key="p1")
    assert item.amount == D("-1.25") and item.kind == "penalty"
    assert balance_of(organisation=org, kind=K.PARTICIPANT, asset="USD") == D("0")
    assert balance_of(organisation=org, kind=K.RECEIVABLE, asset="USD") == D("-0.85")
    assert balance_of(organisation=None, kind=K.PENALTY_POOL, asset="USD") == D("1.25")
    again = penalty_settle(event_id=e.pk, payee=org, amount=D("1.25"), reason="again", business_key="p1")
    assert again.pk == item.pk and SettlementItem.objects.filter(kind="penalty").count() == 1
    with pytest.raises(ApplicationError):
        penalty_settle(event_id=e.pk, payee=org, amount=D("0.001"), reason="x", business_key="p2")
    assert ledger_is_balanced() and balances_match_postings()


def test_dispute_upheld_posts_adjustment_from_original_payer_and_keeps_history(user):
    w, e = _paid_world()
    item = SettlementItem.objects.get(business_key=f"performance:event:{e.pk}")
    with pytest.raises(NotPermitted):
        dispute_open(item=item, user=user, organisations=[w.consumers[1]], reason="not mine")
    d = dispute_open(item=item, user=user, organisations=[w.consumers[0]], reason="meter missed an interval")
    with pytest.raises(Conflict):
        dispute_open(item=item, user=user, organisations=[w.consumers[0]], reason="twice")
    with pytest.raises(ApplicationError):
        dispute_resolve(dispute_id=d.pk, admin=user, uphold=True, resolution="ok", adjustment=None)
    d = dispute_resolve(
        dispute_id=d.pk, admin=user, uphold=True, resolution="interval re-read", adjustment=D("0.12"), now=NOW
    )
    assert d.status == Dispute.Status.UPHELD and d.adjustment_item.amount == D("0.12")
    assert balance_of(organisation=w.consumers[0], kind=K.PARTICIPANT, asset="USD") == D("0.52")
    assert balance_of(organisation=w.operator, kind=K.OPERATOR_PAYABLE, asset="USD") == D(
        "-0.53"
    )  # 0.40 + fee 0.01 + 0.12
    item.refresh_from_db()
    assert item.amount == D("0.40")  # the original stays
    with pytest.raises(Conflict):
        dispute_resolve(dispute_id=d.pk, admin=user, uphold=False, resolution="again")
    actions = list(AuditRecord.objects.filter(object_type="dispute", object_id=d.pk).values_list("action", flat=True))
    assert actions == ["dispute.opened", "dispute.upheld"]
    d2 = dispute_open(item=item, user=user, organisations=[w.consumers[0]], reason="more")
    assert (
        dispute_resolve(dispute_id=d2.pk, admin=user, uphold=False, resolution="no").status == Dispute.Status.REJECTED
    )


def test_stake_lock_release_collateral_and_refusals():
    w = world_make(n=1)
    org = w.consumers[0]
    LATER = timezone.now() + timedelta(days=30)  # noqa: N806
    tokens_grant(org, assets.GOVERNANCE, D("50"), "g")
    s = stake_lock(
        organisation=org,
        asset=assets.GOVERNANCE,
        amount=D("30"),
        locked_until=LATER,
        business_key="s1",
    )
    assert (
        stake_lock(
            organisation=org,
            asset=assets.GOVERNANCE,
            amount=D("30"),
            locked_until=LATER,
            business_key="s1",
        ).pk
        == s.pk
    )
    assert staked_collateral(org) == D("30")
    assert balance_of(organisation=org, kind=K.PARTICIPANT, asset=assets.GOVERNANCE) == D("20")
    assert balance_of(organisation=org, kind=K.STAKED, asset=assets.GOVERNANCE) == D("30")
    with pytest.raises(ApplicationError):  # more than the free balance
        stake_lock(
            organisation=org,
            asset=assets.GOVERNANCE,
            amount=D("21"),
            locked_until=LATER,
            business_key="s2",
        )
    with pytest.raises(StakeError):
        stake_lock(organisation=org, asset="USD", amount=D("1"), locked_until=LATER, business_key="s3")
    with pytest.raises(StakeError):
        stake_release(stake_id=s.pk)
    stake_release(stake_id=s.pk, now=LATER + timedelta(days=1))
    assert balance_of(organisation=org, kind=K.PARTICIPANT, asset=assets.GOVERNANCE) == D("50")


def test_slashing_for_non_delivery_in_premium_market():
    w = world_make(n=1)
    org = w.consumers[0]
    tokens_grant(org, assets.CAPACITY, D("100"), "c")
    stake_lock(
        organisation=org,
        asset=assets.CAPACITY,
        amount=D("80"),
        locked_until=NOW + timedelta(days=30),
        business_key="st",
        now=DAY - timedelta(days=1),
    )
    contract_make(w, org, premise=w.premises[0], premium=True)
    # committed 4 kWh, delivered 1.2 < 50 %: non-delivery -> 10 % of 80 = 8 FLEX-CAP slashed
    e = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("4"), delivered=[D("0.3")] * 4
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    slash = SettlementItem.objects.get(kind="slashing")
    assert slash.amount == D("-8.00") and slash.event_id == e.pk
    assert balance_of(organisation=org, kind=K.STAKED, asset=assets.CAPACITY) == D("72")
    assert balance_of(organisation=None, kind=K.PENALTY_POOL, asset=assets.CAPACITY) == D("8")


def test_governance_quorum_weights_and_execution_only_after_passing():
    w = world_make(n=3)
    a, b, c = w.consumers
    for i, (org, amount) in enumerate([(a, "60"), (b, "30"), (c, "10")]):
        tokens_grant(org, assets.GOVERNANCE, D(amount), f"g{i}")
        stake_lock(
            organisation=org,
            asset=assets.GOVERNANCE,
            amount=D(amount),
            locked_until=NOW + timedelta(days=60),
            business_key=f"s{i}",
            now=NOW - timedelta(days=1),
        )
    assert market_parameter("penalty_rate") == D("1.5")
    p = proposal_create(proposer=a, parameter="penalty_rate", new_value=D("2.0"), now=NOW)
    assert p.quorum_weight == D("20.00")  # 20 % of 100 staked
    with pytest.raises(ApplicationError):
        proposal_create(proposer=a, parameter="no_such", new_value=D("1"), now=NOW)
    vote_cast(proposal_id=p.pk, voter=c, support=True, now=NOW + timedelta(hours=1))
    with pytest.raises(Conflict):
        vote_cast(proposal_id=p.pk, voter=c, support=False, now=NOW + timedelta(hours=2))
    with pytest.raises(Conflict):  # not yet ended
        proposal_tally(proposal_id=p.pk, now=NOW + timedelta(days=1))
    with pytest.raises(Conflict):  # not passed
        proposal_execute(proposal_id=p.pk)
    # 10 for < quorum 20: rejected, the parameter unchanged
    assert proposal_tally(proposal_id=p.pk, now=NOW + timedelta(days=8)).status == Proposal.Status.REJECTED
    assert market_parameter("penalty_rate") == D("1.5")

    p2 = proposal_create(proposer=a, parameter="penalty_rate", new_value=D("2.0"), now=NOW)
    vote_cast(proposal_id=p2.pk, voter=b, support=True, now=NOW + timedelta(hours=1))  # 30 for
    vote_cast(proposal_id=p2.pk, voter=c, support=False, now=NOW + timedelta(hours=1))  # 10 against
    with pytest.raises(Conflict):
        vote_cast(proposal_id=p2.pk, voter=a, support=False, now=NOW + timedelta(days=9))  # voting closed
    assert proposals_tally_due(now=NOW + timedelta(days=8)) == [p2.pk]
    p2.refresh_from_db()
    assert p2.status == Proposal.Status.EXECUTED and (p2.weight_for, p2.weight_against) == (D("30"), D("10"))
    assert market_parameter("penalty_rate") == D("2.0") == MarketParameter.objects.get(name="penalty_rate").value
    actions = list(AuditRecord.objects.filter(object_type="proposal", object_id=p2.pk).values_list("action", flat=True))
    assert actions == ["proposal.created", "proposal.voted", "proposal.voted", "proposal.passed", "proposal.executed"]
    stranger = world_make(n=1, tag="s").consumers[0]
    with pytest.raises(NotPermitted):
        proposal_create(proposer=stranger, parameter="platform_fee_pct", new_value=D("3"), now=NOW)
