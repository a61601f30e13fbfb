"""The claims tree (OpenZeppelin StandardMerkleTree over (address, id, cumulative)) and the allocation across
wallets; checked independently with OpenZeppelin's JS library, whose root must match the chain's."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from settlement.chain import ANVIL_DEV_KEY, TokenClient, reset_eth_tester
from settlement.claims_tree import ClaimsTree, allocate, claim_calldata, claim_leaf_hash
from settlement.merkle import keccak256, verify_proof

ROOT = Path(__file__).resolve().parents[2]
A, B, C = ("0x" + keccak256(n.encode()).hex()[:40] for n in "abc")


def test_refusals() -> None:
    with pytest.raises(ValueError, match="address"):
        ClaimsTree([("0x12", 1, 5)])
    with pytest.raises(ValueError, match="uint256"):
        ClaimsTree([(A, 1, -5)])
    with pytest.raises(ValueError, match="one leaf per"):
        ClaimsTree([(A, 1, 5), (A.upper().replace("0X", "0x"), 1, 6)])
    with pytest.raises(ValueError, match="would fall"):
        allocate(previous={A: 10, B: 50}, total=40, current=B)  # never lower a cumulative
    tree = ClaimsTree([(A, 1, 5), (B, 2, 6)])
    dump = tree.dump()
    dump["values"][0]["value"][2] = "7"
    with pytest.raises(ValueError, match="does not match"):
        ClaimsTree.load(dump)


def test_allocation_keeps_old_wallets_and_gives_the_rest_to_the_current_one() -> None:
    assert allocate(previous={}, total=30, current=A) == {A: 30}
    assert allocate(previous={A: 30}, total=50, current=B) == {A: 30, B: 20}
    assert allocate(previous={A: 30, B: 20}, total=60, current=A) == {A: 40, B: 20}
    assert allocate(previous={A: 30}, total=30, current=None) == {A: 30}


def test_proofs_verify_and_the_dump_round_trips() -> None:
    leaves = [(A, 1, 100), (B, 1, 5), (C, 5, 12), (A, 5, 3)]
    tree = ClaimsTree(leaves)
    for i, (a, t, c) in enumerate(leaves):
        assert verify_proof(tree.root, claim_leaf_hash(a, t, c), tree.proof(i))
    assert ClaimsTree.load(json.loads(json.dumps(tree.dump()))).root == tree.root
    data = claim_calldata(3, 1, 100, tree.proof(0))
    assert data.startswith("0x" + keccak256(b"claim(uint64,uint256,uint256,bytes32[])")[:4].hex())


def test_openzeppelin_js_loads_and_validates_the_dump_and_its_root_is_the_chains() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    leaves = [("0x" + keccak256(f"acct {n}".encode()).hex()[:40], 1 + n % 5, 100 * n + 1) for n in range(37)]
    tree = ClaimsTree(leaves)
    out = subprocess.run(  # noqa: S603 - fixed script, our own dump
        [node, str(ROOT / "tools" / "claims_tree_check.js")],
        input=json.dumps(tree.dump()),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    checked = json.loads(out.stdout)
    name = f"claims-js-{uuid.uuid4().hex[:8]}"
    try:
        client = TokenClient(f"eth-tester://{name}", ANVIL_DEV_KEY)
        client.deploy()
        client.anchor(1, tree.root, len(tree))
        assert checked["root"] == "0x" + client.root_of(1).hex() == "0x" + tree.root.hex()
        # A proof made by the JS library claims on chain.
        account = client.with_key("0x" + keccak256(b"js claimant").hex())
        mine = ClaimsTree([*leaves[:-1], (account.address, 2, 4242)])
        checked = json.loads(
            subprocess.run(  # noqa: S603
                [node, str(ROOT / "tools" / "claims_tree_check.js")],
                input=json.dumps(mine.dump()),
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
        client.anchor(2, bytes.fromhex(checked["root"][2:]), len(mine))
        [(_, token_id, cumulative, proof)] = [p for p in checked["proofs"] if p[0] == account.address.lower()]
        assert account.claim(2, int(token_id), int(cumulative), proof).succeeded
        assert account.balance_of(account.address, 2) == 4242
    finally:
        reset_eth_tester(name)
