"""The stake and vote forms without a browser: a confirmed stake posted twice (one form, one key) locks once; a
vote without staked Governance tokens is refused with the reason; auditors and operators may do neither."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

import demo
from accounts import services as accounts_services
from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from market.tests.factories import stake_deposit
from settlement import assets
from settlement.models import LedgerAccount, Stake, Vote
from settlement.services.governance import proposal_create
from settlement.services.ledger import account_for, journal_post, platform_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def house(client):
    org = accounts_services.organisation_create(name="House", kind=Organisation.Kind.CONSUMER)
    user = accounts_services.user_create(email="house@gov.flex", password="x-pass-123", organisation=org)
    journal_post(
        business_key="gov-page-grant",
        memo="tokens granted for the test",
        legs=[
            (platform_account(LedgerAccount.Kind.TREASURY, assets.GOVERNANCE), -D("10")),
            (account_for(organisation=org, kind=LedgerAccount.Kind.PARTICIPANT, asset=assets.GOVERNANCE), D("10")),
        ],
    )
    client.force_login(user)
    return org


def _proposal():
    business = accounts_services.organisation_create(name="Proposer", kind=Organisation.Kind.CONSUMER)
    stake_deposit(organisation=business, amount=D("100"), business_key="gov-page-proposer")
    return proposal_create(proposer=business, parameter="penalty_rate", new_value=D("2"))


@pytest.mark.parametrize("role", [Membership.Role.AUDITOR, Membership.Role.GRID_OPERATOR])
def test_auditors_and_operators_may_neither_stake_nor_vote(client, role):
    proposal = _proposal()
    kind = Organisation.Kind.GRID_OPERATOR if role == Membership.Role.GRID_OPERATOR else Organisation.Kind.PLATFORM
    org = accounts_services.organisation_create(name=f"Org {role}", kind=kind)
    user = accounts_services.user_create(email=f"{role}@gov.flex", password="x-pass-123", organisation=org, role=role)
    user.memberships.exclude(role=role).delete()
    totp_activate(user=user, secret=demo.TOTP_SECRET)  # operators use MFA (accounts.mfa)
    client.force_login(user)
    assert client.get("/governance/").status_code == 403
    assert client.post("/governance/", {"proposal": proposal.pk, "support": "for", "confirm": "yes"}).status_code == 403
    assert client.post("/staking/", {"stake": "1", "asset": "FLEX-GOV", "amount": "1", "key": "k"}).status_code == 403
    assert not Vote.objects.exists() and Stake.objects.filter(organisation=org).count() == 0


def test_a_confirmed_stake_posted_twice_locks_once(client, house):
    until = (timezone.now() + timedelta(days=30)).date().isoformat()
    form = {"stake": "1", "asset": "FLEX-GOV", "amount": "4", "locked_until": until, "key": "one-form"}
    preview = client.post("/staking/", form)
    assert "Confirm your stake" in preview.content.decode() and not Stake.objects.filter(organisation=house).exists()
    for _ in range(2):
        response = client.post("/staking/", {**form, "confirm": "yes"}, follow=True)
        assert "Staked 4.00 FLEX-GOV" in response.content.decode()
    assert list(Stake.objects.filter(organisation=house).values_list("amount", flat=True)) == [D("4.00")]


def test_a_vote_without_staked_governance_tokens_is_refused_with_the_reason(client, house):
    proposal = _proposal()
    page = client.get("/governance/").content.decode()
    assert "Stake Governance tokens" in page  # held, not staked: no weight yet
    response = client.post("/governance/", {"proposal": proposal.pk, "support": "against", "confirm": "yes"})
    assert response.status_code == 200
    assert "Voting needs staked Governance tokens." in response.content.decode()
    assert not Vote.objects.exists()
