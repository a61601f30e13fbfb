"""Databases of bench/bench_market_day.py: a fresh database per run from a migrated template, and the kept worlds
(``--keep-world``): a size's world (premises, history, meter statuses) copied once into the template database
``<database>_world<N>``, marked with what it is valid for, and cloned (``CREATE DATABASE ... TEMPLATE``) by later
runs of that size instead of being built again. Not imported by the platform or the test suite."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# --- database --------------------------------------------------------------------------------------------


def fresh_database(url: str) -> None:
    """Drop ``url``'s database and re-create it from a migrated template (made once)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    tmpl = f"{name}_tmpl"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [tmpl]).fetchone():
            conn.execute(f'CREATE DATABASE "{tmpl}"')
            env = dict(os.environ, DATABASE_URL=f"{base}/{tmpl}", DJANGO_SETTINGS_MODULE="flexplatform.settings.local")
            env.pop("REDIS_URL", None)
            subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT_ROOT, env=env, check=True)
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl}"')


def world_marker(n: int, day) -> str:
    """What a kept world is valid for: its size, its market day (the history ends the day before it) and the
    schema and builder it was made with (the migration files' names, the world builder's source)."""
    h = hashlib.sha256()
    for path in sorted(PROJECT_ROOT.glob("*/migrations/0*.py")):
        h.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
    h.update((PROJECT_ROOT / "bench" / "market_day_world.py").read_bytes())
    return f"bench market day world: premises={n} day={day} schema+builder={h.hexdigest()[:16]}"


def world_clone(url: str, world_db: str, marker: str) -> bool:
    """Re-create ``url``'s database from the kept world ``world_db`` if that world carries ``marker``."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [world_db]
        ).fetchone()
        if row is None or row[0] != marker:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{world_db}" STRATEGY FILE_COPY')
    return True


def world_keep(url: str, world_db: str, marker: str) -> float:
    """Copy ``url``'s database (the world just built, no session on it) to the template ``world_db``."""
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    t0 = time.perf_counter()
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{world_db}"')
        for attempt in range(50):  # the workers' backends take a moment to exit
            try:
                conn.execute(f'CREATE DATABASE "{world_db}" TEMPLATE "{name}" STRATEGY FILE_COPY')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.2)
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(world_db), sql.Literal(marker)))
    return time.perf_counter() - t0
