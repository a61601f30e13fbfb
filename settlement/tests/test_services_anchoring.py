"""The anchoring pipeline: confirmations, failure, fee replacement, reorganisation, outage, concurrency.

Chain-facing tests run on anvil (JSON-RPC, started for this module) or on the in-process eth-tester chain;
the database is whatever DATABASE_URL says (SQLite or Postgres), the concurrency test Postgres only.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from settlement.chain import AnchorClient, AnvilProcess, free_port, reset_eth_tester
from settlement.models import AnchorAlert, AnchorTransaction, ChainAccount, PeriodAnchor
from settlement.services import anchoring
from settlement.services.anchoring import chain_client, period_number, periods_anchor_closed
from settlement.tasks import anchor_closed_periods
from settlement.tests.anchoring_helpers import anvil_node, closed_hours, items_create  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_anvil(settings, anvil_node: AnvilProcess) -> AnchorClient:  # noqa: F811
    settings.CHAIN_RPC_URL = anvil_node.url
    anchoring._client.cache_clear()
    yield chain_client()
    anchoring._client.cache_clear()


@pytest.fixture
def on_eth_tester(settings) -> AnchorClient:
    name = f"anchoring-{uuid.uuid4().hex[:8]}"
    settings.CHAIN_RPC_URL = f"eth-tester://{name}"
    anchoring._client.cache_clear()
    yield chain_client()
    anchoring._client.cache_clear()
    reset_eth_tester(name)


def _anchors() -> list[PeriodAnchor]:
    return list(PeriodAnchor.objects.select_related("period").order_by("period__start"))


def _events_by_period(client: AnchorClient) -> dict[int, int]:
    counts: dict[int, int] = {}
    for event in client.anchor_events():
        counts[event.period] = counts.get(event.period, 0) + 1
    return counts


def test_outage_then_recovery_anchors_every_period_once_in_order(settings) -> None:
    port = free_port()
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{port}"  # nothing listens there yet
    anchoring._client.cache_clear()
    hours = closed_hours(4)
    items_create(hours)

    assert anchor_closed_periods() == []  # no crash, nothing anchored

    anchors = _anchors()  # every closed hour is sealed (root built, stored); none is sent
    assert [a.period.start for a in anchors] == hours
    assert all(a.status == PeriodAnchor.Status.BUILT and "unreachable" in a.last_error for a in anchors)
    assert not AnchorTransaction.objects.exists()

    with AnvilProcess(port=port):
        anchoring._client.cache_clear()
        anchor_closed_periods()
        anchor_closed_periods()  # the task is safe to run twice
        client = chain_client()
        anchors = _anchors()
        assert [a.period.start for a in anchors] == hours
        assert all(a.status == PeriodAnchor.Status.CONFIRMED for a in anchors)
        # Exactly once per period, in period order, with consecutive nonces.
        assert _events_by_period(client) == {period_number(a.period): 1 for a in anchors}
        txs = list(AnchorTransaction.objects.order_by("anchor__period__start"))
        assert len(txs) == 4
        nonces = [t.nonce for t in txs]
        assert nonces == list(range(nonces[0], nonces[0] + 4))
        blocks = [a.block_number for a in anchors]
        assert blocks == sorted(blocks)
        for anchor in anchors:
            assert "0x" + client.root_of(period_number(anchor.period)).hex() == anchor.root
            assert client.leaf_count_of(period_number(anchor.period)) == anchor.leaf_count == 3
        assert client.latest_nonce() == nonces[-1] + 1
    anchoring._client.cache_clear()


def test_confirmations_are_counted(settings, on_eth_tester: AnchorClient) -> None:
    settings.CHAIN_CONFIRMATIONS = 3
    items_create(closed_hours(1))

    periods_anchor_closed()
    (anchor,) = _anchors()
    assert anchor.status == PeriodAnchor.Status.SUBMITTED
    assert anchor.block_number is not None  # mined, 1 confirmation

    on_eth_tester.mine(1)
    periods_anchor_closed()
    assert _anchors()[0].status == PeriodAnchor.Status.SUBMITTED  # 2 of 3

    on_eth_tester.mine(1)
    periods_anchor_closed()
    anchor = _anchors()[0]
    assert anchor.status == PeriodAnchor.Status.CONFIRMED
    assert anchor.confirmed_at is not None
    assert anchor.gas_used < 60_000


def test_refused_call_raises_an_alert_sends_nothing_and_recovers(on_eth_tester: AnchorClient) -> None:
    client = on_eth_tester
    anchoring.deployment_current(client=client)
    role = client.anchorer_role()
    client._transact(client.contract().functions.revokeRole(role, client.address))
    hours = closed_hours(2)
    items_create(hours)
    nonce_before = client.latest_nonce()

    periods_anchor_closed()  # no exception

    anchors = _anchors()
    assert [a.status for a in anchors] == [PeriodAnchor.Status.BUILT] * 2  # sealed; the second waits behind
    assert "AccessControlUnauthorizedAccount" in anchors[0].last_error
    assert anchors[1].last_error == ""
    alert = AnchorAlert.objects.get()
    assert alert.kind == AnchorAlert.Kind.ANCHOR_FAILED and alert.anchor == anchors[0]
    assert not AnchorTransaction.objects.exists()
    assert client.latest_nonce() == nonce_before  # nothing was sent, no nonce consumed

    client.grant_anchorer(client.address)
    periods_anchor_closed()
    assert [a.status for a in _anchors()] == [PeriodAnchor.Status.CONFIRMED] * 2
    nonces = sorted(AnchorTransaction.objects.values_list("nonce", flat=True))
    assert nonces == [nonce_before + 1, nonce_before + 2]  # the grant took nonce_before: no gap, no reuse


def test_underpriced_transaction_is_replaced_with_the_same_nonce(on_anvil: AnchorClient) -> None:
    client = on_anvil
    anchoring.deployment_current(client=client)
    items_create(closed_hours(1))
    client._rpc("evm_setAutomine", [False])
    try:
        periods_anchor_closed()
        (anchor,) = _anchors()
        assert anchor.status == PeriodAnchor.Status.SUBMITTED and anchor.block_number is None
        first = AnchorTransaction.objects.get()
        # The base fee jumps above the transaction's fee cap: it cannot be mined any more.
        client._rpc("anvil_setNextBlockBaseFeePerGas", [hex(first.max_fee_per_gas * 10)])
        client.mine(1)
        assert client.base_fee() > first.max_fee_per_gas
        assert client.receipt(first.tx_hash) is None

        periods_anchor_closed()

        first_, second = AnchorTransaction.objects.order_by("id")
        assert first_ == first
        assert second.kind == AnchorTransaction.Kind.FEE_REPLACEMENT
        assert second.nonce == first.nonce
        assert second.max_fee_per_gas >= first.max_fee_per_gas * 1.125
        assert second.max_priority_fee_per_gas >= first.max_priority_fee_per_gas * 1.125
        assert second.max_fee_per_gas >= client.base_fee()
        client.mine(1)
    finally:
        client._rpc("evm_setAutomine", [True])
    periods_anchor_closed()
    anchor = _anchors()[0]
    assert anchor.status == PeriodAnchor.Status.CONFIRMED
    assert anchor.tx_hash == second.tx_hash  # the replacement was mined; the original never is
    assert client.receipt(first.tx_hash) is None
    assert _events_by_period(client)[period_number(anchor.period)] == 1


def test_reorganised_anchor_is_resubmitted(on_anvil: AnchorClient) -> None:
    client = on_anvil
    anchoring.deployment_current(client=client)
    hours = closed_hours(3)
    items_create(hours)
    snapshot = client.snapshot()
    periods_anchor_closed()
    before = {a.pk: (a.tx_hash, a.block_hash) for a in _anchors()}
    assert all(a.status == PeriodAnchor.Status.CONFIRMED for a in _anchors())

    assert client.revert(snapshot)  # the blocks holding the anchors are gone
    client.mine(2)  # the chain moves on with other blocks at those heights
    # Another transaction of ours takes the first anchor's nonce meanwhile: it must get a new one.
    client.anchor(9_999_999, b"\x01" * 32, 1)
    for anchor in _anchors():
        assert client.root_of(period_number(anchor.period)) == bytes(32)

    periods_anchor_closed()
    # The first anchor's nonce was taken: it was re-signed with the next free nonce, behind the re-broadcast
    # transactions of the later periods, and is confirmed by the next run.
    periods_anchor_closed()

    anchors = _anchors()
    assert all(a.status == PeriodAnchor.Status.CONFIRMED for a in anchors), [
        (a.status, a.last_error, list(a.transactions.values_list("kind", "nonce"))) for a in anchors
    ]
    assert _events_by_period(client) == {9_999_999: 1} | {period_number(a.period): 1 for a in anchors}
    for anchor in anchors:
        assert "0x" + client.root_of(period_number(anchor.period)).hex() == anchor.root
        assert client.block_hash(anchor.block_number) == anchor.block_hash != before[anchor.pk][1]
    resubmitted = AnchorTransaction.objects.filter(kind=AnchorTransaction.Kind.RESUBMISSION)
    assert resubmitted.exists()
    # No nonce is used twice by mined transactions and none is skipped.
    mined = sorted(t.nonce for t in AnchorTransaction.objects.all() if client.receipt(t.tx_hash) is not None)
    assert len(mined) == len(set(mined)) == 3
    assert client.latest_nonce() == max(mined) + 1


@pytest.mark.postgres
def test_two_concurrent_tasks_never_reuse_or_skip_a_nonce(on_anvil: AnchorClient, anvil_node: AnvilProcess) -> None:  # noqa: F811
    deployment = anchoring.deployment_current(client=on_anvil)
    hours = closed_hours(6)
    items_create(hours, per_hour=2)
    start_nonce = on_anvil.latest_nonce()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        client = AnchorClient(anvil_node.url, on_anvil._private_key, deployment.address)
        try:
            barrier.wait()
            for _ in range(3):
                periods_anchor_closed(client=client)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    periods_anchor_closed()

    anchors = _anchors()
    assert len(anchors) == 6 and all(a.status == PeriodAnchor.Status.CONFIRMED for a in anchors)
    nonces = sorted(AnchorTransaction.objects.values_list("nonce", flat=True))
    assert nonces == list(range(start_nonce, start_nonce + 6))
    assert on_anvil.latest_nonce() == start_nonce + 6
    assert ChainAccount.objects.get().next_nonce == start_nonce + 6
    counts = _events_by_period(on_anvil)
    assert all(counts[period_number(a.period)] == 1 for a in anchors)


def test_reverted_transaction_against_a_foreign_root_fails_with_an_alert(on_anvil: AnchorClient) -> None:
    from settlement.chain import ANVIL_DEV_KEYS

    client = on_anvil
    anchoring.deployment_current(client=client)
    intruder = client.with_key(ANVIL_DEV_KEYS[2])
    client.grant_anchorer(intruder.address)  # e.g. a second, misconfigured platform instance
    items_create(closed_hours(1))
    client._rpc("evm_setAutomine", [False])
    try:
        periods_anchor_closed()
        (anchor,) = _anchors()
        assert anchor.status == PeriodAnchor.Status.SUBMITTED
        period = period_number(anchor.period)
        foreign = intruder.build_anchor_tx(
            period, b"\x02" * 32, 1, nonce=intruder.pending_nonce(), max_priority_fee_per_gas=50 * 10**9,
            max_fee_per_gas=100 * 10**9,
        )  # fmt: skip
        intruder.send_raw(foreign.raw)
        client.mine(1)  # the higher tip goes first: our transaction reverts with PeriodAlreadyAnchored
    finally:
        client._rpc("evm_setAutomine", [True])
    assert client.receipt(anchor.tx_hash).status == 0

    periods_anchor_closed()

    anchor = _anchors()[0]
    assert anchor.status == PeriodAnchor.Status.FAILED
    assert "different root" in anchor.last_error
    alert = AnchorAlert.objects.get(anchor=anchor)
    assert alert.kind == AnchorAlert.Kind.CHAIN_MISMATCH
    periods_anchor_closed()  # a failed period is not re-sent
    assert AnchorTransaction.objects.count() == 1
