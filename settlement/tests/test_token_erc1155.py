"""FlexToken's own ERC-1155 core (balance and claimed share one storage slot, ADR 0023) on eth-tester and anvil.

Refusals first (missing approval, zero receiver/operator, insufficient balance, array lengths, a receiver
contract that rejects or answers wrongly, a cumulative above 128 bits, a balance overflow), then transfers,
operator approval, batch transfers to an accepting contract with the standard events, and claims after
transfers: a transfer never changes what an account claimed, so replays stay refused and a later root pays
exactly ``cumulative - claimed``.
"""

from __future__ import annotations

from typing import Any

from settlement.chain import TokenClient
from settlement.claims_tree import ClaimsTree
from settlement.tests import test_token_contract as base
from settlement.tests.chain_helpers import expect_revert

# The chain fixtures of the claims tests (eth-tester and anvil), shared by name.
anvil_node = base.anvil_node
endpoint = base.endpoint
platform = base.platform
alice = base.alice
bob = base.bob

ZERO = "0x0000000000000000000000000000000000000000"
U128_MAX = (1 << 128) - 1
# Runtime code of three tiny receivers. ACCEPT returns the 4-byte selector it was called with (what
# onERC1155Received / onERC1155BatchReceived must answer); REJECT reverts with no data; WRONG returns 32 zero bytes.
ACCEPT = "60003560e01c60e01b60005260206000f3"
REJECT = "60006000fd"
WRONG = "60206000f3"


def _deploy_code(client: TokenClient, runtime_hex: str) -> str:
    runtime = bytes.fromhex(runtime_hex)
    init = bytes([0x60, len(runtime), 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, len(runtime), 0x60, 0x00, 0xF3]) + runtime
    max_fee, priority = client._fees(None, None)
    signed = client._sign(
        {
            "type": 2,
            "chainId": client.chain_id,
            "nonce": client.pending_nonce(),
            "gas": 200_000,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority,
            "to": b"",
            "value": 0,
            "data": init,
        }
    )
    receipt = client.w3.eth.wait_for_transaction_receipt(client.send_raw(signed.raw))
    address = str(receipt["contractAddress"])
    assert client.w3.eth.get_code(address) == runtime
    return address


def _send(client: TokenClient, fn: str, *args: Any):
    return client._transact(getattr(client.contract().functions, fn)(*args))


def _logs(client: TokenClient, event: str, receipt) -> list[dict]:
    found = getattr(client.contract().events, event)().get_logs(
        from_block=receipt.block_number, to_block=receipt.block_number
    )
    return [dict(log["args"]) for log in found if log["transactionHash"].to_0x_hex() == receipt.tx_hash]


def _claim_all(platform: TokenClient, epoch: int, *grants: tuple[TokenClient, int, int]) -> ClaimsTree:
    tree = ClaimsTree([(c.address, token_id, amount) for c, token_id, amount in grants])
    platform.anchor(epoch, tree.root, len(tree))
    for c, token_id, amount in grants:
        c.claim(epoch, token_id, amount, tree.proof(tree.index_of(c.address, token_id)))
    return tree


def test_transfer_refusals(platform: TokenClient, alice: TokenClient, bob: TokenClient) -> None:
    _claim_all(platform, 1, (alice, 2, 1000), (alice, 1, 50))
    a, b = alice.address, bob.address
    # Moving another account's tokens needs its approval, for single and batch transfers.
    expect_revert(lambda: _send(bob, "safeTransferFrom", a, b, 2, 1, b""), "ERC1155MissingApprovalForAll", b, a)
    expect_revert(
        lambda: _send(bob, "safeBatchTransferFrom", a, b, [2], [1], b""), "ERC1155MissingApprovalForAll", b, a
    )
    expect_revert(lambda: _send(alice, "safeTransferFrom", a, ZERO, 2, 1, b""), "ERC1155InvalidReceiver", ZERO)
    expect_revert(
        lambda: _send(alice, "safeTransferFrom", a, b, 2, 1001, b""), "ERC1155InsufficientBalance", a, 1000, 1001, 2
    )
    expect_revert(lambda: _send(alice, "safeTransferFrom", a, b, 3, 1, b""), "ERC1155InsufficientBalance", a, 0, 1, 3)
    expect_revert(
        lambda: _send(alice, "safeBatchTransferFrom", a, b, [2, 1], [10, 51], b""),
        "ERC1155InsufficientBalance",
        a,
        50,
        51,
        1,
    )
    expect_revert(
        lambda: _send(alice, "safeBatchTransferFrom", a, b, [2, 1], [10], b""), "ERC1155InvalidArrayLength", 2, 1
    )
    expect_revert(lambda: _send(alice, "setApprovalForAll", ZERO, True), "ERC1155InvalidOperator", ZERO)
    expect_revert(
        lambda: alice.contract().functions.balanceOfBatch([a, b], [2]).call(), "ERC1155InvalidArrayLength", 1, 2
    )
    # Receiver contracts: one that reverts, one that answers something else than the selector.
    for code in (REJECT, WRONG):
        receiver = _deploy_code(platform, code)
        expect_revert(
            lambda receiver=receiver: _send(alice, "safeTransferFrom", a, receiver, 2, 1, b""),
            "ERC1155InvalidReceiver",
            receiver,
        )
        expect_revert(
            lambda receiver=receiver: _send(alice, "safeBatchTransferFrom", a, receiver, [2, 1], [1, 1], b""),
            "ERC1155InvalidReceiver",
            receiver,
        )
    # Nothing moved; nothing claimed changed.
    assert alice.contract().functions.balanceOfBatch([a, a, b], [2, 1, 2]).call() == [1000, 50, 0]
    assert (alice.claimed_of(a, 2), alice.claimed_of(b, 2)) == (1000, 0)


def test_cumulative_and_balance_stay_within_the_packed_slot(
    platform: TokenClient, alice: TokenClient, bob: TokenClient
) -> None:
    a, b = alice.address, bob.address
    tree = ClaimsTree([(a, 4, U128_MAX + 1), (b, 4, U128_MAX), (a, 5, 1)])
    platform.anchor(1, tree.root, len(tree))
    # A cumulative that does not fit the 128-bit claimed half is refused, never truncated.
    expect_revert(
        lambda: alice.claim(1, 4, U128_MAX + 1, tree.proof(tree.index_of(a, 4))),
        "SafeCastOverflowedUintDowncast",
        128,
        U128_MAX + 1,
    )
    assert (alice.claimed_of(a, 4), alice.balance_of(a, 4)) == (0, 0)
    bob.claim(1, 4, U128_MAX, tree.proof(tree.index_of(b, 4)))
    assert (bob.claimed_of(b, 4), bob.balance_of(b, 4)) == (U128_MAX, U128_MAX)
    expect_revert(
        lambda: bob.claim(1, 4, U128_MAX, tree.proof(tree.index_of(b, 4))), "NothingToClaim", b, 4, U128_MAX, U128_MAX
    )
    # A balance that would pass 2**128 - 1 reverts (checked arithmetic), it never wraps into the claimed half.
    alice.claim(1, 5, 1, tree.proof(tree.index_of(a, 5)))
    bigger = ClaimsTree([(a, 4, 1), (b, 4, U128_MAX)])
    platform.anchor(2, bigger.root, len(bigger))
    alice.claim(2, 4, 1, bigger.proof(bigger.index_of(a, 4)))
    expect_revert(lambda: _send(alice, "safeTransferFrom", a, b, 4, 1, b""), "Panic", 0x11)
    assert (bob.balance_of(b, 4), bob.claimed_of(b, 4), alice.balance_of(a, 4)) == (U128_MAX, U128_MAX, 1)


def test_transfers_approvals_and_batches(platform: TokenClient, alice: TokenClient, bob: TokenClient) -> None:
    _claim_all(platform, 1, (alice, 2, 1000), (alice, 1, 50), (bob, 2, 5))
    a, b = alice.address, bob.address
    receipt = _send(alice, "safeTransferFrom", a, b, 2, 300, b"")
    assert _logs(alice, "TransferSingle", receipt) == [{"operator": a, "from": a, "to": b, "id": 2, "value": 300}]
    assert (alice.balance_of(a, 2), alice.balance_of(b, 2)) == (700, 305)
    assert (alice.claimed_of(a, 2), alice.claimed_of(b, 2)) == (1000, 5)  # transfers never touch claimed
    # A transfer to oneself changes nothing.
    _send(alice, "safeTransferFrom", a, a, 2, 700, b"")
    assert alice.balance_of(a, 2) == 700
    # Operator approval: granted, used (operator = bob in the event), revoked.
    receipt = _send(alice, "setApprovalForAll", b, True)
    assert _logs(alice, "ApprovalForAll", receipt) == [{"account": a, "operator": b, "approved": True}]
    assert alice.contract().functions.isApprovedForAll(a, b).call()
    receipt = _send(bob, "safeTransferFrom", a, b, 2, 100, b"")
    assert _logs(bob, "TransferSingle", receipt) == [{"operator": b, "from": a, "to": b, "id": 2, "value": 100}]
    _send(alice, "setApprovalForAll", b, False)
    expect_revert(lambda: _send(bob, "safeTransferFrom", a, b, 2, 1, b""), "ERC1155MissingApprovalForAll", b, a)
    # Batch transfer to a contract that accepts (it answers onERC1155BatchReceived's selector).
    receiver = _deploy_code(platform, ACCEPT)
    receipt = _send(alice, "safeBatchTransferFrom", a, receiver, [2, 1], [600, 50], b"\x01")
    assert _logs(alice, "TransferBatch", receipt) == [
        {"operator": a, "from": a, "to": receiver, "ids": [2, 1], "values": [600, 50]}
    ]
    # A one-element batch emits TransferSingle and asks onERC1155Received, as OpenZeppelin's ERC1155 does.
    receipt = _send(bob, "safeBatchTransferFrom", b, receiver, [2], [5], b"")
    assert _logs(bob, "TransferSingle", receipt) == [{"operator": b, "from": b, "to": receiver, "id": 2, "value": 5}]
    balances = alice.contract().functions.balanceOfBatch([a, a, b, receiver, receiver], [2, 1, 2, 2, 1]).call()
    assert balances == [0, 0, 400, 605, 50]


def test_claims_after_transfers(platform: TokenClient, alice: TokenClient, bob: TokenClient) -> None:
    a, b = alice.address, bob.address
    first = _claim_all(platform, 1, (alice, 3, 1000))
    _send(alice, "safeTransferFrom", a, b, 3, 1000, b"")
    # An empty balance does not reopen the claim: claimed is kept beside it.
    i = first.index_of(a, 3)
    expect_revert(lambda: alice.claim(1, 3, 1000, first.proof(i)), "NothingToClaim", a, 3, 1000, 1000)
    second = ClaimsTree([(a, 3, 1500), (b, 3, 200)])
    platform.anchor(2, second.root, 2)
    receipt = alice.claim(2, 3, 1500, second.proof(second.index_of(a, 3)))
    assert _logs(alice, "TransferSingle", receipt) == [{"operator": a, "from": ZERO, "to": a, "id": 3, "value": 500}]
    assert (alice.balance_of(a, 3), alice.claimed_of(a, 3)) == (500, 1500)
    # Bob holds 1000 received tokens and claims his own 200: received tokens never count as claimed.
    bob.claim(2, 3, 200, second.proof(second.index_of(b, 3)))
    assert (bob.balance_of(b, 3), bob.claimed_of(b, 3)) == (1200, 200)
    expect_revert(lambda: alice.claim(1, 3, 1000, first.proof(i)), "NothingToClaim", a, 3, 1000, 1500)
