"""Benchmark (c): orders per second through the REST API on PostgreSQL with several concurrent clients.

Sets up a small world in the database named by DATABASE_URL (must be Postgres), accredits capacity, starts
gunicorn (``--workers`` processes, default 3, ``--threads`` each, default 1; persistent database connections,
DEBUG off) on 127.0.0.1, and runs a closed-loop load client: ``--clients`` threads (default 8), each posting
orders one after another (each with its own ``Idempotency-Key``) until ``--orders`` are sent, after
``--warmup`` orders (default 800) that are not measured (the day's books opened, some orders resting). The mix: 70 %
real-time congestion sell orders by six consumers (1 kW each, checked against capacity under the premise lock),
30 % operator buy orders (fill-and-kill) in the same feeders' books that trade against them (fills become
awards; their activation tasks go to the Redis broker when REDIS_URL is set, as in production). Prints orders/s,
latency percentiles and the load average (the machine may be shared), then checks the books: every 201 is one
order, no sell order traded beyond its kW, every trade has its awards.

``--breakdown N`` first posts N orders of the same mix in-process (Django test client, same database, no HTTP)
and prints, per order kind, the SQL statements per order and the CPU milliseconds per order spent in Django
and in the PostgreSQL backend: where the time goes. Targets on a 2-core machine: ≥ 300 orders/s, p95 < 100 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flex_mkt REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/bench_api_orders.py [--orders 3000] [--clients 8] [--workers 4] [--threads 1] \\
        [--breakdown 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
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
    import demo
    from accounts.models import GridZone
    from market.tests.factories import accredit

    world = demo.world_load(n_residential=2, n_commercial=2, n_industrial=2)
    validate_meters(world.premises)
    sellers = []
    for p in world.premises:
        if not p.assessments.filter(window_start=DAY).exists():
            accredit(p, DAY, DAY + timedelta(days=1), 100_000)
        if p.aggregator_id is None:
            sellers.append((p.organisation.memberships.first().user.email, p.pk, p.grid_zone.code))
    zone = GridZone.objects.get(code="iso-east").code
    reset_books()
    return sellers, zone


def validate_meters(premises) -> None:
    """What meter validation (``assessment.services.meter_status_refresh`` over weeks of clean readings) decides
    for the bench's premises: their revenue meters are validated, so their flexibility may be offered."""
    from django.utils import timezone

    from assessment.models import MeterStatus

    now = timezone.now()
    for p in premises:
        for meter in p.meters.all():
            MeterStatus.objects.update_or_create(
                meter=meter,
                defaults={
                    "validated": True,
                    "validated_at": now,
                    "ownership_verified_at": now,
                    "connectivity": MeterStatus.Connectivity.ONLINE,
                    "checked_at": now,
                    "reasons": [],
                },
            )


def reset_books() -> None:
    """Remove an earlier run's orders, trades and awards for the bench day, so every run starts from the same
    empty books. Kept when activation already turned awards into events (no REDIS_URL: tasks ran eagerly).
    The first run on a new database has no planner statistics yet: run the bench twice."""
    from django.db import connection, transaction
    from django.db.models import ProtectedError

    from flexplatform.core.models import IdempotencyRecord
    from market.models import Award, MarketOrder, OrderBook, OrderMember, Trade

    with connection.cursor() as cur:
        cur.execute("ANALYZE")  # fresh statistics, or the deletes below may get a quadratic plan
    books = OrderBook.objects.filter(delivery_start__gte=DAY, delivery_start__lt=DAY + timedelta(days=1))
    try:
        with transaction.atomic():
            Award.objects.filter(trade__book__in=books).delete()
            Trade.objects.filter(book__in=books).delete()
            OrderMember.objects.filter(order__book__in=books).delete()
            MarketOrder.objects.filter(book__in=books).delete()
            books.delete()
            IdempotencyRecord.objects.filter(scope="market_order").delete()
    except ProtectedError:
        print("  (earlier run's awards became activation events: books not reset)")
    # What autovacuum does in a running system: the deleted rows' space and index entries are reclaimed, so a
    # run is not slowed by the dead rows of the runs before it. (VACUUM keeps the column statistics.)
    with connection.cursor() as cur:
        for model in (Award, Trade, OrderMember, MarketOrder, OrderBook, IdempotencyRecord):
            cur.execute(f"VACUUM {model._meta.db_table}")
    # No ANALYZE now: the planner keeps the statistics of the populated tables (a run's steady state), not of
    # empty ones (which make it pick nested loops that degrade as the run fills the books).


def order_body(i: int, rng: random.Random, sellers: list[tuple[str, int, str]], operator: str) -> tuple[str, dict]:
    """The ``i``-th order of the mix: (token of the poster, JSON body). ``sellers``: (token, premise id, zone)."""
    start = DAY + timedelta(minutes=15 * (i % 96))
    window = {"delivery_start": start.isoformat(), "delivery_end": (start + timedelta(minutes=15)).isoformat()}
    tok, pk, zone = sellers[i % len(sellers)]
    if rng.random() < 0.7:
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
    return operator, {
        "market": "real_time",
        "product": "congestion",
        "side": "buy",
        "zone": zone,
        "kw": "1",
        "price_per_mwh": str(rng.randint(40, 100)),
        "kind": "fak",
        **window,
    }


def _backend_cpu_seconds(pid: int) -> float:
    """utime + stime of a PostgreSQL backend process (same machine), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the gunicorn workers (children of the master), of this database's PostgreSQL
    backends and of this load client."""
    from django.db import connection

    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        backends = [r[0] for r in cur.fetchall()]

    def total(pids) -> float:
        out = 0.0
        for pid in pids:
            try:
                out += _backend_cpu_seconds(int(pid))
            except OSError:
                pass
        return out

    return {"server": total(children), "db": total(backends), "client": time.process_time()}


def breakdown(n: int, sellers: list[tuple[str, int, str]]) -> None:
    """Post ``n`` orders in-process and print statements and CPU per order, per kind (sell / buy)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    connection.settings_dict["CONN_MAX_AGE"] = 60  # as the server runs: one connection kept
    connection.close()

    def tok(email):
        return Token.objects.get_or_create(user=get_user_model().objects.get(email=email))[0].key

    toks = [(tok(e), pk, zone) for e, pk, zone in sellers]
    operator = tok("operator@demo.flex")
    client = Client()
    rng = random.Random(12345)  # noqa: S311
    stats: dict[str, dict[str, list[float]]] = {}
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    try:
        _backend_cpu_seconds(backend)
    except OSError:
        backend = None  # the database is not on this machine
    by_caller: dict[str, list[float]] = {}  # project function issuing a statement -> [count, seconds]
    measuring = [False]

    def tag(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if measuring[0]:
                where = _caller()
                row = by_caller.setdefault(where, [0, 0.0])
                row[0] += 1
                row[1] += time.perf_counter() - t

    connection.execute_wrappers.append(tag)
    for i in range(n + 20):
        measuring[0] = i >= 20
        token, body = order_body(rng.randint(0, 10_000), rng, toks, operator)
        kind = f"{body['side']} ({body.get('kind', 'limit')})"
        db0 = _backend_cpu_seconds(backend) if backend else 0.0
        with CaptureQueriesContext(connection) as ctx:
            t0, c0 = time.perf_counter(), time.process_time()
            r = client.post(
                "/api/v1/market/orders/",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {token}",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        db = (_backend_cpu_seconds(backend) - db0) if backend else 0.0
        assert r.status_code == 201, r.content
        if i < 20:
            continue  # warm-up
        if body["side"] == "buy":
            kind += " traded" if r.json()["trades"] else " no match"
        row = stats.setdefault(kind, {"stmts": [], "wall": [], "cpu": [], "db": []})
        statements = [q for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        row["stmts"].append(len(statements))
        row["wall"].append(wall)
        row["cpu"].append(cpu)
        row["db"].append(db)
    connection.execute_wrappers.remove(tag)
    print(f"Per order, in-process ({n} orders, no HTTP; CPU of this Django process and of its PostgreSQL backend):")
    for kind, row in sorted(stats.items()):
        print(
            f"  {kind:<20} n={len(row['stmts']):<4} SQL statements {statistics.mean(row['stmts']):5.1f}  "
            f"wall {statistics.mean(row['wall']) * 1000:6.2f} ms  Django CPU {statistics.mean(row['cpu']) * 1000:5.2f} ms  "
            f"PostgreSQL CPU {statistics.mean(row['db']) * 1000:5.2f} ms"
        )
    print("  SQL statements per order (all kinds) by the function that issues them, with their wall time:")
    for where, (count, seconds) in sorted(by_caller.items(), key=lambda kv: -kv[1][0]):
        print(f"    {count / n:5.2f}  {seconds / n * 1000:6.2f} ms  {where}")


def _caller() -> str:
    """The innermost project function (not Django, DRF or a library) on the stack: who issued the statement."""
    import inspect

    frame = inspect.currentframe()
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(str(ROOT)) and "/.venv/" not in path and "/bench/" not in path:
            return f"{Path(path).relative_to(ROOT)}:{frame.f_code.co_name}"
        frame = frame.f_back
    return "(framework: auth, transaction)"


def check_books(statuses: dict[int, int], before: int) -> None:
    """Every 201 is one stored order; no sell order traded beyond its kW; every trade has its awards."""
    from django.db.models import F, Sum

    from market.models import Award, MarketOrder, Trade

    created = MarketOrder.objects.count() - before
    over = (
        MarketOrder.objects.filter(side="sell", delivery_start__gte=DAY, delivery_start__lt=DAY + timedelta(days=1))
        .annotate(traded=Sum("sell_trades__kw"))
        .filter(traded__gt=F("kw"))
        .count()
    )
    traded = Trade.objects.aggregate(kw=Sum("kw"))["kw"] or 0
    awarded = Award.objects.filter(trade__isnull=False).aggregate(kw=Sum("kw"))["kw"] or 0
    ok = created == statuses.get(201, 0) and over == 0 and traded == awarded
    print(
        f"  books: {created} orders stored for {statuses.get(201, 0)} answers 201; sell orders traded beyond "
        f"their kW: {over}; traded {traded} kW = awarded {awarded} kW: {'OK' if ok else 'FAILED'}"
    )
    if not ok:
        sys.exit(1)


def main() -> None:
    import requests

    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    # sync (one request at a time per process; gthread keeps connections alive but pins clients to workers)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--breakdown", type=int, default=0, metavar="N")
    parser.add_argument("--no-prepared", action="store_true", help="PostgreSQL plans every statement anew")
    parser.add_argument("--warmup", type=int, default=800, help="orders posted before the measurement starts")
    parser.add_argument("--gunicorn-config", default="", help="a gunicorn config file (default: none)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    sellers, _ = setup_world()
    if args.breakdown:
        breakdown(args.breakdown, sellers)
    from django.db import connections

    from market.models import MarketOrder

    before = MarketOrder.objects.count()
    connections.close_all()
    env = {
        **os.environ,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_CONN_MAX_AGE": "60",
        "DJANGO_CONN_HEALTH_CHECKS": "0",  # as production: no "SELECT 1" round trip before each request
        # prepared statements, as production runs the order path (ADR 0016); --no-prepared to compare
        "DJANGO_DB_PREPARED_STATEMENTS": "0" if args.no_prepared else "1",
    }
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "flexplatform.wsgi",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--backlog",
            "256",
            "--log-level",
            "warning",
            *(["--config", args.gunicorn_config] if args.gunicorn_config else []),
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

        from demo import PASSWORD, TOTP_SECRET

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
        warm_created = [0]

        def client(n: int):
            # A lean HTTP/1.1 client on a plain socket, as a load generator such as wrk is: the client shares the
            # two cores with the server, so it should cost about what one on another machine would (http.client
            # parses every response header through the email package). gunicorn's sync workers close the
            # connection after each response, so each request opens one.
            rng = random.Random(n)  # noqa: S311

            def post(tok: str, b: dict, key: str | None) -> int:
                body = json.dumps(b).encode()
                head = (
                    f"POST /api/v1/market/orders/ HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
                    f"Authorization: Token {tok}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                    + (f"Idempotency-Key: {key}\r\n" if key else "")
                    + "\r\n"
                )
                with socket.create_connection(("127.0.0.1", args.port), timeout=30) as sock:
                    sock.sendall(head.encode() + body)
                    chunks = []
                    while chunk := sock.recv(65536):
                        chunks.append(chunk)
                reply = b"".join(chunks)
                status = int(reply[9:12])
                if status >= 300:
                    print(reply.decode(errors="replace")[:500])
                return status

            # Warm-up, not measured: the workers' first imports and connections, and the books of the day opened
            # with some orders resting in them, as in a market that has been trading (the first order of an
            # interval creates its book).
            for _ in range(max(3, args.warmup // args.clients)):
                tok, b = order_body(rng.randint(0, 10_000), rng, seller_tokens, op_token)
                status = post(tok, b, None)
                with lock:
                    warm_created[0] += status == 201
            barrier.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                tok, b = order_body(i, rng, seller_tokens, op_token)
                t0 = time.perf_counter()
                status = post(tok, b, str(uuid.uuid4()))
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[status] = statuses.get(status, 0) + 1

        barrier = threading.Barrier(args.clients + 1)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for t in threads:
            t.start()
        barrier.wait()
        load_before = os.getloadavg()[0]
        cpu0 = _cpu_snapshot(server.pid)
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu1 = _cpu_snapshot(server.pid)
        lat = sorted(latencies)
        q = statistics.quantiles(lat, n=100)
        print(
            f"REST orders: {len(lat):,} POST /api/v1/market/orders/ from {args.clients} clients, "
            f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL"
        )
        print(f"  throughput: {len(lat) / wall:,.0f} orders/s  (target ≥ 300)")
        print(
            f"  latency: p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms (target p95 < 100 ms)"
        )
        print(
            f"  responses: {dict(sorted(statuses.items()))}; load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after (2 cores, shared)"
        )
        n_done = max(len(latencies), 1)
        split = {k: (cpu1[k] - cpu0[k]) / n_done * 1000 for k in cpu0}
        print(
            f"  CPU per order: gunicorn workers {split['server']:.2f} ms, PostgreSQL backends {split['db']:.2f} ms, "
            f"load client {split['client']:.2f} ms; {sum(split.values()):.2f} ms in all = at most "
            f"{2000 / max(sum(split.values()), 0.001):,.0f} orders/s on 2 idle cores"
        )
        check_books(statuses, before + warm_created[0])
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
