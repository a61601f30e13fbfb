"""Benchmark of the platform's bulk meter-data import against a raw Postgres ``COPY`` of the same data.

Run from the project root (needs PostgreSQL; the database is created and migrated if missing)::

    .venv/bin/python bench/bench_meter_import.py [--meters 1000] [--days 365] [--database-url URL] [--reimport]

Generates 15-minute readings for N meters over D days (1,000 x 365 = 35,040,000 rows) and loads them
twice in the same run, interleaved chunk by chunk (``--chunks``, meters split evenly; one CSV file per
chunk) so that whatever else the machine is doing weighs on both the same:

1. raw ``COPY ... (meter_id, start, kwh) FROM STDIN`` of each chunk into ``bench_raw_reading``, a twin of
   ``assessment_meterreading`` (same columns, indexes, check and deferred foreign key), given meter primary
   keys: the table's own format, no checks beyond the table's;
2. the platform's bulk import of the same chunk, :func:`assessment.ingest.bulk.readings_bulk_import` (COPY
   into staging, validation pass, revision detection, merge, import batch) into the real table, as an admin;
3. with ``--reimport``: each chunk's file again through the platform (every reading unchanged).

Within a chunk the order alternates (raw first on even chunks, platform first on odd ones). Prints seconds
and readings/s for each chunk and in total, and the platform's speed as a share of raw COPY. ``--chunks 1``
loads the whole year as one file each way. Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

START = datetime(2025, 1, 1, 5, 0, tzinfo=UTC)  # local midnight in New York


def _ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")
    os.environ["DJANGO_DEBUG"] = "False"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _world(n_meters: int):
    from django.contrib.auth.hashers import make_password

    from accounts import services as acc
    from accounts.models import Meter, Organisation, Premise

    zone = acc.zone_create(code="bench-zone", name="Bench zone")
    platform = acc.organisation_create(name="Bench platform", kind=Organisation.Kind.PLATFORM)
    unusable = make_password(None)
    admin = acc.user_create(
        email="bench-admin@bench.test", password=unusable, password_is_hashed=True, organisation=platform
    )
    org = acc.organisation_create(name="Bench consumer", kind=Organisation.Kind.CONSUMER)
    meters = []
    existing = {m.meter_id: m for m in Meter.objects.filter(meter_id__startswith="BM-")}
    for i in range(n_meters):
        mid = f"BM-{i:05d}"
        if mid in existing:
            meters.append(existing[mid])
            continue
        premise = acc.premise_create(
            organisation=org, name=f"Bench site {i:05d}", segment=Premise.Segment.COMMERCIAL,
            grid_zone=zone, timezone="America/New_York",
        )  # fmt: skip
        meters.append(acc.meter_create(premise=premise, meter_id=mid, interval_minutes=15))
    return admin, meters


def _write_chunk(meters, days: int, directory: Path, seed: int) -> tuple[Path, Path, int]:
    """The platform CSV (meter ids) and the raw COPY CSV (meter primary keys) with the same readings."""
    n = days * 96
    stamps = [(START + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]
    values = [f"{v / 1000:.3f}" for v in range(4000)]
    rng = np.random.default_rng(seed)
    platform_path, raw_path = directory / f"readings-{seed}.csv", directory / f"readings_raw-{seed}.csv"
    with platform_path.open("w") as platform, raw_path.open("w") as raw:
        platform.write("meter_id,start,kwh\n")
        for meter in meters:
            idx = rng.integers(50, 4000, size=n)
            kwh = [values[i] for i in idx]
            platform.write("".join(f"{meter.meter_id},{s},{v}\n" for s, v in zip(stamps, kwh, strict=True)))
            raw.write("".join(f"{meter.pk},{s},{v}\n" for s, v in zip(stamps, kwh, strict=True)))
    return platform_path, raw_path, n * len(meters)


RAW_TABLE = "bench_raw_reading"


def _empty_tables() -> None:
    """Empty the real table and (re)create its twin for the raw COPY."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE assessment_readingrevision, assessment_meterreading")
        cur.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        cur.execute(f"CREATE TABLE {RAW_TABLE} (LIKE assessment_meterreading INCLUDING ALL)")
        cur.execute(
            f"ALTER TABLE {RAW_TABLE} ADD FOREIGN KEY (meter_id) REFERENCES accounts_meter (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
        cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s UNION ALL "
            "SELECT '-' FROM pg_indexes WHERE tablename = 'assessment_meterreading'",
            [RAW_TABLE],
        )
        defs = [r[0] for r in cur.fetchall()]
    twin = [d for d in defs if d != "-"]
    assert len(twin) == len(defs) - len(twin), f"twin table indexes differ: {twin}"
    connection.close()


def _drop_twin() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        cur.execute("TRUNCATE assessment_readingrevision, assessment_meterreading")


def raw_copy(path: Path) -> float:
    from django.db import connection, transaction

    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        with cur.copy(f"COPY {RAW_TABLE} (meter_id, start, kwh) FROM STDIN WITH (FORMAT csv)") as copy:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    copy.write(block)
    return time.perf_counter() - t0


def platform_import(path: Path, admin):
    from assessment.ingest.bulk import readings_bulk_import

    t0 = time.perf_counter()
    with path.open("rb") as f:
        batch = readings_bulk_import(user=admin, stream=f, filename=path.name)
    return time.perf_counter() - t0, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--chunks", type=int, default=10, help="interleaved loads (files per side)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/flex_met_bench")
    parser.add_argument("--reimport", action="store_true", help="also time re-sending the same files")
    parser.add_argument("--workdir", default=None, help="where to write the CSV files (default: a temp dir)")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("The bulk path is Postgres COPY: give a postgres:// --database-url.")
    _ensure_database(args.database_url)
    _setup(args.database_url)
    import logging

    logging.basicConfig(format="  %(message)s")
    logging.getLogger("assessment.ingest.bulk").setLevel(logging.INFO)
    from django.db import connection

    admin, meters = _world(args.meters)
    chunks = [meters[i :: args.chunks] for i in range(args.chunks)]
    chunks = [sorted(c, key=lambda m: m.meter_id) for c in chunks if c]
    rows_all = args.meters * args.days * 96
    print(f"{args.meters} meters x {args.days} days x 96 = {rows_all:,} readings in {len(chunks)} chunk(s)", flush=True)
    with connection.cursor() as cur:
        cur.execute("SELECT version()")
        print(cur.fetchone()[0].split(",")[0], flush=True)
    _empty_tables()
    raw_total = plat_total = again_total = 0.0
    rows_done = 0
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for i, chunk in enumerate(chunks):
            platform_path, raw_path, rows = _write_chunk(chunk, args.days, Path(tmp), seed=2026 + i)
            if i % 2 == 0:
                raw_s = raw_copy(raw_path)
                plat_s, batch = platform_import(platform_path, admin)
            else:
                plat_s, batch = platform_import(platform_path, admin)
                raw_s = raw_copy(raw_path)
            assert (batch.rows_total, batch.rows_new) == (rows, rows), batch
            raw_total, plat_total, rows_done = raw_total + raw_s, plat_total + plat_s, rows_done + rows
            line = (
                f"chunk {i + 1:>2}/{len(chunks)}: {rows:,} readings; raw COPY {raw_s:6.1f} s, "
                f"platform {plat_s:6.1f} s ({raw_s / plat_s:.0%})"
            )
            if args.reimport:
                again_s, again = platform_import(platform_path, admin)
                assert again.rows_unchanged == rows, again
                again_total += again_s
                line += f", re-send {again_s:6.1f} s"
            print(line, flush=True)
            platform_path.unlink()
            raw_path.unlink()
    print(f"raw COPY           {raw_total:8.1f} s  {rows_done / raw_total:12,.0f} readings/s", flush=True)
    print(
        f"platform bulk      {plat_total:8.1f} s  {rows_done / plat_total:12,.0f} readings/s  "
        f"({raw_total / plat_total:.0%} of raw COPY speed; target >= 50%)",
        flush=True,
    )
    if args.reimport:
        print(f"platform re-send   {again_total:8.1f} s  {rows_done / again_total:12,.0f} readings/s  (all unchanged)")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM assessment_meterreading")
        stored = cur.fetchone()[0]
    print(f"stored by the platform: {stored:,} readings", flush=True)
    assert stored == rows_done
    _drop_twin()


if __name__ == "__main__":
    main()
