"""Benchmark (b): the continuous order book replaying 1,000,000 order / cancel / modify messages in memory.

A message stream generated up front (so the timing is the book's alone): ~60 % new orders (limit, and 5 % each
fill-or-kill and fill-and-kill), ~25 % cancels and ~15 % modifies of live orders, prices in integer ticks
around a drifting mid so that a good share of orders trade. Target on a 2-core machine: ≥ 200,000 msg/s.

    .venv/bin/python bench/bench_book.py [--messages N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from market.engine.book import BUY, FAK, FOK, LIMIT, SELL, OrderBook, UnknownOrder  # noqa: E402


def make_messages(n: int, seed: int = 11) -> list[tuple]:
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    live: list[int] = []
    msgs: list[tuple] = []
    next_id = 1
    mid = 10_000
    for _ in range(n):
        r = rng.random()
        if r < 0.60 or len(live) < 100:
            side = BUY if rng.random() < 0.5 else SELL
            off = int(rng.gauss(0, 30))
            price = mid - 5 + off if side == BUY else mid + 5 + off
            k = rng.random()
            kind = FOK if k < 0.05 else FAK if k < 0.10 else LIMIT
            msgs.append(("new", next_id, side, price, rng.randint(1, 100) * 1000, kind))
            if kind == LIMIT:
                live.append(next_id)
            next_id += 1
            mid += rng.choice((-1, 0, 1))
        elif r < 0.85:
            oid = live.pop(rng.randrange(len(live)))
            msgs.append(("cancel", oid))
        else:
            oid = live[rng.randrange(len(live))]
            msgs.append(("modify", oid, rng.randint(-10, 10), rng.randint(1, 100) * 1000))
    return msgs


def replay(msgs: list[tuple]) -> tuple[int, int, int]:
    book = OrderBook()
    submit, cancel, modify, order = book.submit, book.cancel, book.modify, book.order
    fills = misses = 0
    for m in msgs:
        op = m[0]
        try:
            if op == "new":
                fills += len(submit(m[1], m[2], m[3], m[4], m[5]).fills)
            elif op == "cancel":
                cancel(m[1])
            else:
                cur = order(m[1])
                if cur is None:
                    misses += 1
                    continue
                fills += len(modify(m[1], cur[1] + m[2], m[3]).fills)
        except UnknownOrder:  # already filled by the time the cancel arrives
            misses += 1
    return fills, misses, len(book)


def calibration_ns() -> float:
    """ns per iteration of a fixed pure-Python loop: shows how loaded the machine is (≈40–60 ns idle on a
    modern x86 core)."""
    t0 = time.perf_counter()
    d: dict[int, int] = {}
    for i in range(1_000_000):
        d[i & 1023] = d.get(i & 1023, 0) + 1
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    msgs = make_messages(args.messages)
    t0 = time.perf_counter()
    fills, misses, resting = replay(msgs)
    dt = time.perf_counter() - t0
    kinds = {k: sum(1 for m in msgs if m[0] == k) for k in ("new", "cancel", "modify")}
    print(
        f"continuous book: {len(msgs):,} messages ({kinds['new']:,} new, {kinds['cancel']:,} cancel, "
        f"{kinds['modify']:,} modify)"
    )
    print(f"  replay: {dt:.2f} s → {len(msgs) / dt:,.0f} messages/s  (target ≥ 200,000)")
    print(
        f"  machine load: calibration loop {calibration_ns():.0f} ns/iteration; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  fills: {fills:,}; cancels/modifies of orders already filled: {misses:,}; resting at end: {resting:,}")


if __name__ == "__main__":
    main()
