"""FlexAnchor contract through settlement.chain.AnchorClient, on two backends.

Every test runs on an in-process eth-tester chain (py-evm, prague) and on an anvil node started
for this module on a free port (skipped when the anvil binary is missing). Each test deploys
its own contract, so tests do not share periods.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from settlement.chain import (
    ANVIL_DEV_KEY,
    ANVIL_DEV_KEYS,
    AnchorClient,
    AnchoredRoot,
    AnvilProcess,
    decode_revert,
    load_artifact,
    reset_eth_tester,
)
from settlement.chain.anvil import anvil_binary
from settlement.merkle import MerkleTree, asset_code, keccak256, leaf_hash, participant_ref, verify_proof
from settlement.tests.chain_helpers import expect_revert

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The target. One root slot written from zero (22,100), the role check (2,100 cold SLOAD),
# 21,000 intrinsic, calldata and the event: ~48.6k on prague (docs/adr/0003-anchor-gas.md).
ANCHOR_GAS_LIMIT = 60_000
OUTSIDER_KEY = "0x" + keccak256(b"flexplatform test outsider").hex()
ROOT = keccak256(b"settlement root")
OTHER_ROOT = keccak256(b"another root")


@pytest.fixture(scope="module")
def anvil_node() -> Iterator[AnvilProcess]:
    if not anvil_binary().is_file():
        pytest.skip(f"anvil binary not found at {anvil_binary()} (run `npm ci`)")
    node = AnvilProcess()
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(RPC URL, key of an account without any role) for each backend."""
    if request.param == "anvil":
        node = request.getfixturevalue("anvil_node")
        yield node.url, ANVIL_DEV_KEYS[1]
    else:
        name = f"test-contract-{uuid.uuid4().hex[:8]}"
        yield f"eth-tester://{name}", OUTSIDER_KEY
        reset_eth_tester(name)


@pytest.fixture
def client(endpoint: tuple[str, str]) -> AnchorClient:
    url, _ = endpoint
    anchor_client = AnchorClient(url, ANVIL_DEV_KEY)
    anchor_client.deploy()
    return anchor_client


@pytest.fixture
def outsider(client: AnchorClient, endpoint: tuple[str, str]) -> AnchorClient:
    _, key = endpoint
    return client.with_key(key)  # funded on eth-tester; anvil's second dev account has ether


def _calldata_gas(client: AnchorClient, tx_hash: str) -> int:
    data = bytes(client.w3.eth.get_transaction(tx_hash)["input"])
    return sum(4 if b == 0 else 16 for b in data)


def test_deploy_grants_admin_and_anchorer_to_deployer(client: AnchorClient, outsider: AnchorClient) -> None:
    assert client.contract_address is not None
    code = client.w3.eth.get_code(client.contract_address)
    assert bytes(code) == bytes.fromhex(load_artifact().deployed_bytecode[2:])
    assert client.is_anchorer(client.address)
    assert not client.is_anchorer(outsider.address)
    assert client.anchorer_role() == keccak256(b"ANCHORER_ROLE")


def test_anchor_and_read_back(client: AnchorClient) -> None:
    assert client.root_of(202_401) == bytes(32)
    assert client.anchored_root(202_401) == AnchoredRoot(bytes(32), 0, 0)
    assert not client.anchored_root(202_401).anchored
    assert client.leaf_count_of(202_401) is None

    receipt = client.anchor(202_401, ROOT, 1234)

    assert receipt.succeeded
    assert client.root_of(202_401) == ROOT
    # The leaf count and block are not in storage: they come back from the RootAnchored log.
    assert client.anchored_root(202_401) == AnchoredRoot(ROOT, 1234, receipt.block_number)
    assert client.leaf_count_of(202_401) == 1234
    event = client.anchor_event(202_401)
    assert event is not None and (event.tx_hash, event.block_hash) == (receipt.tx_hash, receipt.block_hash)
    assert client.receipt(receipt.tx_hash) == receipt
    assert client.block_hash(receipt.block_number) == receipt.block_hash
    events = client.anchor_events(from_block=receipt.block_number)
    assert [(e.period, e.root, e.leaf_count, e.tx_hash) for e in events] == [(202_401, ROOT, 1234, receipt.tx_hash)]


def test_period_is_anchored_only_once(client: AnchorClient) -> None:
    client.anchor(7, ROOT, 10)
    expect_revert(lambda: client.anchor(7, OTHER_ROOT, 11), "PeriodAlreadyAnchored", 7)
    expect_revert(lambda: client.anchor(7, ROOT, 10), "PeriodAlreadyAnchored", 7)
    assert client.root_of(7) == ROOT
    assert client.leaf_count_of(7) == 10


def test_zero_root_is_refused(client: AnchorClient) -> None:
    expect_revert(lambda: client.anchor(8, bytes(32), 10), "ZeroRoot")
    assert client.root_of(8) == bytes(32)


def test_sender_without_role_is_refused_until_granted(client: AnchorClient, outsider: AnchorClient) -> None:
    info = expect_revert(lambda: outsider.anchor(9, ROOT, 1), "AccessControlUnauthorizedAccount")
    assert info.args == (outsider.address, client.anchorer_role())
    # Only the admin may grant the role.
    expect_revert(lambda: outsider.grant_anchorer(outsider.address), "AccessControlUnauthorizedAccount")

    granted = client.grant_anchorer(outsider.address)

    assert granted.succeeded
    assert client.is_anchorer(outsider.address)
    assert outsider.anchor(9, ROOT, 1).succeeded
    assert client.root_of(9) == ROOT


def test_verify_proofs_of_a_settlement_tree(client: AnchorClient) -> None:
    values = [
        (i, participant_ref(f"participant-{i % 5}"), asset_code("EUR"), (-1) ** i * 1_000 * i, 1_717_200_000)
        for i in range(1, 51)
    ]
    tree = MerkleTree.of(values)
    client.anchor(2024_06, tree.root, tree.leaf_count)

    for i in (0, 1, 17, 49):
        leaf = leaf_hash(values[i])
        assert client.verify(2024_06, tree.proof(i), leaf)
        assert verify_proof(tree.root, leaf, tree.proof(i))
    item_id, participant, asset, amount, start = values[17]
    tampered = leaf_hash((item_id, participant, asset, amount + 1, start))
    assert not client.verify(2024_06, tree.proof(17), tampered)
    assert not client.verify(2024_06, tree.proof(16), leaf_hash(values[17]))
    assert not client.verify(2024_07, tree.proof(17), leaf_hash(values[17]))  # no root for that period


def test_single_leaf_tree_verifies_with_empty_proof(client: AnchorClient) -> None:
    values = [(1, participant_ref("p"), asset_code("USD"), -5, 1_700_000_000)]
    tree = MerkleTree.of(values)
    client.anchor(1, tree.root, 1)
    assert client.verify(1, [], leaf_hash(values[0]))


def test_anchor_gas_is_bounded_and_independent_of_leaf_count(client: AnchorClient) -> None:
    small = client.anchor(100, ROOT, 1)
    large = client.anchor(101, OTHER_ROOT, 1_000_000)

    assert small.gas_used < ANCHOR_GAS_LIMIT
    assert large.gas_used < ANCHOR_GAS_LIMIT
    # Execution cost is identical; only calldata pricing (zero vs non-zero bytes) differs.
    assert small.gas_used - _calldata_gas(client, small.tx_hash) == large.gas_used - _calldata_gas(
        client, large.tx_hash
    )
    assert abs(small.gas_used - large.gas_used) <= 12 * 8
    # Exactly one fresh storage slot: a second one alone (22,100) plus intrinsic would pass 43k.
    assert small.gas_used - 21_000 - _calldata_gas(client, small.tx_hash) < 22_100 + 2 * 2_100 + 3_000


def test_signed_transactions_with_explicit_nonces(client: AnchorClient) -> None:
    nonce = client.pending_nonce()
    assert nonce == client.latest_nonce()
    first = client.build_anchor_tx(300, ROOT, 3, nonce=nonce)
    second = client.build_anchor_tx(301, OTHER_ROOT, 4, nonce=nonce + 1, max_priority_fee_per_gas=2 * 10**9)

    assert first.chain_id == second.chain_id == client.chain_id
    assert second.max_priority_fee_per_gas == 2 * 10**9
    assert client.send_raw(first.raw) == first.tx_hash
    assert client.send_raw(second.raw_hex) == second.tx_hash
    assert client.wait(first.tx_hash).succeeded
    assert client.wait(second.tx_hash).succeeded
    assert client.latest_nonce() == nonce + 2
    assert client.anchored_root(301) == AnchoredRoot(OTHER_ROOT, 4, client.receipt(second.tx_hash).block_number)


def test_snapshot_revert_and_mine(client: AnchorClient) -> None:
    snapshot = client.snapshot()
    start = client.block_number()
    receipt = client.anchor(400, ROOT, 1)
    assert client.receipt(receipt.tx_hash) is not None

    assert client.revert(snapshot)

    assert client.block_number() == start
    assert client.receipt(receipt.tx_hash) is None
    assert not client.anchored_root(400).anchored
    assert client.anchor_event(400) is None
    client.mine(3)
    assert client.block_number() == start + 3


def test_decode_revert_refuses_non_reverts() -> None:
    with pytest.raises(ValueError):
        decode_revert(RuntimeError("connection refused"))


def test_client_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        AnchorClient("ws://127.0.0.1:8545", ANVIL_DEV_KEY)
    with pytest.raises(ValueError):
        AnchorClient("eth-tester://", "0x1234")
    assert "ac0974" not in repr(AnchorClient("eth-tester://", ANVIL_DEV_KEY))


def test_artifact_is_not_stale() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [node, str(PROJECT_ROOT / "contracts" / "compile.js"), "--check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    artifact = load_artifact()
    assert artifact.settings["evmVersion"] == "prague"
    assert artifact.settings["optimizer"] == {"enabled": True, "runs": 200}
    assert artifact.compiler_version.startswith("0.8.37")


def test_resending_a_known_transaction_is_harmless(client: AnchorClient) -> None:
    signed = client.build_anchor_tx(500, ROOT, 5, nonce=client.pending_nonce())
    assert client.send_raw(signed.raw) == signed.tx_hash
    client.wait(signed.tx_hash)
    assert client.send_raw(signed.raw) == signed.tx_hash  # already mined: same hash, no error
    assert client.has_transaction(signed.tx_hash)
    assert not client.has_transaction("0x" + "00" * 32)
    stale = client.build_anchor_tx(501, ROOT, 5, nonce=client.pending_nonce(), gas=100_000)
    client.anchor(502, OTHER_ROOT, 1)  # takes the nonce the stale transaction was signed with
    with pytest.raises(Exception):  # noqa: B017 - nonce too low, backend-specific exception type
        client.send_raw(stale.raw)


def test_anvil_state_file_keeps_the_chain(tmp_path: Path) -> None:
    if not anvil_binary().is_file():
        pytest.skip("anvil binary not found")
    state = tmp_path / "anvil-state.json"
    with AnvilProcess(state_file=state) as node:
        first = AnchorClient(node.url, ANVIL_DEV_KEY)
        address = first.deploy()
        receipt = first.anchor(1, ROOT, 42)
    assert not node.running
    assert state.is_file()
    with AnvilProcess(state_file=state) as node:
        again = AnchorClient(node.url, ANVIL_DEV_KEY, address)
        assert again.anchored_root(1) == AnchoredRoot(ROOT, 42, receipt.block_number)
