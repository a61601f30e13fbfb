"""Verify a flexplatform payment proof bundle against the chain, without the platform.

    python verify_bundle.py BUNDLE.json RPC_URL --anchor-file flexplatform-anchor.json
    python verify_bundle.py BUNDLE.json RPC_URL --contract 0x... [--chain-id N] [--from-block N]

Needs only web3 (``pip install web3``), the bundle (downloaded from the portal or from
``GET /api/v1/settlement/items/<id>/proof/download/``) and the platform's **published** deployment: keep a copy of
``https://<platform>/.well-known/flexplatform-anchor.json`` (chain id, FlexAnchor address, deployment block) and
pass it with ``--anchor-file``, or give the address with ``--contract``. The bundle's own ``contract_address`` is
never trusted: anyone can deploy a copy of FlexAnchor and anchor a made-up root in it.

The script recomputes the OpenZeppelin StandardMerkleTree leaf from the bundle's values, checks that the pinned
contract holds the period's root and that a ``RootAnchored`` log *of that contract* wrote it, then asks the
contract's ``verify`` whether the proof leads to that root. It prints what was verified (payment, amount, asset,
participant, hour) or why not. Exit 0 when valid, 1 when not valid, 2 when it cannot check (usage, node down).
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal

from eth_abi import decode, encode
from web3 import Web3

LEAF_ENCODING = ["uint256", "bytes32", "bytes32", "int256", "uint64"]
ROOT_ANCHORED = Web3.keccak(text="RootAnchored(uint64,bytes32,uint64,uint64)")
ABI = [
    {"name": "verify", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "period", "type": "uint64"}, {"name": "proof", "type": "bytes32[]"},
                {"name": "leaf", "type": "bytes32"}], "outputs": [{"name": "", "type": "bool"}]},
    {"name": "rootOf", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "period", "type": "uint64"}], "outputs": [{"name": "", "type": "bytes32"}]},
]  # fmt: skip
VALID, NOT_VALID, CANNOT_CHECK = 0, 1, 2


class Refused(Exception):  # noqa: N818 - a verdict, not a programming error
    def __init__(self, message: str, code: int = NOT_VALID):
        super().__init__(message)
        self.code = code


def _bytes32(value, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise Refused(f"NOT VALID: the bundle's {name} is not 0x and 64 hex digits")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise Refused(f"NOT VALID: the bundle's {name} is not 0x and 64 hex digits") from None


def _leaf_values(bundle: dict) -> tuple:
    raw = bundle.get("leaf_values")
    if not raw:
        raise Refused("NOT VALID: the bundle has no leaf values, so nothing says what it proves")
    if not isinstance(raw, list) or len(raw) != 5:
        raise Refused("NOT VALID: the bundle's leaf values are not the 5 values of a leaf")
    try:
        values = (int(raw[0]), _bytes32(raw[1], "participant"), _bytes32(raw[2], "asset"), int(raw[3]), int(raw[4]))
    except (TypeError, ValueError):
        raise Refused("NOT VALID: the bundle's leaf values are not numbers and 0x hex") from None
    if not (0 <= values[0] < 2**256 and -(2**255) <= values[3] < 2**255 and 0 <= values[4] < 2**64):
        raise Refused("NOT VALID: a leaf value is out of its ABI type's range")
    return values


def describe(values: tuple) -> str:
    item_id, participant, asset, amount_minor, period = values
    ticker = asset.rstrip(b"\0").decode("ascii", "replace")
    amount = (Decimal(amount_minor) / 100).quantize(Decimal("0.01"))
    start = datetime.fromtimestamp(period, tz=UTC).isoformat() if period < 253402300800 else str(period)
    return f"payment {item_id} of {amount} {ticker} to participant 0x{participant.hex()} for the hour starting {start}"


def check(bundle: dict, w3: Web3, *, contract: str, chain_id: int | None = None, from_block: int = 0) -> str:
    """The verdict line for ``bundle`` against the pinned ``contract``; raises :class:`Refused` when not valid."""
    if not isinstance(bundle, dict):
        raise Refused("NOT VALID: a proof bundle is a JSON object")
    values = _leaf_values(bundle)
    what = describe(values)
    period = bundle.get("period")
    if not isinstance(period, int) or isinstance(period, bool) or not 0 <= period < 2**64:
        raise Refused("NOT VALID: the bundle's period is not a uint64")
    if values[4] != period:
        raise Refused(f"NOT VALID: the leaf values are for period {values[4]}, the bundle claims {period}")
    named = bundle.get("contract_address")
    if named is not None and str(named).lower() != contract.lower():
        raise Refused(
            f"NOT VALID: the bundle names contract {named}, not the platform's published contract {contract}: "
            "anyone can deploy a copy of the contract and anchor any root in it"
        )
    try:
        node_chain = w3.eth.chain_id
    except Exception as exc:  # noqa: BLE001 - any failure to reach the node means: cannot check now
        raise Refused(f"CANNOT CHECK: the node cannot be reached ({type(exc).__name__})", CANNOT_CHECK) from None
    for source, expected in (("published deployment", chain_id), ("bundle", bundle.get("chain_id"))):
        if expected is not None and node_chain != expected:
            raise Refused(f"NOT VALID: the node is on chain {node_chain}, the {source} on chain {expected}")
    address = Web3.to_checksum_address(contract)
    if not w3.eth.get_code(address):
        raise Refused(f"CANNOT CHECK: no contract at {address} on this node (chain {node_chain})", CANNOT_CHECK)
    # leaf = keccak256(keccak256(abi.encode(values))) over (uint256, bytes32, bytes32, int256, uint64)
    leaf = bytes(Web3.keccak(Web3.keccak(encode(LEAF_ENCODING, list(values)))))
    if leaf != _bytes32(bundle.get("leaf"), "leaf"):
        raise Refused(f"NOT VALID: the leaf values do not hash to the bundle's leaf ({what}: the values were edited)")
    proof = bundle.get("proof")
    if not isinstance(proof, list):
        raise Refused("NOT VALID: the bundle's proof is not a list")
    siblings = [_bytes32(p, "proof element") for p in proof]
    anchor = w3.eth.contract(address=address, abi=ABI)
    root = bytes(anchor.functions.rootOf(period).call())
    if root == bytes(32):
        status = bundle.get("status") or "unknown"
        raise Refused(
            f"NOT ANCHORED YET: the published contract holds no root for period {period} (the bundle's status is "
            f"{status!r}: sealed hours are anchored within minutes; download the bundle again later)"
        )
    logs = w3.eth.get_logs(
        {"address": address, "fromBlock": from_block, "toBlock": "latest",
         "topics": ["0x" + ROOT_ANCHORED.hex().removeprefix("0x"), "0x" + period.to_bytes(32, "big").hex()]}
    )  # fmt: skip
    events = [(decode(["bytes32", "uint64", "uint64"], bytes(log["data"])), log) for log in logs]
    written = [(fields, log) for fields, log in events if bytes(fields[0]) == root]
    if not written:
        raise Refused(f"NOT VALID: no RootAnchored log of contract {address} wrote period {period}'s root")
    (_, leaf_count, _), log = written[-1]
    if not anchor.functions.verify(period, siblings, leaf).call():
        raise Refused(f"NOT VALID: the contract's verify() refuses the proof: {what} is not in the anchored root")
    return (
        f"VALID: {what} is part of root 0x{root.hex()} ({leaf_count} leaves) anchored by contract {address} "
        f"on chain {node_chain} in block {log['blockNumber']} (transaction 0x{bytes(log['transactionHash']).hex()})"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("rpc_url")
    parser.add_argument("--anchor-file", help="the platform's /.well-known/flexplatform-anchor.json, kept locally")
    parser.add_argument("--contract", help="the platform's published FlexAnchor address")
    parser.add_argument("--chain-id", type=int)
    parser.add_argument("--from-block", type=int, default=0)
    args = parser.parse_args(argv)
    contract, chain_id, from_block = args.contract, args.chain_id, args.from_block
    if args.anchor_file:
        with open(args.anchor_file) as f:
            pinned = json.load(f)
        contract = contract or pinned.get("contract_address")
        chain_id = chain_id if chain_id is not None else pinned.get("chain_id")
        from_block = from_block or pinned.get("deployment_block") or 0
    if not contract:
        print("CANNOT CHECK: give the platform's published contract (--contract ADDRESS or --anchor-file FILE);")
        print("the bundle's own contract address is not trusted.")
        return CANNOT_CHECK
    try:
        with open(args.bundle) as f:
            bundle = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"CANNOT CHECK: the bundle cannot be read: {exc}")
        return CANNOT_CHECK
    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 30}))
    try:
        print(check(bundle, w3, contract=contract, chain_id=chain_id, from_block=from_block))
    except Refused as refused:
        print(refused)
        return refused.code
    except OSError as exc:
        print(f"CANNOT CHECK: the node cannot be reached ({type(exc).__name__})")
        return CANNOT_CHECK
    return VALID


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
