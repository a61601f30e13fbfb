"""Benchmark of settlement Merkle trees and of anchoring their roots on chain.

Run from the project root::

    .venv/bin/python bench/bench_merkle.py [--leaves N] [--no-anvil] [--tracemalloc]

Builds the leaf hashes of N synthetic settlement lines (default 1,000,000), the tree, its root
and EVERY proof (as lists of 32-byte siblings, the form ``MerkleTree.proofs()`` gives), checks a
sample of proofs, and prints seconds per phase, leaves per second and peak memory (process
``ru_maxrss``; with ``--tracemalloc`` also the traced Python/numpy peak, which slows the run).
Then anchors the root for leaf counts 1 and N on an in-process eth-tester chain and, when the
binary is installed, on a local anvil node, and prints the gas used per anchor.

Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from settlement.merkle import (  # noqa: E402 - after the sys.path set-up for direct runs
    MerkleTree,
    asset_code,
    leaf_hash,
    leaf_hashes_columns,
    verify_proof,
)

PERIOD_START = 1_767_225_600  # 2026-01-01T00:00:00Z


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def synthetic_columns(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """N settlement lines: ids 1..N, 5,000 participants, two assets, signed amounts."""
    rng = np.random.default_rng(20260101)
    participants = rng.integers(0, 256, size=(5_000, 32), dtype=np.uint8)
    refs = participants[rng.integers(0, participants.shape[0], size=n)]
    assets_table = np.frombuffer(asset_code("EUR") + asset_code("USD"), dtype=np.uint8).reshape(2, 32)
    assets = assets_table[rng.integers(0, 2, size=n)]
    ids = np.arange(1, n + 1, dtype=np.uint64)
    amounts = rng.integers(-5_000_000, 5_000_000, size=n, dtype=np.int64)
    starts = np.full(n, PERIOD_START, dtype=np.uint64)
    return ids, refs, assets, amounts, starts


def bench_tree(n: int) -> MerkleTree:
    columns = synthetic_columns(n)
    print(f"leaves: {n:,}   (baseline max RSS after set-up {_max_rss_mb():,.0f} MB)")

    t0 = time.perf_counter()
    hashes = leaf_hashes_columns(*columns)
    t1 = time.perf_counter()
    tree = MerkleTree(hashes)
    root = tree.root
    t2 = time.perf_counter()
    proofs = 0
    siblings = 0
    for proof in tree.proofs():
        proofs += 1
        siblings += len(proof)
    t3 = time.perf_counter()

    assert proofs == n
    ids, refs, assets, amounts, starts = columns
    sample = np.linspace(0, n - 1, num=min(n, 200), dtype=np.int64)
    for i in sample.tolist():
        values = (int(ids[i]), refs[i].tobytes(), assets[i].tobytes(), int(amounts[i]), int(starts[i]))
        assert verify_proof(root, leaf_hash(values), tree.proof(i)), f"proof {i} does not verify"

    total = t3 - t0
    print(f"root: 0x{root.hex()}")
    print(f"  leaf hashes      {t1 - t0:7.2f} s   {n / (t1 - t0):>12,.0f} leaves/s")
    print(f"  tree + root      {t2 - t1:7.2f} s   {n / (t2 - t1):>12,.0f} leaves/s")
    print(f"  every proof      {t3 - t2:7.2f} s   {n / (t3 - t2):>12,.0f} proofs/s ({siblings / n:.1f} siblings avg)")
    print(f"  total            {total:7.2f} s   {n / total:>12,.0f} leaves/s")
    print(f"  peak memory (max RSS) {_max_rss_mb():,.0f} MB")
    del hashes
    return tree


def bench_tree_traced(n: int) -> None:
    tracemalloc.start()
    columns = synthetic_columns(n)
    base = tracemalloc.get_traced_memory()[0]
    tree = MerkleTree(leaf_hashes_columns(*columns))
    for _proof in tree.proofs():
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"  tracemalloc peak above inputs: {(peak - base) / 2**20:,.0f} MiB (tree array {tree.tree.nbytes / 2**20:,.0f} MiB)"
    )


def _calldata_gas(client, tx_hash: str) -> int:
    data = bytes(client.w3.eth.get_transaction(tx_hash)["input"])
    return sum(4 if b == 0 else 16 for b in data)


def bench_gas(n: int, root: bytes, *, use_anvil: bool) -> None:
    from settlement.chain import ANVIL_DEV_KEY, AnchorClient, AnvilProcess
    from settlement.chain.anvil import anvil_binary

    backends: list[tuple[str, AnvilProcess | None]] = [("eth-tester://bench", None)]
    if use_anvil and anvil_binary().is_file():
        backends.append(("anvil", AnvilProcess()))
    elif use_anvil:
        print(f"anvil: binary not found at {anvil_binary()}, skipped")
    for url, node in backends:
        try:
            if node is not None:
                url = node.start().url
            client = AnchorClient(url, ANVIL_DEV_KEY)
            client.deploy()
            t0 = time.perf_counter()
            one = client.anchor(1, root, 1)
            many = client.anchor(2, root, n)
            elapsed = (time.perf_counter() - t0) / 2
            label = "anvil" if node is not None else "eth-tester"
            print(
                f"gas per anchor on {label:10s}: leafCount=1 -> {one.gas_used:,}   leafCount={n:,} -> {many.gas_used:,}"
                f"   (~{elapsed * 1000:.0f} ms per signed round trip)"
            )
            assert client.root_of(2) == root
            assert client.leaf_count_of(2) == n  # read back from the RootAnchored log
            execution = [r.gas_used - _calldata_gas(client, r.tx_hash) for r in (one, many)]
            print(
                f"  execution gas (without calldata): {execution[0]:,} / {execution[1]:,}"
                f"   {'equal' if execution[0] == execution[1] else 'DIFFERENT'};"
                f" target < 60,000 per anchor: {'met' if max(one.gas_used, many.gas_used) < 60_000 else 'MISSED'}"
            )
        finally:
            if node is not None:
                node.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=int, default=1_000_000, help="number of leaves (default 1,000,000)")
    parser.add_argument("--no-anvil", action="store_true", help="skip the anvil gas measurement")
    parser.add_argument("--no-chain", action="store_true", help="skip all gas measurements")
    parser.add_argument("--tracemalloc", action="store_true", help="second, traced run for the Python heap peak")
    args = parser.parse_args(argv)
    if args.leaves < 1:
        parser.error("--leaves must be at least 1")

    tree = bench_tree(args.leaves)
    if args.tracemalloc:
        bench_tree_traced(args.leaves)
    if not args.no_chain:
        bench_gas(args.leaves, tree.root, use_anvil=not args.no_anvil)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
