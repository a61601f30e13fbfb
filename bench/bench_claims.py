"""Benchmark of FLEX token claims: the claims tree for 100,000 accounts x 5 token ids, its anchoring, 100 claims.

Run from the project root::

    .venv/bin/python bench/bench_claims.py [--accounts N] [--claims M] [--anvil]

Builds the OpenZeppelin StandardMerkleTree of N accounts x 5 token ids (leaves ``(address, id, cumulative)``,
:mod:`settlement.claims_tree`), times the leaf hashing, the tree, the proofs of the claimed leaves and the
standard-v1 dump; deploys FlexToken on an in-process eth-tester chain (or a local anvil with ``--anvil``),
anchors the root (gas printed), then M distinct accounts each claim one leaf with its proof and the gas of
those claims is printed (min / median / max; every one is a first claim: two storage slots written from zero).
A second claim by the same accounts after a new epoch (the repeat cost) is measured on 10 of them.

Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from eth_account import Account  # noqa: E402

from settlement.chain import ANVIL_DEV_KEY, AnvilProcess, TokenClient  # noqa: E402
from settlement.claims_tree import ClaimsTree  # noqa: E402
from settlement.merkle import keccak256  # noqa: E402


def key_of(n: int) -> str:
    return "0x" + keccak256(f"bench claimant {n}".encode()).hex()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=100)
    parser.add_argument("--anvil", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    claimants = [Account.from_key(key_of(n)) for n in range(args.claims)]
    addresses = [a.address for a in claimants]
    addresses += ["0x" + keccak256(f"account {n}".encode()).hex()[:40] for n in range(args.claims, args.accounts)]
    leaves = [(a, token_id, 100 * (n % 977) + token_id) for n, a in enumerate(addresses) for token_id in range(1, 6)]
    t1 = time.perf_counter()
    tree = ClaimsTree(leaves)
    t2 = time.perf_counter()
    proofs = {n: tree.proof(tree.index_of(addresses[n], 1 + n % 5)) for n in range(args.claims)}
    t3 = time.perf_counter()
    dump = tree.dump()
    t4 = time.perf_counter()
    depth = max(len(p) for p in proofs.values())
    print(f"claims tree: {len(tree):,} leaves ({args.accounts:,} accounts x 5 ids), proof depth {depth}")
    print(f"  leaf values   {t1 - t0:7.2f} s")
    print(f"  tree + root   {t2 - t1:7.2f} s  ({len(tree) / (t2 - t1):,.0f} leaves/s, hashing included)")
    print(f"  {args.claims} proofs    {t3 - t2:7.2f} s")
    print(f"  dump          {t4 - t3:7.2f} s  ({len(dump['tree']):,} nodes)")

    node = None
    if args.anvil:
        node = AnvilProcess()
        node.start()
        url = node.url
    else:
        url = "eth-tester://bench-claims"
    try:
        platform = TokenClient(url, ANVIL_DEV_KEY)
        platform.deploy()
        anchor = platform.anchor(1, tree.root, len(tree))
        print(f"anchorClaims: gas {anchor.gas_used:,} (chain: {'anvil' if node else 'eth-tester'})")
        gases = []
        for n in range(args.claims):
            user = platform.with_key(key_of(n))
            if node is not None:
                platform.fund_dev_account(user.address)
            token_id = 1 + n % 5
            cumulative = 100 * (n % 977) + token_id
            receipt = user.claim(1, token_id, cumulative, proofs[n])
            assert receipt.succeeded and user.balance_of(user.address, token_id) == cumulative
            gases.append(receipt.gas_used)
        print(
            f"{args.claims} first claims (proof depth {min(len(p) for p in proofs.values())}-{depth}): gas min "
            f"{min(gases):,} / median {statistics.median(gases):,.0f} / max {max(gases):,}"
        )
        # Epoch 2: the first 10 accounts earned 5 more of the same token; their repeat claims.
        bumped = ClaimsTree(
            [(a, i, c + 5 if n // 5 < 10 and i == 1 + (n // 5) % 5 else c) for n, (a, i, c) in enumerate(leaves)]
        )
        platform.anchor(2, bumped.root, len(bumped))
        repeat = []
        for n in range(min(10, args.claims)):
            token_id = 1 + n % 5
            user = platform.with_key(key_of(n))
            cumulative = 100 * (n % 977) + token_id + 5
            receipt = user.claim(2, token_id, cumulative, bumped.proof(bumped.index_of(addresses[n], token_id)))
            repeat.append(receipt.gas_used)
        print(
            f"10 repeat claims: gas min {min(repeat):,} / median {statistics.median(repeat):,.0f} / max {max(repeat):,}"
        )
    finally:
        if node is not None:
            node.stop()


if __name__ == "__main__":
    main()
