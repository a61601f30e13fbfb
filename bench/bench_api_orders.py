"""Benchmark (c): orders per second through the REST API on PostgreSQL with several concurrent clients.

Sets up a small world in the database named by DATABASE_URL (must be Postgres), accredits capacity, starts
gunicorn (``--workers``, default 3) on 127.0.0.1, and runs a closed-loop load client: ``--clients`` threads
(default 8), each posting orders one after another (each with its own ``Idempotency-Key``) until ``--orders``
are sent. The mix: 70 % real-time congestion sell orders by six consumers (1 kW each, checked against
capacity under the premise lock), 30 % operator buy orders (fill-and-kill) in the same feeders' books that trade against them (fills become awards;
their activation tasks go to the Redis broker when REDIS_URL is set, as in production). Prints orders/s and
latency percentiles. Targets on a 2-core machine: ≥ 300 orders/s, p95 < 100 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flex_mkt REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/bench_api_orders.py [--orders 3000] [--clients 8] [--workers 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")
os.environ.setdefault("DJANGO_DEBUG", "False")

DAY = datetime(2031, 1, 6, tzinfo=UTC)


def setup_world() -> tuple[list[tuple[str, int]], str]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import GridZone
    from flexplatform import demo
    from market.tests.factories import accredit

    world = demo.world_load(n_residential=2, n_commercial=2, n_industrial=2)
    sellers = []
    for p in world.premises:
        if not p.assessments.filter(window_start=DAY).exists():
            accredit(p, DAY, DAY + timedelta(days=1), 100_000)
        if p.aggregator_id is None:
            sellers.append((p.organisation.memberships.first().user.email, p.pk, p.grid_zone.code))
    zone = GridZone.objects.get(code="iso-east").code
    return sellers, zone


def main() -> None:
    import requests

    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    sellers, _ = setup_world()
    env = {**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_CONN_MAX_AGE": "60"}
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "flexplatform.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/api/v1/market/prices/", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.2)
        from allauth.mfa import app_settings as mfa_settings
        from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

        from flexplatform.demo import PASSWORD, TOTP_SECRET

        def token(email):
            body = {"username": email, "password": PASSWORD}
            if email == "operator@demo.flex":  # MFA is required for grid operators
                body["otp"] = format_hotp_value(hotp_value(TOTP_SECRET, int(time.time()) // mfa_settings.TOTP_PERIOD))
            r = requests.post(base + "/api/v1/accounts/auth/token/", json=body, timeout=10)
            r.raise_for_status()
            return r.json()["token"]

        seller_tokens = [(token(e), pk, zone) for e, pk, zone in sellers]
        op_token = token("operator@demo.flex")
        counter = iter(range(args.orders))
        lock = threading.Lock()
        latencies: list[float] = []
        statuses: dict[int, int] = {}

        def body(i: int, rng: random.Random):
            start = DAY + timedelta(minutes=15 * (i % 96))
            window = {"delivery_start": start.isoformat(), "delivery_end": (start + timedelta(minutes=15)).isoformat()}
            if rng.random() < 0.7:
                tok, pk, zone = seller_tokens[i % len(seller_tokens)]
                return tok, {
                    "market": "real_time",
                    "product": "congestion",
                    "side": "sell",
                    "zone": zone,
                    "members": [{"premise": pk, "kw": "1"}],
                    "price_per_mwh": str(rng.randint(20, 80)),
                    **window,
                }
            # a feeder where sellers offer, so that buys trade against them
            return op_token, {
                "market": "real_time",
                "product": "congestion",
                "side": "buy",
                "zone": seller_tokens[i % len(seller_tokens)][2],
                "kw": "1",
                "price_per_mwh": str(rng.randint(40, 100)),
                "kind": "fak",
                **window,
            }

        def client(n: int):
            rng = random.Random(n)  # noqa: S311
            s = requests.Session()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                tok, b = body(i, rng)
                t0 = time.perf_counter()
                r = s.post(
                    base + "/api/v1/market/orders/",
                    json=b,
                    timeout=30,
                    headers={"Authorization": f"Token {tok}", "Idempotency-Key": str(uuid.uuid4())},
                )
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        lat = sorted(latencies)
        q = statistics.quantiles(lat, n=100)
        print(
            f"REST orders: {len(lat):,} POST /api/v1/market/orders/ from {args.clients} clients, "
            f"gunicorn {args.workers} workers, PostgreSQL"
        )
        print(f"  throughput: {len(lat) / wall:,.0f} orders/s  (target ≥ 300)")
        print(
            f"  latency: p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms (target p95 < 100 ms)"
        )
        print(f"  responses: {dict(sorted(statuses.items()))}; load average {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
