"""Verify a flexplatform payment proof bundle against the chain, without the platform.

    python verify_bundle.py payment-123-proof.json http://127.0.0.1:8545

Needs only web3 (``pip install web3``) and the bundle (downloaded from the portal or from
``GET /api/v1/settlement/items/<id>/proof/download/``). It recomputes the OpenZeppelin
StandardMerkleTree leaf from the bundle's values, then asks the FlexAnchor contract on any node of
the chain whether the proof leads to the root anchored for the period. Exit 0 when valid, 1 if not.
"""

import json
import sys

from eth_abi import encode
from web3 import Web3

ABI = [
    {"name": "verify", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "period", "type": "uint64"}, {"name": "proof", "type": "bytes32[]"},
                {"name": "leaf", "type": "bytes32"}], "outputs": [{"name": "", "type": "bool"}]},
    {"name": "rootOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "period", "type": "uint64"}], "outputs": [{"name": "", "type": "bytes32"}]},
]  # fmt: skip


def main(bundle_path: str, rpc_url: str) -> int:
    with open(bundle_path) as f:
        bundle = json.load(f)
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    if bundle.get("chain_id") is not None and w3.eth.chain_id != bundle["chain_id"]:
        print(f"NOT VALID: the node is on chain {w3.eth.chain_id}, the bundle on {bundle['chain_id']}")
        return 1
    # leaf = keccak256(keccak256(abi.encode(values))) over (uint256, bytes32, bytes32, int256, uint64)
    v = bundle["leaf_values"]
    values = [int(v[0]), bytes.fromhex(v[1][2:]), bytes.fromhex(v[2][2:]), int(v[3]), int(v[4])]
    leaf = Web3.keccak(Web3.keccak(encode(bundle["leaf_encoding"], values)))
    if "0x" + bytes(leaf).hex() != bundle["leaf"].lower():
        print("NOT VALID: the leaf values do not hash to the bundle's leaf")
        return 1
    anchor = w3.eth.contract(address=Web3.to_checksum_address(bundle["contract_address"]), abi=ABI)
    root = anchor.functions.rootOf(bundle["period"]).call()
    proof = [bytes.fromhex(p[2:]) for p in bundle["proof"]]
    ok = anchor.functions.verify(bundle["period"], proof, leaf).call()
    print(f"root on chain for period {bundle['period']}: 0x{bytes(root).hex()}")
    print("VALID: this payment is part of the anchored root" if ok else "NOT VALID")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
