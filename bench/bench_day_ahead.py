"""Benchmark (a): the day-ahead uniform-price auction for 100,000 orders across 96 intervals and 20 zones.

Runs the pure engine (``market.engine.auction.clear``) as the clearing task does, including 1,000 all-or-none
block offers spanning 4 intervals each. Target on a 2-core machine: under 5 s.

    .venv/bin/python bench/bench_day_ahead.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from market.engine.auction import BUY, SELL, clear  # noqa: E402

N_ORDERS, N_INTERVALS, N_ZONES, N_BLOCKS, BLOCK_LEN = 100_000, 96, 20, 1_000, 4


def make_orders(seed: int = 7):
    rng = np.random.default_rng(seed)
    n_single = N_ORDERS - N_BLOCKS
    zone = rng.integers(0, N_ZONES, n_single)
    interval = rng.integers(0, N_INTERVALS, n_single)
    side = np.where(rng.random(n_single) < 0.6, SELL, BUY).astype(np.int8)
    base = 5000 + 3000 * np.sin(interval / N_INTERVALS * 2 * np.pi)  # cents/MWh, a daily shape
    price = np.where(side == SELL, base + rng.normal(0, 1500, n_single), base + rng.normal(500, 1500, n_single))
    price = np.clip(price, 0, None).astype(np.int64)
    qty = rng.integers(1_000, 500_000, n_single)  # 1–500 kW in watts
    # blocks: sell, 4 consecutive intervals, same zone, price and kW
    bz = rng.integers(0, N_ZONES, N_BLOCKS)
    bstart = rng.integers(0, N_INTERVALS - BLOCK_LEN, N_BLOCKS)
    bprice = rng.integers(2000, 8000, N_BLOCKS)
    bqty = rng.integers(100_000, 2_000_000, N_BLOCKS)
    rows_b = np.repeat(np.arange(N_BLOCKS), BLOCK_LEN)
    b_interval = bstart[rows_b] + np.tile(np.arange(BLOCK_LEN), N_BLOCKS)
    group = np.r_[zone * N_INTERVALS + interval, bz[rows_b] * N_INTERVALS + b_interval]
    sides = np.r_[side, np.full(len(rows_b), SELL, dtype=np.int8)]
    prices = np.r_[price, bprice[rows_b]]
    qtys = np.r_[qty, bqty[rows_b]]
    order_id = np.r_[np.arange(n_single), n_single + rows_b]
    priority = order_id.copy()
    block = np.r_[np.full(n_single, -1), n_single + rows_b]
    return dict(group=group, side=sides, price=prices, qty=qtys, priority=priority, order_id=order_id, block=block)


def main() -> None:
    orders = make_orders()
    clear(**{k: v[:1000] for k, v in orders.items()})  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = clear(**orders)
        times.append(time.perf_counter() - t0)
    cleared = int((result.price >= 0).sum())
    print(
        f"day-ahead auction: {N_ORDERS:,} orders ({N_BLOCKS:,} blocks × {BLOCK_LEN} intervals), "
        f"{N_INTERVALS} intervals × {N_ZONES} zones = {len(result.groups)} auctions"
    )
    print(f"  clearing time: best {min(times):.3f} s, median {sorted(times)[1]:.3f} s  (target < 5 s)")
    print(f"  block rejection rounds: {result.rounds}, blocks rejected: {len(result.rejected_blocks)}")
    print(f"  intervals with a price: {cleared}, volume cleared: {result.volume.sum() / 1000:,.0f} kW")


if __name__ == "__main__":
    main()
