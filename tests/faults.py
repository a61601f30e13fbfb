"""Real processes for the fault-injection tests (``tests/test_faults_*.py``), each started on its own port or
queue, so the machine's shared Redis (6379), Mosquitto (1883) and other test runs are never touched:

* :class:`WorkerProcess`: ``celery -A flexplatform worker`` as a child process on the test database, consuming one
  queue of its own; killed whole (SIGKILL to its process group) or in its pool child only;
* :class:`RedisServer` and :class:`MosquittoBroker`: a private broker, killed and restarted by PID;
* :class:`RowLock`: a second Postgres connection holding a row lock, so a worker stops at a known point of a run
  (it waits on the lock with its transaction open) and the fault lands there, not somewhere by chance.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from flexplatform.celery import app
from settlement.chain import free_port

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 25


def settlement_world():
    """Four households with a verified event each on ``DAY`` (two of them in an aggregator's portfolio), their
    meter readings, and two capacity contracts: a day's settlement pays event, contract and token items."""
    from datetime import timedelta
    from decimal import Decimal as D

    from settlement.tests.factories import DAY, contract_make, event_make, readings_make, world_make

    w = world_make(n=4, aggregator_members=2, tag="flt")
    for i, p in enumerate(w.premises):
        readings_make(p, day=DAY, missing=i)
        event_make(
            w, p, start=DAY + timedelta(hours=9 + i), price=D("77.77"), target_kw=D("1"), delivered=[D("0.31")] * 4
        )
    contract_make(w, w.consumers[3], premise=w.premises[3])
    contract_make(w, w.aggregator, kw="5")
    return w


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT_SECONDS, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"waited {timeout} s for {what}")


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's ``test_...`` database)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _pg_connect(**kw):
    import psycopg

    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        **kw,
    )


@contextmanager
def _not_eager():
    """The suite runs tasks eagerly; publishing to and reading from the worker's broker is not eager."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


def send_task(broker_url: str, name: str, args: list, queue: str) -> str:
    """Publish a task to ``queue`` on ``broker_url`` (as ``.delay()`` would); its id."""
    with _not_eager(), app.connection_for_write(broker_url) as conn:
        return app.send_task(name, args=args, queue=queue, connection=conn).id


def task_result(task_id: str, timeout: float = WAIT_SECONDS):
    """The task's return value from the result backend (REDIS_URL), raising what the task raised."""
    from celery.result import AsyncResult

    with _not_eager():
        return AsyncResult(task_id, app=app).get(timeout=timeout)


def queue_length(broker_url: str, queue: str) -> int:
    import redis

    return int(redis.Redis.from_url(broker_url).llen(queue))


class WorkerProcess:
    """A Celery worker process consuming ``queue`` from ``broker_url``, on the test database.

    ``pool="solo"`` runs tasks in the worker's own process; ``pool="prefork"`` in one child process, which
    :meth:`kill_child` kills like the out-of-memory killer would (the parent sees the child lost).
    """

    def __init__(
        self,
        *,
        broker_url: str,
        queue: str,
        pool: str = "solo",
        visibility_timeout: int = 4,
        env: dict[str, str] | None = None,
    ):
        self.broker_url, self.queue, self.pool = broker_url, queue, pool
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "flexplatform.settings.test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": broker_url,
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(visibility_timeout),
            "CELERY_TASK_ALWAYS_EAGER": "false",  # a retry or a task enqueued by a task goes through the broker
            "DJANGO_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="faults-worker-", suffix=".log")[1])

    def start(self) -> WorkerProcess:
        cmd = [sys.executable, "-m", "celery", "-A", "flexplatform", "worker", "-P", self.pool, "-c", "1"]
        cmd += ["-Q", self.queue, "-n", f"{self.queue}-{uuid.uuid4().hex[:6]}@%h", "-l", "INFO"]
        cmd += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(lambda: " ready." in self.log() or self.process.poll() is not None, "the worker to start")
        if self.process.poll() is not None:
            pytest.fail(f"the worker exited at start:\n{self.log()[-3000:]}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def kill(self) -> None:
        """SIGKILL to the worker and its children at once: nothing is acknowledged or rejected."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def kill_child(self) -> int:
        """SIGKILL to the pool process running the task; the worker itself lives on."""
        (child,) = self.children()
        os.kill(child, signal.SIGKILL)
        return child

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log_path.unlink(missing_ok=True)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class _Server:
    """A broker process on a fixed port, killed (SIGKILL) and started again on the same port."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"faults-{type(self).__name__.lower()}-"))
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            self.command(),
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: _port_open(self.port), f"{type(self).__name__} on port {self.port}", timeout=10, step=0.05)
        return self

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        for f in sorted(self.dir.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        self.dir.rmdir()


class RedisServer(_Server):
    """redis-server with an append-only file synced on every write (what a broker holding tasks needs)."""

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(self.dir),
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def wipe(self) -> None:
        """Lose everything on disk (a broker restarted on a new machine or without its volume)."""
        for f in sorted(self.dir.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()


class MosquittoBroker(_Server):
    def command(self) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        return ["mosquitto", "-c", str(conf)]


class SecureMosquittoBroker(_Server):
    """Mosquitto with authentication and authorisation: no anonymous clients, the password file and ACL that
    ``manage.py mqtt_acl`` writes (``passwd``, ``acl`` in its directory); ``reload()`` re-writes them from the
    database and sends the broker SIGHUP (it re-reads both)."""

    def command(self) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        for name in ("passwd", "acl"):
            (self.dir / name).touch(mode=0o600)
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\npersistence false\n"
            f"password_file {self.dir / 'passwd'}\nacl_file {self.dir / 'acl'}\n"
            # run as root (CI containers): stay root, so the 0600 files in the private directory stay readable
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        return ["mosquitto", "-c", str(conf)]

    def reload(self) -> None:
        from django.core.management import call_command

        call_command(
            "mqtt_acl",
            password_file=str(self.dir / "passwd"),
            acl_file=str(self.dir / "acl"),
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)  # the broker re-reads the files


class SharedSecureBroker:
    """The CI's second Mosquitto (started by ``.ci/run`` on ``MQTT_AUTH_BROKER_PORT`` with its files in
    ``MQTT_AUTH_BROKER_DIR``): same interface as :class:`SecureMosquittoBroker`, never stopped by a test."""

    def __init__(self, port: int, directory: str):
        self.port, self.dir = port, Path(directory)

    def start(self):
        return self

    def stop(self) -> None:
        pass

    def reload(self) -> None:
        from django.core.management import call_command

        call_command(
            "mqtt_acl",
            password_file=str(self.dir / "passwd"),
            acl_file=str(self.dir / "acl"),
            reload_pid_file=str(self.dir / "mosquitto.pid"),
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )
        time.sleep(0.3)


def secure_broker():
    """A broker with per-device authentication: the CI's (``MQTT_AUTH_BROKER_PORT``) or a private one."""
    port, directory = os.environ.get("MQTT_AUTH_BROKER_PORT"), os.environ.get("MQTT_AUTH_BROKER_DIR")
    if port and directory:
        return SharedSecureBroker(int(port), directory)
    return SecureMosquittoBroker().start()


class RowLock:
    """A second connection to the test database that holds ``SELECT ... FOR UPDATE`` locks until released."""

    def __init__(self):
        self.conn = _pg_connect()

    def lock(self, table: str, pk: int) -> None:
        self.conn.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608 - test tables

    def waiter(self) -> int:
        """The backend (pid) of the worker, once it waits for our lock."""

        def blocked():
            with _pg_connect(autocommit=True) as c:
                row = c.execute(
                    "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [self.conn.info.backend_pid],
                ).fetchone()
            return row[0] if row else None

        return wait_for(blocked, "the worker to wait on the test's row lock")

    @staticmethod
    def writes_pending(pid: int, table: str) -> bool:
        """Whether backend ``pid`` has written to ``table`` in its open transaction (a run in the middle)."""
        with _pg_connect(autocommit=True) as c:
            return bool(
                c.execute(
                    "SELECT 1 FROM pg_locks l JOIN pg_class r ON r.oid = l.relation"
                    " WHERE l.pid = %s AND r.relname = %s AND l.mode = 'RowExclusiveLock'",
                    [pid, table],
                ).fetchone()
            )

    @staticmethod
    def terminate(pid: int) -> bool:
        with _pg_connect(autocommit=True) as c:
            return bool(c.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0])

    def release(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()
