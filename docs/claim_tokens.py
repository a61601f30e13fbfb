"""Claim your FLEX tokens on chain with only web3 and the proof bundle the platform exported, without the platform.

    CLAIM_PRIVATE_KEY=0x... python claim_tokens.py flex-claims.json RPC_URL [--contract 0x...] [--dry-run]

Needs only web3 (``pip install web3``), an RPC URL of the chain, the key of the wallet you linked (read from the
``CLAIM_PRIVATE_KEY`` environment variable, never from the command line) and the bundle you downloaded from the
portal ("Wallet & claims" -> "Download your proof bundle"). Pin the token contract with ``--contract`` (the
address the platform publishes) when you can: otherwise the bundle's own address is used.

For each claim of the bundle that belongs to your key's address the script recomputes the OpenZeppelin
StandardMerkleTree leaf ``keccak256(keccak256(abi.encode(account, id, cumulative)))``, folds the proof to the
root, checks that the contract holds that root for the epoch and that something is left to claim, then sends
``claim(epoch, id, cumulative, proof)`` signed by your key and prints the transaction and your new balance.
Exit 0 when every claim went through (or there was nothing to claim), 1 when one was refused, 2 on usage errors.
"""

import argparse
import json
import os
import sys

from eth_abi import encode
from web3 import Web3

ABI = [
    {"name": "claim", "type": "function", "stateMutability": "nonpayable",
     "inputs": [{"name": "epoch", "type": "uint64"}, {"name": "id", "type": "uint256"},
                {"name": "cumulative", "type": "uint256"}, {"name": "proof", "type": "bytes32[]"}], "outputs": []},
    {"name": "claimsRootOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "epoch", "type": "uint64"}], "outputs": [{"name": "", "type": "bytes32"}]},
    {"name": "claimedOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}, {"name": "id", "type": "uint256"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "balanceOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}, {"name": "id", "type": "uint256"}],
     "outputs": [{"name": "", "type": "uint256"}]},
]  # fmt: skip
DONE, REFUSED, USAGE = 0, 1, 2


def leaf_of(account: str, token_id: int, cumulative: int) -> bytes:
    inner = Web3.keccak(encode(["address", "uint256", "uint256"], [account, token_id, cumulative]))
    return bytes(Web3.keccak(inner))


def fold(leaf: bytes, proof: list[str]) -> bytes:
    node = leaf
    for sibling in proof:
        other = bytes.fromhex(sibling[2:])
        node = bytes(Web3.keccak(min(node, other) + max(node, other)))
    return node


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("rpc_url")
    parser.add_argument("--contract", help="the FlexToken address the platform publishes (default: the bundle's)")
    parser.add_argument("--dry-run", action="store_true", help="check everything, send nothing")
    args = parser.parse_args(argv)
    key = os.environ.get("CLAIM_PRIVATE_KEY", "")
    if not key:
        print("Set CLAIM_PRIVATE_KEY to the key of your linked wallet.", file=sys.stderr)
        return USAGE
    with open(args.bundle, encoding="utf-8") as f:
        bundle = json.load(f)
    if bundle.get("format") != "flexplatform-claims-v1":
        print("Not a flexplatform claims bundle.", file=sys.stderr)
        return USAGE
    w3 = Web3(Web3.HTTPProvider(args.rpc_url))
    account = w3.eth.account.from_key(key)
    address = args.contract or bundle.get("contract")
    if not address:
        print("Nothing to claim in this bundle.")
        return DONE
    if bundle.get("chainId") is not None and w3.eth.chain_id != bundle["chainId"]:
        print(f"The node is on chain {w3.eth.chain_id}, the bundle on {bundle['chainId']}.", file=sys.stderr)
        return USAGE
    token = w3.eth.contract(address=Web3.to_checksum_address(address), abi=ABI)
    mine = [c for c in bundle["claims"] if c["account"].lower() == account.address.lower()]
    if not mine:
        print(f"No claim of {account.address} in this bundle.")
        return DONE
    epoch = int(bundle["epoch"])
    root = bytes(token.functions.claimsRootOf(epoch).call())
    status = DONE
    for c in mine:
        token_id, cumulative = int(c["tokenId"]), int(c["cumulative"])
        if fold(leaf_of(account.address, token_id, cumulative), c["proof"]) != root:
            print(f"{c['asset']}: the proof does not lead to the root the contract holds for epoch {epoch}.")
            status = REFUSED
            continue
        already = token.functions.claimedOf(account.address, token_id).call()
        if already >= cumulative:
            print(f"{c['asset']}: already claimed ({already / 100:.2f}).")
            continue
        print(f"{c['asset']}: claiming {(cumulative - already) / 100:.2f} (epoch {epoch})")
        if args.dry_run:
            continue
        call = token.functions.claim(epoch, token_id, cumulative, [bytes.fromhex(p[2:]) for p in c["proof"]])
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0)
        tx = call.build_transaction(
            {
                "from": account.address,
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "chainId": w3.eth.chain_id,
                "maxPriorityFeePerGas": 10**9,
                "maxFeePerGas": 2 * base + 10**9,
            }
        )
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction), timeout=120
        )
        balance = token.functions.balanceOf(account.address, token_id).call()
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if receipt["status"] != 1:
            print(f"  reverted in {tx_hash}")
            status = REFUSED
            continue
        print(f"  claimed in {tx_hash} (gas {receipt['gasUsed']}); balance now {balance / 100:.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
