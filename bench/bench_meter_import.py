"""Benchmark of the platform's bulk meter-data import against a raw Postgres ``COPY`` of the same data.

Run from the project root (needs PostgreSQL; the database is created and migrated if missing)::

    .venv/bin/python bench/bench_meter_import.py [--meters 1000] [--days 365] [--database-url URL] [--reimport]

Generates a CSV of 15-minute readings for N meters over D days (1,000 x 365 = 35,040,000 rows), then in
the same run, on the same table (emptied before each load):

1. raw ``COPY assessment_meterreading (meter_id, start, kwh) FROM STDIN`` of the same readings
   (meter primary keys instead of meter ids: the table's own format, no checks beyond the table's);
2. the platform's bulk import, :func:`assessment.ingest.bulk.readings_bulk_import` (COPY into staging,
   validation pass, revision detection, ``INSERT ... ON CONFLICT`` merge, import batch), as an admin;
3. with ``--reimport``: the same file again through the platform (every reading unchanged).

Prints seconds and readings/s for each, and the platform's speed as a share of raw COPY. Not imported
by the test suite.
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


def _write_files(meters, days: int, directory: Path) -> tuple[Path, Path, int]:
    """The platform CSV (meter ids) and the raw COPY CSV (meter primary keys) with the same readings."""
    n = days * 96
    stamps = [(START + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]
    values = [f"{v / 1000:.3f}" for v in range(4000)]
    rng = np.random.default_rng(2026)
    platform_path, raw_path = directory / "readings.csv", directory / "readings_raw.csv"
    with platform_path.open("w") as platform, raw_path.open("w") as raw:
        platform.write("meter_id,start,kwh\n")
        for meter in meters:
            idx = rng.integers(50, 4000, size=n)
            kwh = [values[i] for i in idx]
            platform.write("".join(f"{meter.meter_id},{s},{v}\n" for s, v in zip(stamps, kwh, strict=True)))
            raw.write("".join(f"{meter.pk},{s},{v}\n" for s, v in zip(stamps, kwh, strict=True)))
    return platform_path, raw_path, n * len(meters)


def _empty_table() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE assessment_readingrevision, assessment_meterreading")
    connection.close()


def raw_copy(path: Path) -> float:
    from django.db import connection, transaction

    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        with cur.copy("COPY assessment_meterreading (meter_id, start, kwh) FROM STDIN WITH (FORMAT csv)") as copy:
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
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/flex_met_bench")
    parser.add_argument("--reimport", action="store_true", help="also time re-sending the same file")
    parser.add_argument("--workdir", default=None, help="where to write the CSV files (default: a temp dir)")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("The bulk path is Postgres COPY: give a postgres:// --database-url.")
    _ensure_database(args.database_url)
    _setup(args.database_url)
    import logging

    logging.getLogger("assessment.ingest.bulk").setLevel(logging.INFO)
    from django.db import connection

    admin, meters = _world(args.meters)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t0 = time.perf_counter()
        platform_path, raw_path, rows = _write_files(meters, args.days, Path(tmp))
        size_mb = platform_path.stat().st_size / 1e6
        print(f"{args.meters} meters x {args.days} days x 96 = {rows:,} readings; CSV {size_mb:,.0f} MB "
              f"(generated in {time.perf_counter() - t0:.1f} s)", flush=True)  # fmt: skip
        with connection.cursor() as cur:
            cur.execute("SELECT version()")
            print(cur.fetchone()[0].split(",")[0], flush=True)
        _empty_table()
        raw_s = raw_copy(raw_path)
        print(f"raw COPY           {raw_s:8.1f} s  {rows / raw_s:12,.0f} readings/s", flush=True)
        _empty_table()
        plat_s, batch = platform_import(platform_path, admin)
        assert (batch.rows_total, batch.rows_new) == (rows, rows), batch
        print(f"platform bulk      {plat_s:8.1f} s  {rows / plat_s:12,.0f} readings/s  "
              f"({raw_s / plat_s:.0%} of raw COPY speed; target >= 50%)", flush=True)  # fmt: skip
        if args.reimport:
            again_s, again = platform_import(platform_path, admin)
            assert again.rows_unchanged == rows, again
            print(
                f"platform re-send   {again_s:8.1f} s  {rows / again_s:12,.0f} readings/s  (all unchanged)", flush=True
            )
        _empty_table()


if __name__ == "__main__":
    main()
