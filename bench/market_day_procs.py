"""Processes of bench/bench_market_day.py: the K Celery worker processes it starts (and restarts around a kept
world's copy), the CPU seconds of processes and of the PostgreSQL backends of one database read from ``/proc``,
and a counter of the SQL statements run in the bench process. Not imported by the platform or the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLK = os.sysconf("SC_CLK_TCK")


# --- processes -------------------------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def children_of(pids: set[int]) -> set[int]:
    out = set(pids)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            if ppid in pids:
                out.add(int(entry.name))
    return out


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Workers:
    def __init__(self, k: int, env: dict[str, str], logdir: Path) -> None:
        self.k, self.env, self.logdir = k, env, logdir
        self.pids: set[int] = set()
        self.start()

    def start(self) -> None:
        self.procs, self.logs = [], []
        for i in range(self.k):
            log = (self.logdir / f"worker{i}.log").open("a")
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "bench.market_day_worker",
                        "worker",
                        "-c",
                        "1",
                        "-n",
                        f"benchday{i}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--loglevel",
                        "WARNING",
                    ],
                    cwd=PROJECT_ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )

    def tree(self) -> set[int]:
        self.pids = children_of({p.pid for p in self.procs}) | self.pids
        return self.pids

    def cpu(self) -> float:
        return sum(proc_cpu(p) for p in self.tree())

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in self.logs:
            log.close()
        self.pids = set()


class Backends:
    """CPU seconds of the PostgreSQL backends serving one database (persistent connections: DJANGO_CONN_MAX_AGE),
    the last value seen kept for backends that have exited.

    Read at a step's start and end only, a backend that a worker opened and closed within the step (Celery's
    Django fixup closes the connection every ``CELERY_DB_REUSE_MAX`` tasks) was never seen, nor the part of the
    step's first backend after the start: the verify step's thousands of tasks read 0.2 s of database CPU for
    185,511 statements at 10,000 premises (issue #21). So during a step a thread samples the backends every
    ``interval`` s (a backend that exits loses at most its last interval), and the sampler's own CPU is kept
    apart (``sampler_cpu``) so that the bench process's CPU does not include it."""

    def __init__(self, dbname: str, interval: float = 0.25) -> None:
        self.tag = f" {dbname} ".encode()
        self.seen: dict[int, float] = {}
        self.interval = interval
        self.sampler_cpu = 0.0
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def sample_during(self) -> None:
        """Start sampling in a thread until :meth:`sample_stop`."""
        self._stop = threading.Event()

        def loop(stop: threading.Event) -> None:
            t0 = time.thread_time()
            while not stop.wait(self.interval):
                self.cpu()
            self.sampler_cpu += time.thread_time() - t0

        self._thread = threading.Thread(target=loop, args=(self._stop,), daemon=True)
        self._thread.start()

    def sample_stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def cpu(self) -> float:
        with self._lock:
            return self._scan()

    def _scan(self) -> float:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmd = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if cmd.startswith(b"postgres: ") and self.tag in cmd:
                    pid = int(entry.name)
                    self.seen[pid] = max(self.seen.get(pid, 0.0), proc_cpu(pid))
        return sum(self.seen.values())


class Counter:
    """SQL statements run in this process (every cursor execute)."""

    def __init__(self) -> None:
        from django.db.backends import utils

        self.n = 0
        original = utils.CursorWrapper._execute_with_wrappers
        counter = self

        def counted(self, *args, **kwargs):
            counter.n += 1
            return original(self, *args, **kwargs)

        utils.CursorWrapper._execute_with_wrappers = counted
