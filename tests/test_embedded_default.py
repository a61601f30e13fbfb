"""The README's ``make demo`` on the embedded default: SQLite, eager Celery and a local anvil, nothing else running.

CI runs the suite on PostgreSQL, so a statement only PostgreSQL understands on the demo's path would otherwise go
unseen by every test. It did (2026-12-06): the meter-status refresh's packed-array read made ``make demo`` fail at
the history import on SQLite. This runs ``migrate`` and ``demo`` (without ``--serve``) in a subprocess, as a
newcomer would, in a directory of its own (``FLEX_VAR_DIR``: database, anvil state) with its own anvil port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what would point the embedded default at the real stack (the suite's own services)
REAL_STACK = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHAIN_RPC_URL", "DJANGO_SETTINGS_MODULE")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.anvil
def test_make_demo_runs_the_market_day_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in REAL_STACK and not k.startswith("DJANGO_DB_")}
    env.update(FLEX_VAR_DIR=str(tmp_path), CHAIN_RPC_URL=f"http://127.0.0.1:{_free_port()}")
    manage = [sys.executable, str(ROOT / "manage.py")]
    migrate = subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    assert (tmp_path / "flexplatform.sqlite3").exists()  # the embedded default's database, not the suite's

    demo = subprocess.run([*manage, "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)

    assert demo.returncode == 0, (demo.stdout[-2000:], demo.stderr[-4000:])
    out = demo.stdout
    assert "World: 1 grid operator, 1 aggregator, 60 consumer premises" in out
    assert "daily run" in out and "items to participants" in out  # the day was settled
    assert "anchored hour" in out  # and its settlements anchored on the local chain
    assert "Demo logins (password: flexdemo-2026)" in out
    assert (tmp_path / "anvil-state.json").exists()  # its own anvil, its state beside its database
