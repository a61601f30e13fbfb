"""Benchmark: one whole market day for N premises on PostgreSQL + Redis with K real Celery worker processes.

Run from the project root (PostgreSQL, Redis and Mosquitto on 127.0.0.1; anvil from node_modules)::

    .venv/bin/python bench/bench_market_day.py --premises 1000 [--workers 2]
    .venv/bin/python bench/bench_market_day.py --sizes 1000,3000,10000 --workers 2,1
    .venv/bin/python bench/bench_market_day.py --sizes 10000 --workers 2,1   # the 10,000 world built once

``--keep-world`` keeps each size's world (premises, history, meter statuses) as the template database
``<database>_world<N>`` and later runs of that size clone it (``CREATE DATABASE ... TEMPLATE``) while it matches
(same N, market day, migration files and world builder); it is implied for a size that ``--sizes``/``--workers``
run more than once. Drop the kept worlds with ``dropdb`` when done.

The database (``--database-url``, default ``flex_bench_day``) is DROPPED and re-created for every run (from a
migrated template ``<name>_tmpl``), the Redis database (``--redis-url``) is flushed. Celery eager mode is off:
the benchmark starts K ``celery -A bench.market_day_worker worker -c 1`` processes (the platform's Celery app,
which also counts each task's SQL statements) and a private anvil node for the chain.

World (not in the day's time, printed apart): zones (an ISO zone, substations with two feeders each, one grid
operator per substation), two aggregators (KYB, licence, commercial terms: through the services, as
``demo.world`` builds them), then N premises in bulk (``bulk_create``): 85 % residential, 12 % commercial,
3 % industrial, each its own verified consumer with a 15-minute meter and the devices ``demo.devices`` declares
for its segment; three of four households consent to and are enrolled with one of the two aggregators. 35 days
of 15-minute history go through the platform's bulk import (:func:`assessment.ingest.bulk.readings_bulk_import`,
the utility's CSV with the account number: Postgres COPY into staging, validation, merge), shaped by the BDEW
standard load profiles of the ``demandlib`` package (H0 households, G0 businesses, L0 for the 3 % "industrial"
sites) scaled per premise, with a heating response to the synthetic weather the platform's baselines read
(``assessment.synthetic.temperature_array``) and noise; the import's meter-status refresh runs in the workers.
Meter ownership is set in the world (``MeterStatus.ownership_verified_at``): the bulk path confirms it only for
a file naming one utility account, and a utility's export names thousands.

The market day (yesterday, local time, as ``manage.py demo`` plays it: the services are given the simulated
clock, the workers run on the real one). Each step is what production runs, where it runs:

1. ``assessment recompute``: beat's ``assessment_recompute_nightly`` (it sends one ``assessment_recompute_meters``
   task per 100 meters, which the K workers share).
2. ``window assessment``: ``assessment.tasks.assess_window`` sends one ``assess_premises`` task per 100 metered
   premises (by zone), each ``flexibility_assess`` per premise, in the workers: for the event window (every
   premise) and for the day-ahead auction's hours (the auction's zone, as of its order entry; step 5 then finds
   them assessed).
3. ``offers``: the sellers' premises' accredited capacity for the window is read (``accredited_capacity_over``,
   bench process) and each seller offers it in one list (an aggregator its portfolio, a consumer its own premise):
   ``market.tasks.offers_submit_chunk`` tasks of about 100 premises (an aggregator's portfolio in parts by zone,
   consumers' lists together), each list all or nothing (``market.services.offers_submit_sellers``, the rules of
   the API's list POST ``offers_submit_many``), in the workers.
4. ``requests+clearing``: each operator's request for 60 % of its substation's offers; the ``clear_request`` tasks,
   the awards' ``create_event_for_award`` tasks (events, dispatch commands in the outbox) and ``flush_outbox``
   (MQTT QoS 1 publish to the broker; no device answers) run in the workers.
5. ``day-ahead auction``: :func:`demo.steps.day_ahead_auction_run` (orders per hour, portfolio orders of the
   aggregators, cleared at gate closure; its award tasks in the workers). The auction's ETA task is not sent:
   gate closure lies in the simulated past, so the bench clears it at gate closure itself, as the demo does.
6. ``events advance``: beat's ``advance_events`` task (the day's events active, then completed).
7. ``meter data``: the day's readings (each event's response applied: most full, some partial, a few none)
   through the bulk import, as the utility sends them; its meter-status refreshes in the workers.
8. ``verify+event settle``: beat's ``verify_due_events`` (one ``verify_events`` task per 100 due events); each
   chunk's ``settle_verified_events`` (its penalties, then each window once; ADR 0044).
9. ``daily run``: beat's ``settle_day`` for the UTC day.
10. ``anchoring``: beat's ``anchor_closed_periods`` (seal the day's hours, one anchor each, on anvil).
11. ``claims epoch``: beat's ``close_claims_epoch``.

The world is analysed once before the day (``ANALYZE``, timed, not part of the day): production's autovacuum
analyses a table after a bulk load, and a server with autovacuum off would otherwise plan every step without
statistics.

A step ends when the broker's queue and the unacknowledged set are empty. Printed per step: wall seconds, CPU
seconds of the bench process, of the workers (``/proc``, each worker's process tree) and of the database's
PostgreSQL backends (sampled during the step), SQL statements (bench process and workers; then the largest per
task name), and per premise: wall ms and CPU ms. Then the totals, the rows made, the peak RSS of each process and
the load average. With ``--sizes`` the runs are made one after another (fresh database each) and the per-premise cost of every step is compared across sizes (a
step whose cost per premise rises by more than 30 % from one size to the next is flagged); with several
``--workers`` values the largest size is also run with each further K and the speed-up of the worker steps
printed. Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from market_day_db import fresh_database, world_clone, world_keep, world_marker  # noqa: E402 - beside this file
from market_day_procs import Backends, Counter, Workers, peak_rss_mb  # noqa: E402 - beside this file
from market_day_world import (  # noqa: E402 - beside this file
    HISTORY_DAYS,
    Loads,
    premise_factors,
    readings_import,
    world_build,
    world_load,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/flex_bench_day"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
WORKER_STEPS = {
    "assessment recompute",
    "window assessment",
    "offers",
    "meter data",
    "requests+clearing",
    "events advance",
    "verify+event settle",
    "daily run",
    "anchoring",
    "claims epoch",
}


# --- the day ---------------------------------------------------------------------------------------------


class Steps:
    def __init__(self, n: int, workers: Workers, counter: Counter, broker, db: Backends) -> None:
        self.n, self.workers, self.counter, self.r, self.db = n, workers, counter, broker, db
        self.rows: list[dict] = []

    def _worker_queries(self) -> int:
        return int(self.r.hget("bench:counters", "queries") or 0)

    def idle(self) -> None:
        quiet = 0
        while quiet < 3:
            busy = self.r.llen("celery") + self.r.hlen("unacked")
            quiet = quiet + 1 if busy == 0 else 0
            time.sleep(0.2)

    def _per_task(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall("bench:tasks").items()}

    def run(self, name: str, fn):
        t0, c0, w0, d0 = time.perf_counter(), _self_cpu(), self.workers.cpu(), self.db.cpu()
        s0 = self.db.sampler_cpu
        q0, wq0, tasks0 = self.counter.n, self._worker_queries(), self._per_task()
        self.db.sample_during()
        detail = fn()
        self.idle()
        self.db.sample_stop()
        tasks = {k: v - tasks0.get(k, 0) for k, v in self._per_task().items() if v - tasks0.get(k, 0)}
        row = {
            "step": name,
            "wall": time.perf_counter() - t0,
            "cpu_bench": _self_cpu() - c0 - (self.db.sampler_cpu - s0),  # not the backend sampler's thread
            "cpu_workers": self.workers.cpu() - w0,
            "cpu_db": self.db.cpu() - d0,
            "q_bench": self.counter.n - q0,
            "q_workers": self._worker_queries() - wq0,
            "detail": detail,
        }
        self.rows.append(row)
        print(_line(name, row, self.n, detail), flush=True)
        by_task = sorted(
            (
                (t[: -len(":queries")], q, tasks.get(t[: -len(":queries")] + ":n", 0))
                for t, q in tasks.items()
                if t.endswith(":queries")
            ),
            key=lambda x: -x[1],
        )
        if by_task:
            print("    sql by task: " + ", ".join(f"{t.rsplit('.', 1)[-1]} {n:,}x {q:,}" for t, q, n in by_task[:4]),
                  flush=True)  # fmt: skip
        return detail


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


HEADER = (
    f"{'step':<22}{'wall s':>8}{'cpu b':>8}{'cpu w':>8}{'cpu db':>8}{'sql bench':>10}{'sql work':>10}"
    f"{'ms/p':>8}{'cpu ms/p':>9}{'db ms/p':>8}"
)


def _line(name: str, row: dict, n: int, detail) -> str:
    """One step's figures; per premise: wall ms, CPU ms of the bench and workers, CPU ms of the DB backends."""
    per = 1000 / n
    return (
        f"{name:<22}{row['wall']:8.1f}{row['cpu_bench']:8.1f}{row['cpu_workers']:8.1f}{row['cpu_db']:8.1f}"
        f"{row['q_bench']:10,}{row['q_workers']:10,}{row['wall'] * per:8.2f}"
        f"{(row['cpu_bench'] + row['cpu_workers']) * per:9.2f}{row['cpu_db'] * per:8.2f}  {detail or ''}"
    )


def run_day(args) -> dict:
    n, k = args.premises, args.workers_list[0]
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "flexplatform.settings.local"
    os.environ["DJANGO_DEBUG"] = "False"
    os.environ["MQTT_TOPIC_ROOT"] = "bench-day"
    os.environ["DJANGO_CONN_MAX_AGE"] = "600"  # persistent connections, as deployed: one backend per process
    import django
    import redis

    django.setup()
    from demo.world import market_day
    from settlement.chain import AnvilProcess

    args.world_db = f"{args.database_url.rsplit('/', 1)[1]}_world{n}" if args.keep_world else ""
    args.world_marker = world_marker(n, market_day())
    args.world_reused = bool(args.world_db) and world_clone(args.database_url, args.world_db, args.world_marker)
    if not args.world_reused:
        fresh_database(args.database_url)
    broker = redis.Redis.from_url(args.redis_url)
    broker.flushdb()
    node = AnvilProcess().start()
    os.environ["CHAIN_RPC_URL"] = node.url
    logdir = Path(tempfile.mkdtemp(prefix="bench-day-"))
    workers = Workers(k, dict(os.environ), logdir)
    try:
        return _run(args, n, k, broker, workers, logdir)
    finally:
        workers.stop()
        node.stop()


def _run(args, n, k, broker, workers, logdir) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Sum
    from django.dispatch import Signal  # noqa: F401

    from accounts.models import GridZone
    from activation import tasks as activation_tasks
    from activation.models import DREvent, EventVerification
    from assessment import tasks as assessment_tasks
    from assessment.selectors import accredited_capacity_over
    from demo.steps import day_ahead_auction_run
    from demo.world import (
        AUCTION_GATE_HOURS,
        AUCTION_ZONE,
        MAX_PRICE,
        PRICE_RANGE,
        TZ,
        auction_window,
        event_window,
        local_day_bounds,
        market_day,
    )
    from market import hooks as market_hooks
    from market import tasks as market_tasks
    from market.models import Award, FlexibilityOffer
    from market.services import OfferItem, request_submit
    from settlement import tasks as settlement_tasks
    from settlement.models import SettlementItem

    counter = Counter()
    print(
        f"market day for {n:,} premises, {k} worker(s); {connection.cursor().connection.info.server_version}",
        flush=True,
    )
    t0 = time.perf_counter()
    day = market_day()
    loads = Loads(TZ)
    tmp = Path(tempfile.mkdtemp(prefix="bench-day-csv-"))
    if args.world_reused:
        world, admin, operators, meters, n_devices, n_members = world_load(n)
        meters = list(type(meters[0]).objects.select_related("premise").order_by("pk"))
        factors = premise_factors(meters)
        t3 = time.perf_counter()
        print(
            f"world: {n:,} premises ({n_members:,} enrolled with 2 aggregators), {n_devices:,} devices, "
            f"{len(operators)} operators: the kept world {args.world_db} ({args.world_marker}), "
            f"cloned and loaded in {t3 - t0:.1f} s",
            flush=True,
        )
    else:
        world, admin, operators, meters, n_devices, n_members = world_build(n)
        t1 = time.perf_counter()
        meters = list(type(meters[0]).objects.select_related("premise").order_by("pk"))
        factors = premise_factors(meters)
        rows, import_s = readings_import(
            admin, meters, loads, factors, day - timedelta(days=HISTORY_DAYS), day - timedelta(days=1), tmp
        )
        t2 = time.perf_counter()
        Steps(n, workers, counter, broker, None).idle()  # the import's meter-status refreshes, in the workers
        t3 = time.perf_counter()
        print(
            f"world: {n:,} premises ({n_members:,} enrolled with 2 aggregators), {n_devices:,} devices, "
            f"{len(operators)} operators in {t1 - t0:.1f} s; history {rows:,} readings in {t2 - t1:.1f} s "
            f"(platform bulk import {import_s:.1f} s, {rows / import_s:,.0f} readings/s); meter statuses in "
            f"workers {t3 - t2:.1f} s",
            flush=True,
        )
        if args.world_db:  # keep it: the next run of this size clones it instead of building it
            connection.close()
            workers.stop()
            kept = world_keep(args.database_url, args.world_db, args.world_marker)
            workers.start()
            print(f"world kept as {args.world_db} in {kept:.1f} s", flush=True)
    # Production's PostgreSQL analyses a table after a bulk load by itself (autovacuum); a server where autovacuum
    # is off (this CI kind's conf.d/90-ci.conf) would plan every step without statistics. Not part of the day.
    t4 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"world analysed (ANALYZE, as autovacuum would after the load) in {time.perf_counter() - t4:.1f} s")
    steps = Steps(n, workers, counter, broker, Backends(args.database_url.rsplit("/", 1)[1]))
    window_start, window_end = event_window(day)
    gate_closure = window_start - timedelta(hours=26)
    premises = list(world.premises)
    capacity: dict[int, Decimal | None] = {}
    print(f"market day {day} (local {TZ}); event window {window_start:%H:%M}-{window_end:%H:%M} UTC", flush=True)
    print(HEADER, flush=True)

    def recompute():
        assessment_tasks.assessment_recompute_nightly.delay()
        return None

    def assess():
        # production's path: one task sends a chunk task per 100 metered premises (by zone), the workers assess.
        # The day's two windows: the event window (every premise) and the day-ahead auction's hours (its zone),
        # assessed as of the auction's order entry, as demo.auction_orders would assess them in the bench process
        assessment_tasks.assess_window.delay(window_start.isoformat(), window_end.isoformat(), gate_closure.isoformat())
        a_start, a_end = auction_window(day)
        entered = local_day_bounds(day)[0] - timedelta(hours=AUCTION_GATE_HOURS + 1)
        assessment_tasks.assess_window.delay(a_start.isoformat(), a_end.isoformat(), entered.isoformat(), AUCTION_ZONE)
        return "event window (all premises), auction window (its zone)"

    def offers():
        # each seller reads its premises' accredited capacity for the window and offers it in one call (an
        # aggregator its portfolio, a consumer its premise): market.services.offers_submit_many
        capacity.update(accredited_capacity_over(premises=[p.pk for p in premises], start=window_start, end=window_end))
        rng = random.Random(day.toordinal())  # noqa: S311
        by_seller: dict[int, tuple] = {}
        for p in premises:
            kw = capacity.get(p.pk) or Decimal(0)
            if kw <= 0:
                continue
            lo, hi = PRICE_RANGE[p.segment]
            seller = p.aggregator or p.organisation
            by_seller.setdefault(seller.pk, (seller, []))[1].append(
                OfferItem(
                    premise=p,
                    zone=p.grid_zone,
                    kw=kw,
                    price_per_mwh=Decimal(rng.randint(lo * 100, hi * 100)) / 100,
                    window_start=window_start,
                    window_end=window_end,
                )  # fmt: skip
            )
        # production's path: the sellers' lists go to the workers in chunks of about OFFERS_CHUNK premises (an
        # aggregator's portfolio in parts, by zone; the consumers' one-premise lists together), each chunk one
        # offers_submit_chunk task (offers_submit_sellers, each list all or nothing; safe to run again)
        chunks: list[list[dict]] = [[]]
        size = [0]

        def add(seller, items):
            if size[0] + len(items) > market_tasks.OFFERS_CHUNK and chunks[-1]:
                chunks.append([])
                size[0] = 0
            chunks[-1].append(
                {"seller": seller.pk, "created_by": None, "items": [
                    [i.premise.pk, i.zone.pk, str(i.kw), str(i.price_per_mwh), i.window_start.isoformat(),
                     i.window_end.isoformat()] for i in items]}
            )  # fmt: skip
            size[0] += len(items)

        n_items = 0
        for seller, items in by_seller.values():
            items = sorted(items, key=lambda i: (i.zone.pk, i.premise.pk))
            for k in range(0, len(items), market_tasks.OFFERS_CHUNK):
                add(seller, items[k : k + market_tasks.OFFERS_CHUNK])
            n_items += len(items)
        for chunk in chunks:
            if chunk:
                market_tasks.offers_submit_chunk.delay(chunk)
        return (
            f"{n_items} offers from {len(by_seller)} sellers in {len(chunks)} tasks; "
            f"{sum(1 for v in capacity.values() if v and v > 0)} with capacity, "
            f"{sum(v or 0 for v in capacity.values()):,.0f} kW"
        )

    def requests():
        made = 0
        for sub in GridZone.objects.filter(kind=GridZone.Kind.SUBSTATION).order_by("code"):
            offered = FlexibilityOffer.objects.filter(
                premise__grid_zone__parent=sub, window_start=window_start, status=FlexibilityOffer.Status.OPEN
            ).aggregate(kw=Sum("kw"))["kw"]
            if offered:
                request_submit(
                    operator=operators[sub.code], zone=sub, kw=(offered * Decimal("0.6")).quantize(Decimal("0.001")),
                    max_price_per_mwh=MAX_PRICE, window_start=window_start, window_end=window_end,
                )  # fmt: skip
                made += 1
        return f"{made} requests"

    def auction():
        # gate closure is in the simulated past: the ETA clearing task is not sent (the bench clears at it)
        receivers = market_hooks.auction_opened.receivers
        market_hooks.auction_opened.receivers = []
        market_hooks.auction_opened.sender_receivers_cache.clear()
        try:
            a = day_ahead_auction_run(world=world, day=day)
        finally:
            market_hooks.auction_opened.receivers = receivers
            market_hooks.auction_opened.sender_receivers_cache.clear()
        return f"auction {a.status}, {a.orders.count()} orders"

    def advance():
        activation_tasks.advance_events.delay()
        activation_tasks.flush_outbox.delay()
        return None

    def day_data():
        events: dict[int, list] = {}
        for e in DREvent.objects.filter(start__gte=window_start - timedelta(hours=14), start__lt=window_end):
            events.setdefault(e.premise_id, []).append(e)

        def respond(meter, starts, kwh):
            for e in events.get(meter.premise_id, ()):
                r = random.Random(e.pk).random()  # noqa: S311
                compliance = 0.0 if r < 0.08 else (0.55 if r < 0.25 else 1.0)
                cut = float(e.target_kw) * 0.25 * compliance
                for i, s in enumerate(starts):
                    if e.start <= s < e.end:
                        kwh[i] = max(round(kwh[i] - cut, 4), 0.0)
            return kwh

        got, _ = readings_import(admin, meters, loads, factors, day, day, tmp, adjust=respond)
        return f"{got:,} readings, {sum(len(v) for v in events.values())} events"

    def verify():
        activation_tasks.verify_due_events.delay()
        return None

    def daily():
        settlement_tasks.settle_day.delay(day.isoformat())
        return None

    def anchor():
        settlement_tasks.anchor_closed_periods.delay()
        return None

    def claims():
        settlement_tasks.close_claims_epoch.delay()
        return None

    day_steps = [
        ("assessment recompute", recompute),
        ("window assessment", assess),
        ("offers", offers),
        ("requests+clearing", requests),
        ("day-ahead auction", auction),
        ("events advance", advance),
        ("meter data", day_data),
        ("verify+event settle", verify),
        ("daily run", daily),
        ("anchoring", anchor),
        ("claims epoch", claims),
    ]
    for name, fn in day_steps:
        steps.run(name, fn)
        if name == args.stop_after:  # the database is left as this step left it (to clone, profile, compare)
            break
    keys = ("wall", "cpu_bench", "cpu_workers", "cpu_db", "q_bench", "q_workers")
    total = {key: sum(r[key] for r in steps.rows) for key in keys}
    print(_line("TOTAL", total, n, None), flush=True)
    from activation.models import OutboxMessage
    from settlement.models import PeriodAnchor

    made = {
        "awards": Award.objects.count(),
        "events": DREvent.objects.count(),
        "events completed": DREvent.objects.filter(status=DREvent.Status.COMPLETED).count(),
        "verifications": EventVerification.objects.count(),
        "settlement items": SettlementItem.objects.count(),
        "outbox commands": OutboxMessage.objects.count(),
        "outbox sent": OutboxMessage.objects.exclude(sent_at=None).count(),
        "anchors": PeriodAnchor.objects.count(),
        "worker tasks": int(broker.hget("bench:counters", "tasks") or 0),
    }
    print("made: " + ", ".join(f"{k} {v:,}" for k, v in made.items()), flush=True)
    rss = {"bench": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for pid in sorted(workers.tree()):
        rss[f"worker pid {pid}"] = peak_rss_mb(pid)
    print("peak RSS MB: " + ", ".join(f"{k} {v:,.0f}" for k, v in rss.items()), flush=True)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared); worker logs {logdir}", flush=True)
    return {
        "premises": n,
        "workers": k,
        "world_s": t3 - t0,
        "steps": steps.rows,
        "total": total,
        "made": made,
        "rss": rss,
        "load": load,
    }


def compare(results: list[dict]) -> None:
    base_k = results[0]["workers"]
    by_size = [r for r in results if r["workers"] == base_k]
    names = [s["step"] for s in by_size[0]["steps"]]
    print(f"\nper-premise cost (wall ms / premise, CPU ms / premise of bench + workers + DB backends) at K = {base_k}:")
    print(f"{'step':<22}" + "".join(f"{r['premises']:>18,}" for r in by_size) + "  growth")
    for i, name in enumerate([*names, "TOTAL"]):
        cells, flag = [], ""
        costs = []
        for r in by_size:
            row = r["total"] if name == "TOTAL" else r["steps"][i]
            wall = row["wall"] * 1000 / r["premises"]
            cpu = (row["cpu_bench"] + row["cpu_workers"] + row["cpu_db"]) * 1000 / r["premises"]
            costs.append(cpu)
            cells.append(f"{wall:8.2f} {cpu:8.2f} ")
        for a, b in zip(costs, costs[1:], strict=False):
            if a > 0.05 and b > a * 1.3:
                flag = "  FASTER THAN LINEAR (CPU/premise +%.0f%%)" % (100 * (b / a - 1))
        print(f"{name:<22}" + "".join(cells) + flag)
    largest = max(r["premises"] for r in results)
    at = [r for r in results if r["premises"] == largest]
    if len(at) > 1:
        one = min(at, key=lambda r: r["workers"])
        print(f"\nworker steps at {largest:,} premises: wall s by K, speed-up vs K = {one['workers']}")
        for i, name in enumerate(names):
            if name in WORKER_STEPS:
                walls = [r["steps"][i]["wall"] for r in at]
                base = one["steps"][i]["wall"]
                print(
                    f"{name:<22}"
                    + "".join(f"  K={r['workers']}: {w:7.1f} s" for r, w in zip(at, walls, strict=True))
                    + "".join(
                        f"  K={r['workers']} x{base / w:4.2f}" for r, w in zip(at, walls, strict=True) if r is not one
                    )
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--premises", type=int, default=1000)
    parser.add_argument("--workers", default="2", help="K, or K1,K2 (the largest size is also run with K2...)")
    parser.add_argument("--sizes", default="", help="e.g. 1000,3000,10000: one run per size, then the curves")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--json", default="", help="write the run's figures to this file")
    parser.add_argument("--stop-after", default="", help="a step's name: end the day after it (e.g. 'meter data')")
    parser.add_argument(
        "--keep-world",
        action="store_true",
        help="keep the world (premises, 35 days of history, meter statuses) of each size as the template database "
        "<database>_world<N> and, while it matches (same N, market day, migrations and world builder), clone it "
        "(CREATE DATABASE ... TEMPLATE) instead of building it again; implied for a size --sizes/--workers runs "
        "more than once (e.g. --sizes 10000 --workers 2,1 builds the 10,000 world once). Drop the kept worlds "
        "with dropdb when done.",
    )
    args = parser.parse_args()
    args.workers_list = [int(x) for x in args.workers.split(",")]
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("The market day runs on PostgreSQL: give a postgres:// --database-url.")
    if not args.sizes:
        result = run_day(args)
        if args.json:
            Path(args.json).write_text(json.dumps(result, default=str))
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    plan = [(s, args.workers_list[0]) for s in sizes] + [(max(sizes), k) for k in args.workers_list[1:]]
    results = []
    out = Path(tempfile.mkdtemp(prefix="bench-day-json-"))
    for size, k in plan:
        path = out / f"{size}-{k}.json"
        cmd = [sys.executable, __file__, "--premises", str(size), "--workers", str(k), "--json", str(path)]
        cmd += ["--database-url", args.database_url, "--redis-url", args.redis_url, "--stop-after", args.stop_after]
        if args.keep_world or sum(1 for s, _ in plan if s == size) > 1:
            cmd.append("--keep-world")
        print(f"\n=== {size:,} premises, K = {k} ===", flush=True)
        subprocess.run(cmd, check=True)
        results.append(json.loads(path.read_text()))
    compare(results)


if __name__ == "__main__":
    main()
