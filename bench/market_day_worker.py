"""Celery application of bench_market_day.py's worker processes: the platform's own app
(``flexplatform.celery``, every task autodiscovered) plus a counter of the SQL statements each task ran, added
to the Redis hash ``bench:counters`` (``queries``, ``tasks``) when the task ends, and connections kept across
tasks (below). Started by the benchmark as
``celery -A bench.market_day_worker worker -c 1``; not imported by the platform or the test suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from celery.signals import task_postrun  # noqa: E402
from django.db.backends import utils as db_utils  # noqa: E402

from flexplatform.celery import app  # noqa: E402 - the application celery -A loads

# Celery's Django fixup closes every database connection after each task unless CELERY_DB_REUSE_MAX is set (the
# platform does not set it: one new PostgreSQL backend per task). Kept open here for the whole run (the fixup
# counts two per task), so that the benchmark reads the CPU of each worker's backend from /proc: a backend closed
# within a step was missed (issue #21: 0.2 s of database CPU read for the verify step's 185,511 statements); the
# benchmark also samples the backends during a step (market_day_procs.Backends).
app.conf.CELERY_DB_REUSE_MAX = int(os.environ.get("BENCH_DB_REUSE_MAX", "1000000000"))

_queries = [0]
_original = db_utils.CursorWrapper._execute_with_wrappers


def _counted(self, *args, **kwargs):
    _queries[0] += 1
    return _original(self, *args, **kwargs)


db_utils.CursorWrapper._execute_with_wrappers = _counted
_redis = []


@task_postrun.connect
def _report(sender=None, **kwargs) -> None:
    if not _redis:
        import redis

        _redis.append(redis.Redis.from_url(os.environ["REDIS_URL"]))
    n, _queries[0] = _queries[0], 0
    pipe = _redis[0].pipeline()
    pipe.hincrby("bench:counters", "queries", n)
    pipe.hincrby("bench:counters", "tasks", 1)
    name = getattr(sender, "name", "?")
    pipe.hincrby("bench:tasks", f"{name}:queries", n)  # per task name: where a step's statements go
    pipe.hincrby("bench:tasks", f"{name}:n", 1)
    pipe.execute()
