"""Page benchmark: server time and SQL queries of the aggregator, operator, admin and auditor pages at two fleet
sizes (issue #16, item 6).

For each size it seeds, with bulk inserts (not the per-premise services), a fresh database: one grid zone held by
one operator, a licensed and verified aggregator with N consenting and enrolled households (owner verified but
1 in 20, meter validated, a device, an availability
declaration for one in ten, a stored flexibility assessment for the coming day, one day of hourly readings),
portfolio orders naming members, one award and one event (verified) per member, settlement items (member shares
and the aggregator's fees); then, with ``django.test.Client`` signed in as each role, requests every page
once to warm the caches (its time is printed too, ``first``: templates loaded, and the aggregator's portfolio
compliance and capacity per hour computed over every enrolled premise and kept for ``PORTFOLIO_KEPT_SECONDS``, as
the first visitor after a change of the parties meets them), then three times, and records the median wall time
(``time.perf_counter``, in process: middleware, views, templates; no network) and the SQL queries
(``CaptureQueriesContext``).

Prints a table per page (queries and ms at each size, the CPU ms of this process at the larger size — the
server's Python work, less sensitive than the wall time to other load on a shared machine, without the
database server's — whether the page is within budget) and the last line
``pages within budget: N of M``. Budget: under 300 ms and 30 queries at the larger size, and the same number of
queries at both sizes.

    .venv/bin/python bench/bench_pages.py [--sizes 100,10000]

The database is SQLite (a fresh file per size under a temporary directory) unless DATABASE_URL names a
PostgreSQL database (recommended: what production runs), e.g. ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/flex_x``:
then a template ``<name>_pages_tpl`` is migrated once (kept for the next run) and each size gets a fresh database
``<name>_pages_<N>`` copied from it, dropped at the end unless ``--keep``. The output says which database ran, and
the load average of the machine before and after (the timings are wall times on a possibly shared machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench_pages_"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'template.sqlite3'}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

BUDGET_MS, BUDGET_QUERIES = 300.0, 30
REPEATS = 3  # measured requests per page after the warm one: the median is printed (a shared machine's noise)
SLOWEST = int(os.environ.get("BENCH_PAGES_SLOWEST", "0"))  # print each page's N slowest queries

from portal.tests.pages_world import PAGES  # noqa: E402 - after django.setup()


def measure(users) -> dict[tuple[str, str], tuple]:
    out = {}
    clients = {}
    for role, user in users.items():
        c = Client()
        c.force_login(user)
        clients[role] = c
    for role, url in PAGES:
        c = clients[role]
        t0 = time.perf_counter()
        c.get(url)  # first: template loading; the kept portfolio reads (compliance, capacity per hour) computed
        first = (time.perf_counter() - t0) * 1000
        walls, cpus = [], []
        for _ in range(REPEATS):
            with CaptureQueriesContext(connection) as q:
                t0, cpu0 = time.perf_counter(), time.process_time()
                response = c.get(url)
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - cpu0) * 1000)
        out[(role, url)] = (
            len(q.captured_queries),
            statistics.median(walls),
            response.status_code,
            statistics.median(cpus),
            first,
        )
        if SLOWEST:
            top = sorted(q.captured_queries, key=lambda x: -float(x["time"]))[:SLOWEST]
            for x in top:
                print(f"  {url} {float(x['time']) * 1000:7.1f} ms  {x['sql'][:160]}")
    return out


def _pg_admin(sql: str) -> None:
    """Run ``sql`` (CREATE/DROP DATABASE) on the server's maintenance database, outside a transaction."""
    import psycopg

    d = settings.DATABASES["default"]
    conninfo = {"dbname": "postgres", "user": d.get("USER") or None, "password": d.get("PASSWORD") or None}
    conninfo |= {"host": d.get("HOST") or None, "port": d.get("PORT") or None}
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v}, autocommit=True) as conn:
        conn.execute(sql)


class SqliteWorld:
    """A migrated template file (``--template`` keeps it between runs) and a fresh copy per size."""

    def __init__(self, template: Path | None):
        self.template = Path(settings.DATABASES["default"]["NAME"])
        if template and template.exists():
            shutil.copy(template, self.template)
        call_command("migrate", verbosity=0)  # nothing to do on an up-to-date template
        connections["default"].close()
        if template and not template.exists():
            shutil.copy(self.template, template)

    def use(self, n: int) -> None:
        path = TMP / f"bench_{n}.sqlite3"
        shutil.copy(self.template, path)
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = str(path)

    def describe(self) -> str:
        return f"SQLite {connection.Database.sqlite_version} (files under {TMP})"

    def finish(self, keep: bool) -> None:
        connections["default"].close()


class PostgresWorld:
    """A migrated template database ``<name>_pages_tpl`` (kept) and a fresh copy ``<name>_pages_<N>`` per size."""

    def __init__(self, template: Path | None):
        self.base = settings.DATABASES["default"]["NAME"]
        self.tpl = f"{self.base}_pages_tpl"
        self.made: list[str] = []
        try:
            _pg_admin(f'CREATE DATABASE "{self.tpl}"')
        except Exception:  # noqa: BLE001,S110 - it exists: migrate brings it up to date
            pass
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = self.tpl
        call_command("migrate", verbosity=0)
        connections["default"].close()

    def use(self, n: int) -> None:
        name = f"{self.base}_pages_{n}"
        connections["default"].close()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.tpl}"')
        self.made.append(name)
        connections["default"].settings_dict["NAME"] = name

    def describe(self) -> str:
        with connection.cursor() as c:
            c.execute("SHOW server_version")
            version = c.fetchone()[0]
        return f"PostgreSQL {version} (databases {', '.join(self.made)})"

    def finish(self, keep: bool) -> None:
        connections["default"].close()
        if not keep:
            for name in self.made:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')


def run_size(n: int, world) -> dict:
    from portal.tests.pages_world import pages_world

    world.use(n)
    t0 = time.perf_counter()
    users = pages_world(n)["users"]
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("ANALYZE")  # what autovacuum does soon after a bulk load: the planner sees the sizes
    print(f"seeded {n} premises in {time.perf_counter() - t0:.1f} s", flush=True)
    return measure(users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000", help="two fleet sizes, comma-separated (default 100,10000)")
    parser.add_argument(
        "--template",
        type=Path,
        help="SQLite: a migrated file to start from (made there if missing; saves the migrate)",
    )
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the seeded databases")
    args = parser.parse_args()
    small, large = (int(s) for s in args.sizes.split(","))
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if engine not in ("sqlite3", "postgresql"):
        raise SystemExit(f"bench_pages runs on SQLite or PostgreSQL, not {engine}")
    world = (SqliteWorld if engine == "sqlite3" else PostgresWorld)(args.template)
    load_before = os.getloadavg()
    results = {n: run_size(n, world) for n in (small, large)}
    load_after = os.getloadavg()
    print(f"\nDatabase: {world.describe()}; in-process django.test.Client")
    print(
        "Load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
        + f"; {os.cpu_count()} CPUs"
    )
    print(
        f"Budget: < {BUDGET_MS:.0f} ms and < {BUDGET_QUERIES} queries at {large}, same queries at {small} and {large}\n"
    )
    head = (
        f"{'role':<10} {'page':<78} {'q@' + str(small):>8} {'q@' + str(large):>9} {'ms@' + str(small):>9}"
        f" {'ms@' + str(large):>10} {'cpu@' + str(large):>10} {'first@' + str(large):>11}  ok"
    )
    print(head)
    print("-" * len(head))
    within = 0
    for key in PAGES:
        qa, msa, sa, _, _ = results[small][key]
        qb, msb, sb, cpub, firstb = results[large][key]
        ok = sa == sb == 200 and qa == qb and qb < BUDGET_QUERIES and msb < BUDGET_MS
        within += ok
        status = "" if sa == sb == 200 else f" (HTTP {sa}/{sb})"
        print(
            f"{key[0]:<10} {key[1][:78]:<78} {qa:>8} {qb:>9} {msa:>9.0f} {msb:>10.0f} {cpub:>10.0f} {firstb:>11.0f}"
            f"  {'yes' if ok else 'NO'}{status}"
        )
    world.finish(args.keep)
    print(
        f"first@{large}: the page's first request (templates loaded; the aggregator's portfolio compliance and"
        " capacity per hour computed and kept, PORTFOLIO_KEPT_SECONDS); the budget is on the median of the"
        f" {REPEATS} requests after it"
    )
    print(f"\npages within budget: {within} of {len(PAGES)}")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
