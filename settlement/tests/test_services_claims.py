"""Ledger <-> chain reconciliation of FLEX token claims, on the in-process EVM (eth-tester).

Epochs built from the ledger, anchored; claims seen and counted; reorgs reversed; wallet changes; governance
votes of claimed tokens; and a hypothesis property: no token is ever claimable twice, on chain or in the ledger.
"""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import wallets
from accounts.models import Membership
from settlement import assets
from settlement.chain import ANVIL_DEV_KEY, TokenClient, reset_eth_tester
from settlement.claims_tree import TOKEN_IDS
from settlement.merkle import keccak256
from settlement.models import LedgerAccount
from settlement.models_claims import ClaimEpoch, TokenClaim
from settlement.selectors import token_positions
from settlement.selectors_claims import claims_bundle, claims_open, token_position
from settlement.services.claims import claim_address_for, claims_epoch_close, claims_sync
from settlement.services.ledger import balance_of
from settlement.services.staking import governance_weight, stake_lock
from settlement.tests.chain_helpers import expect_revert
from settlement.tests.factories import tokens_grant, world_make

K = LedgerAccount.Kind
pytestmark = pytest.mark.django_db


def key_of(name: str) -> str:
    return "0x" + keccak256(f"claims test {name}".encode()).hex()


def siwe_link(org, key: str, *, email: str | None = None):
    """Link the wallet of ``key`` to a member of ``org`` by a real EIP-4361 signature (the portal's flow)."""
    user_model = get_user_model()
    email = email or f"{uuid.uuid4().hex[:8]}@example.test"
    user = user_model.objects.filter(email=email).first()
    if user is None:
        user = user_model.objects.create_user(username=email, email=email, password="x")
        Membership.objects.create(user=user, organisation=org, role=Membership.Role.CONSUMER)
    account = Account.from_key(key)
    nonce = wallets.wallet_nonce_issue(user=user, address=account.address, domain="testserver", uri="http://testserver")
    signature = account.sign_message(encode_defunct(text=nonce.message)).signature.hex()
    return wallets.wallet_link(
        user=user, message=nonce.message, signature="0x" + signature.removeprefix("0x"), domain="testserver"
    )


@pytest.fixture
def chain():
    name = f"claims-{uuid.uuid4().hex[:8]}"
    url = f"eth-tester://{name}"
    with override_settings(CHAIN_RPC_URL=url, CHAIN_TOKEN_ADDRESS=""):
        yield TokenClient(url, ANVIL_DEV_KEY)
    reset_eth_tester(name)


def claim_all(client: TokenClient, key: str, org) -> list:
    user = client.with_key(key)
    receipts = []
    for row in claims_open(organisation=org):
        if row["address"] == user.address.lower():
            receipts.append(user.claim(row["epoch"], row["token_id"], row["cumulative"], row["proof"]))
    return receipts


def test_unlinked_tokens_stay_held_and_linked_ones_become_claimable_then_claimed(chain):
    w = world_make(n=2)
    alice, bob = w.consumers
    tokens_grant(alice, assets.ENERGY, D("12.34"), "a1")
    tokens_grant(bob, assets.CAPACITY, D("5"), "b1")
    assert claims_epoch_close(client=chain) is None  # nobody linked a wallet: nothing to claim
    siwe_link(alice, key_of("alice"))
    epoch = claims_epoch_close(client=chain)
    assert epoch.status == ClaimEpoch.Status.CONFIRMED and epoch.leaf_count == 1
    assert balance_of(organisation=alice, kind=K.PARTICIPANT, asset=assets.ENERGY) == 0
    assert balance_of(organisation=alice, kind=K.CLAIMABLE, asset=assets.ENERGY) == D("12.34")
    assert balance_of(organisation=bob, kind=K.PARTICIPANT, asset=assets.CAPACITY) == D("5")
    position = token_position(organisation=alice)
    energy = next(r for r in position["tokens"] if r["asset"] == assets.ENERGY)
    assert (energy["held"], energy["claimable"], energy["claimed"]) == (D("0.00"), D("12.34"), D("0.00"))
    # The one reading of token balances that every page uses says the same (the money page, the tokens page).
    assert token_positions(organisations=[alice])[assets.ENERGY] == {
        "free": D("0"), "staked": D("0"), "claimable": D("12.34"), "claimed": D("0")
    }  # fmt: skip
    bundle = claims_bundle(organisation=alice)
    assert bundle["root"] == epoch.root and bundle["claims"][0]["cumulative"] == "1234"
    [receipt] = claim_all(chain, key_of("alice"), alice)
    assert chain.balance_of(Account.from_key(key_of("alice")).address, TOKEN_IDS[assets.ENERGY]) == 1234
    claims_sync(client=chain)
    assert balance_of(organisation=alice, kind=K.CLAIMABLE, asset=assets.ENERGY) == 0
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.ENERGY) == D("12.34")
    assert token_positions(organisations=[alice, bob]) == {
        assets.ENERGY: {"free": D("0"), "staked": D("0"), "claimable": D("0"), "claimed": D("12.34")},
        assets.CAPACITY: {"free": D("5"), "staked": D("0"), "claimable": D("0"), "claimed": D("0")},
    }
    assert claims_open(organisation=alice) == []
    assert token_position(organisation=alice)["claims"][0]["tx_hash"] == receipt.tx_hash
    claims_sync(client=chain)  # a second pass counts nothing twice
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.ENERGY) == D("12.34")


def test_wallet_change_keeps_the_old_claimable_and_the_new_address_claims_the_rest(chain):
    alice = world_make(n=1).consumers[0]
    tokens_grant(alice, assets.PERFORMANCE, D("3"), "p1")
    siwe_link(alice, key_of("old"), email="alice@example.test")
    claims_epoch_close(client=chain)
    tokens_grant(alice, assets.PERFORMANCE, D("2"), "p2")
    siwe_link(alice, key_of("new"), email="alice@example.test")  # a fresh signature changes the wallet
    assert claim_address_for(alice) == Account.from_key(key_of("new")).address.lower()
    claims_epoch_close(client=chain)
    rows = {r["address"]: r["amount"] for r in claims_open(organisation=alice)}
    old, new = (Account.from_key(key_of(n)).address.lower() for n in ("old", "new"))
    assert rows == {old: D("3.00"), new: D("2.00")}
    claim_all(chain, key_of("old"), alice)
    claim_all(chain, key_of("new"), alice)
    claims_sync(client=chain)
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.PERFORMANCE) == D("5")
    assert balance_of(organisation=alice, kind=K.CLAIMABLE, asset=assets.PERFORMANCE) == 0


def test_a_reorged_claim_returns_to_claimable_and_counts_again_when_mined(chain):
    alice = world_make(n=1).consumers[0]
    tokens_grant(alice, assets.AVAILABILITY, D("7"), "v1")
    siwe_link(alice, key_of("alice"))
    claims_epoch_close(client=chain)
    snapshot = chain.snapshot()
    [receipt] = claim_all(chain, key_of("alice"), alice)
    claims_sync(client=chain)
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.AVAILABILITY) == D("7")
    chain.revert(snapshot)  # the block holding the claim is re-organised away
    chain.mine(3)
    claims_sync(client=chain)
    assert TokenClaim.objects.get(tx_hash=receipt.tx_hash).status == TokenClaim.Status.REORGED
    assert balance_of(organisation=alice, kind=K.CLAIMABLE, asset=assets.AVAILABILITY) == D("7")
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.AVAILABILITY) == 0
    assert [r["amount"] for r in claims_open(organisation=alice)] == [D("7.00")]
    claim_all(chain, key_of("alice"), alice)
    claims_sync(client=chain)
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.AVAILABILITY) == D("7")


def test_a_claimed_governance_token_still_votes_once(chain):
    alice = world_make(n=1).consumers[0]
    now = timezone.now()
    tokens_grant(alice, assets.GOVERNANCE, D("40"), "g1")
    stake_lock(
        organisation=alice,
        asset=assets.GOVERNANCE,
        amount=D("25"),
        locked_until=now.replace(year=2099),
        business_key="s",
        now=now,
    )
    assert governance_weight(alice, at=now) == D("25")
    siwe_link(alice, key_of("gov"))
    claims_epoch_close(client=chain)
    claim_all(chain, key_of("gov"), alice)
    claims_sync(client=chain)
    # 25 staked + 15 claimed to the wallet: 40 votes, each token once, staked tokens were never claimable.
    assert governance_weight(alice, at=now) == D("40")
    gov = TOKEN_IDS[assets.GOVERNANCE]
    holder = chain.with_key(key_of("gov"))
    assert holder.balance_of(holder.address, gov) == 1500
    # Moving the tokens to another wallet on chain changes no vote (the ledger is the source of truth).
    holder._transact(holder.contract().functions.safeTransferFrom(holder.address, chain.address, gov, 1500, b""))
    assert governance_weight(alice, at=now) == D("40")


def test_the_old_root_and_another_accounts_leaf_are_refused_end_to_end(chain):
    w = world_make(n=2)
    alice, bob = w.consumers
    tokens_grant(alice, assets.ENERGY, D("1"), "e1")
    tokens_grant(bob, assets.ENERGY, D("2"), "e2")
    siwe_link(alice, key_of("a"))
    siwe_link(bob, key_of("b"))
    claims_epoch_close(client=chain)
    [bob_row] = claims_open(organisation=bob)
    mallory = chain.with_key(key_of("a"))
    expect_revert(
        lambda: mallory.claim(bob_row["epoch"], bob_row["token_id"], bob_row["cumulative"], bob_row["proof"]),
        "InvalidProof",
    )


# -- property: no token is claimable twice ------------------------------------------------------------------

ACTIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("grant"),
            st.integers(0, 1),
            st.sampled_from([assets.ENERGY, assets.GOVERNANCE]),
            st.integers(1, 500),
        ),
        st.tuples(st.just("epoch")),
        st.tuples(st.just("claim"), st.integers(0, 1)),
        st.tuples(st.just("old-claim"), st.integers(0, 1)),
        st.tuples(st.just("wallet"), st.integers(0, 1)),
        st.tuples(st.just("reorg")),
    ),
    min_size=3,
    max_size=10,
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(actions=ACTIONS)
def test_no_token_is_ever_claimable_twice(actions, django_db_blocker):
    name = f"claims-prop-{uuid.uuid4().hex[:8]}"
    url = f"eth-tester://{name}"
    from django.db import transaction

    with override_settings(CHAIN_RPC_URL=url, CHAIN_TOKEN_ADDRESS=""), transaction.atomic():
        sid = transaction.savepoint()
        client = TokenClient(url, ANVIL_DEV_KEY)
        orgs = world_make(n=2, tag=f"p{uuid.uuid4().hex[:4]}").consumers
        generation = [0, 0]
        keys = [key_of(f"p{i}-0") for i in range(2)]
        emails = [f"{uuid.uuid4().hex[:8]}@example.test" for _ in range(2)]
        for i in range(2):
            siwe_link(orgs[i], keys[i], email=emails[i])
        all_keys = [set(keys[:1]), set(keys[1:])]
        snapshot = None
        granted = {(i, a): D("0") for i in range(2) for a in (assets.ENERGY, assets.GOVERNANCE)}
        old_rows: list[tuple[int, dict]] = []
        for n, action in enumerate(actions):
            kind = action[0]
            if kind == "grant":
                _, i, asset, cents = action
                tokens_grant(orgs[i], asset, D(cents) / 100, f"{name}-{n}")
                granted[(i, asset)] += D(cents) / 100
            elif kind == "epoch":
                claims_epoch_close(client=client)
                snapshot = client.snapshot()
            elif kind in ("claim", "old-claim"):
                i = action[1]
                if kind == "old-claim":
                    for _, row in [r for r in old_rows if r[0] == i]:
                        for key in all_keys[i]:
                            user = client.with_key(key)
                            if (
                                user.address.lower() == row["address"]
                                and user.claimed_of(user.address, row["token_id"]) >= row["cumulative"]
                            ):
                                expect_revert(
                                    lambda u=user, r=row: u.claim(
                                        r["epoch"], r["token_id"], r["cumulative"], r["proof"]
                                    ),
                                    "NothingToClaim",
                                )
                    continue
                for key in all_keys[i]:
                    rows = claims_open(organisation=orgs[i])
                    old_rows.extend((i, r) for r in rows)
                    user = client.with_key(key)
                    for row in rows:
                        if (
                            row["address"] == user.address.lower()
                            and user.claimed_of(user.address, row["token_id"]) < row["cumulative"]
                        ):
                            user.claim(row["epoch"], row["token_id"], row["cumulative"], row["proof"])
                claims_sync(client=client)
            elif kind == "wallet":
                i = action[1]
                generation[i] += 1
                keys[i] = key_of(f"p{i}-{generation[i]}")
                all_keys[i].add(keys[i])
                siwe_link(orgs[i], keys[i], email=emails[i])
            elif kind == "reorg" and snapshot is not None:
                client.revert(snapshot)
                snapshot = None
                client.mine(2)
                claims_sync(client=client)
            claims_sync(client=client)
            # Invariants after every step.
            for i, org in enumerate(orgs):
                for asset in (assets.ENERGY, assets.GOVERNANCE):
                    held = balance_of(organisation=org, kind=K.PARTICIPANT, asset=asset)
                    claimable = balance_of(organisation=org, kind=K.CLAIMABLE, asset=asset)
                    claimed = balance_of(organisation=org, kind=K.CLAIMED, asset=asset)
                    assert held + claimable + claimed == granted[(i, asset)]
                    on_chain = (
                        sum(client.claimed_of(Account.from_key(k).address, TOKEN_IDS[asset]) for k in all_keys[i])
                        if client.contract_address
                        else 0
                    )
                    # The ledger counts exactly what the chain minted (confirmations are 0 in tests).
                    assert D(on_chain) / 100 == claimed
                    # What the newest leaves still allow never exceeds claimable + claimed.
                    latest = {}
                    for row in ClaimEpoch.objects.order_by("number"):
                        for leaf in row.leaves.filter(organisation=org, token_id=TOKEN_IDS[asset]):
                            latest[leaf.address] = leaf.cumulative
                    assert D(sum(latest.values())) / 100 == claimable + claimed
        transaction.savepoint_rollback(sid)
    reset_eth_tester(name)


def test_a_reorged_epoch_root_is_sent_again(chain):
    alice = world_make(n=1).consumers[0]
    tokens_grant(alice, assets.ENERGY, D("1"), "r1")
    siwe_link(alice, key_of("alice"))
    claims_epoch_close(client=chain)
    tokens_grant(alice, assets.ENERGY, D("2"), "r2")
    snapshot = chain.snapshot()
    epoch = claims_epoch_close(client=chain)
    assert epoch.number == 2 and epoch.status == ClaimEpoch.Status.CONFIRMED
    chain.revert(snapshot)
    chain.mine(3)
    assert chain.root_of(2) == bytes(32)
    claims_sync(client=chain)
    epoch.refresh_from_db()
    assert epoch.status == ClaimEpoch.Status.SUBMITTED
    assert claims_open(organisation=alice)[0]["epoch"] == 1  # the newest anchored root until it is back
    again = claims_epoch_close(client=chain)
    assert again.pk == epoch.pk and again.status == ClaimEpoch.Status.CONFIRMED
    assert "0x" + chain.root_of(2).hex() == epoch.root
    assert [r["amount"] for r in claims_open(organisation=alice)] == [D("3.00")]


def test_a_claim_counts_only_with_the_configured_confirmations(chain):
    alice = world_make(n=1).consumers[0]
    tokens_grant(alice, assets.CAPACITY, D("2"), "c1")
    siwe_link(alice, key_of("alice"))
    claims_epoch_close(client=chain)
    with override_settings(CHAIN_CONFIRMATIONS=3):
        [receipt] = claim_all(chain, key_of("alice"), alice)
        claims_sync(client=chain)
        assert TokenClaim.objects.get(tx_hash=receipt.tx_hash).status == TokenClaim.Status.SEEN
        assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.CAPACITY) == 0
        chain.mine(2)
        claims_sync(client=chain)
    assert TokenClaim.objects.get(tx_hash=receipt.tx_hash).status == TokenClaim.Status.CONFIRMED
    assert balance_of(organisation=alice, kind=K.CLAIMED, asset=assets.CAPACITY) == D("2")


def test_one_wallet_serves_one_organisation(chain):
    """A user in two organisations links one wallet: the first organisation claims with it, the other's tokens
    stay held (an address's leaf belongs to one organisation, or the ledger could not say whose claim it was)."""
    first, second = world_make(n=2).consumers
    tokens_grant(first, assets.ENERGY, D("1"), "s1")
    tokens_grant(second, assets.ENERGY, D("2"), "s2")
    link = siwe_link(first, key_of("shared"), email="shared@example.test")
    Membership.objects.create(user=link.user, organisation=second, role=Membership.Role.CONSUMER)
    epoch = claims_epoch_close(client=chain)
    assert epoch.leaf_count == 1
    assert balance_of(organisation=first, kind=K.CLAIMABLE, asset=assets.ENERGY) == D("1")
    assert balance_of(organisation=second, kind=K.PARTICIPANT, asset=assets.ENERGY) == D("2")
