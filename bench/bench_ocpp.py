"""Benchmark: the OCPP 2.0.1 side of a dispatch alone: 2,000 SetChargingProfile commands from the platform's CSMS
(``manage.py ocpp_server``) to 2,000 simulated stations (``python -m activation.ocpp_station``, one websocket each),
with the CPU seconds of each process from the moment the commands are written to the last acknowledgement.

Run from the project root (PostgreSQL; the database is migrated and FLUSHED first)::

    .venv/bin/python bench/bench_ocpp.py --database-url postgres://.../flex_bench [--stations 2000]
        [--trees /work/main,/work/wt-x] [--runs 3] [--bursts 2] [--chunks 4 --gap 0.6] [--profile FILE]

Setup (once): 2,000 premises with one EV charger each (OCPP, a station password issued per charger,
``device_credentials_issue_bulk``), enrolled in an emergency program; one ``emergency_event_create`` writes the
2,000 OCPP outbox rows (the platform's dispatch path; no CSMS runs yet, so they stay pending).

A run (per source tree in ``--trees``, alternating, ``--runs`` times): the CSMS and the stations start from that
tree (its code, this database), the stations sign in; then each of ``--bursts`` bursts makes the 2,000 rows due
again (pending, a fresh message id each, due now: what the dispatch's INSERT leaves), in one UPDATE or, with
``--chunks 4 --gap 0.6``, in four commits 0.6 s apart as the emergency call commits them; the clock starts at the
first commit. Measured until every row is acknowledged: the CPU seconds (utime + stime, /proc) of the
CSMS (and of its event loop's thread alone), the stations and the database's backends (all but this script's own;
new ones counted from zero), and the latency ``acked_at`` - first commit (p50 / p95 / max). Burst 1 is what
``bench_dispatch.py`` sees (fresh processes); later bursts are warm. Printed per run, then the medians per tree and
burst. ``--profile FILE`` runs the CSMS and the stations under a CPU-time cProfile of burst 1 alone (started and
stopped by signal; FILE.<tree>.<run>.csms|stations: function calls are deterministic, CPU seconds are not);
``--profile -`` prints the time of their garbage collections per burst instead. Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.bench_dispatch import _stop, emergency_world, pct, vacuum_analyse  # noqa: E402 - shared with it


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process and its threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0  # a backend that ended meanwhile


def _main_thread_cpu(pid: int) -> tuple[float, float]:
    """The CPU seconds (user, system) of a process's main thread (its event loop), without its worker threads."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


CHILDREN: list[subprocess.Popen] = []


def _end_children() -> None:
    for child in reversed(CHILDREN):
        try:
            _stop(child, 10)
        except Exception:  # noqa: BLE001, S110 - best effort at exit
            pass


def setup(n: int):
    """The world: ``n`` premises with one OCPP charger each, enrolled; one emergency call writes the commands.
    Returns the station spec rows ``[station id, kW, password]``."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from accounts.device_credentials import device_credentials_issue_bulk
    from accounts.models import Device
    from activation import services
    from activation.models import OutboxMessage

    zone, operator, program, premises = emergency_world(n, code="bench-ocpp")
    Device.objects.bulk_create(
        [
            Device(premise=p, name="EV charger", kind="ev_charger", control_channel="ocpp", max_events_per_day=5,
                   max_events_per_month=20, channel_address=f"CP-{p.pk}", rated_kw=Decimal("7.4"),
                   min_kw=Decimal("1.4"), max_kw=Decimal("7.4"))
            for p in premises
        ],
        batch_size=2000,
    )  # fmt: skip
    chargers = list(Device.objects.filter(control_channel="ocpp").order_by("pk"))
    passwords = device_credentials_issue_bulk(devices=chargers)
    now = timezone.now()
    services.emergency_event_create(
        program=program, zone=zone, start=now, end=now + timedelta(hours=1), user=operator, now=now
    )
    n_rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.OCPP).count()
    assert n_rows == n, f"{n_rows} OCPP commands written for {n} chargers"
    vacuum_analyse()
    return [[x.channel_address, float(x.max_kw), passwords[x.pk]] for x in chargers]


def make_due(chunks: int = 1, gap: float = 0.0) -> float:
    """Every OCPP row pending again, due now, with a fresh message id (the state the dispatch's INSERT leaves), in
    ``chunks`` commits ``gap`` seconds apart (the emergency call commits 500 resources at a time: 4 chunks of 500
    chargers, about 0.6 s apart in bench_dispatch.py); returns the wall time of the first commit (the clock's
    start)."""
    from django.db import connection, transaction

    from activation.models import OutboxMessage
    from activation.services.outbox import ocpp_commands_notify

    table = OutboxMessage._meta.db_table
    ids = list(
        OutboxMessage.objects.filter(channel=OutboxMessage.Channel.OCPP).order_by("pk").values_list("pk", flat=True)
    )
    size = -(-len(ids) // chunks)
    t0 = None
    for i in range(0, len(ids), size):
        if t0 is not None and gap:
            time.sleep(gap)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = 'pending', sent_at = NULL, acked_at = NULL, attempts = 0, "  # noqa: S608
                "last_error = '', message_id = gen_random_uuid(), next_attempt_at = now() WHERE id = ANY(%s)",
                [ids[i : i + size]],
            )
            ocpp_commands_notify()  # as the dispatch's INSERT does (ADR 0054): the CSMS claims at the commit
        t0 = t0 or time.time()
    return t0


def acked_count() -> int:
    from django.db import connection

    from activation.models import OutboxMessage

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {OutboxMessage._meta.db_table} "  # noqa: S608
            "WHERE channel = 'ocpp' AND status = 'acknowledged'"
        )
        return cursor.fetchone()[0]


def backends(dbname: str, own: int) -> dict[int, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s", [dbname, own])
        return {r[0]: _cpu_seconds(r[0]) for r in cursor.fetchall()}


def one_run(
    tree: Path, spec: Path, n: int, bursts: int, profile: str, timeout: float, chunks: int = 1, gap: float = 0.0
) -> list[dict]:
    """Start the CSMS and the stations from ``tree``; ``bursts`` measured bursts; both stopped after."""
    from django.db import connection

    from activation.models import OutboxMessage
    from tests.faults import free_port

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flexplatform.settings.test", "PYTHONPATH": str(tree)}
    me = str(Path(__file__).resolve())
    csms = subprocess.Popen(  # noqa: S603
        [sys.executable, *([me, "--child", f"{profile}.csms" if profile != "-" else "-"] if profile else []), "manage.py", "ocpp_server", "--port", str(port), "--poll-seconds", "0.05"],
        cwd=tree, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    CHILDREN.append(csms)
    assert csms.stdout.readline().startswith("OCPP 2.0.1 CSMS")
    stations = subprocess.Popen(  # noqa: S603
        [sys.executable, *([me, "--child", f"{profile}.stations" if profile != "-" else "-"] if profile else []), "-m", "activation.ocpp_station", f"ws://127.0.0.1:{port}", str(spec), "--seconds", "600"],
        cwd=tree, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    CHILDREN.append(stations)
    assert stations.stdout.readline().strip() == "READY"
    time.sleep(3.0)  # the sign-in's tail settles (threads, backends; the CSMS freezes its fleet for the GC)
    dbname = connection.settings_dict["NAME"]
    own = connection.connection.info.backend_pid if connection.connection else None
    if own is None:
        connection.ensure_connection()
        own = connection.connection.info.backend_pid
    results = []
    rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.OCPP)
    for burst in range(1, bursts + 1):
        db0 = backends(dbname, own)
        if profile == "-" or (profile and burst == 1):
            csms.send_signal(signal.SIGUSR1)
            stations.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
        c0, s0, m0 = _cpu_seconds(csms.pid), _cpu_seconds(stations.pid), _main_thread_cpu(csms.pid)
        t0 = make_due(chunks, gap)
        deadline = time.monotonic() + timeout
        while acked_count() < n and time.monotonic() < deadline:
            time.sleep(0.02)
        c1, s1, m1 = _cpu_seconds(csms.pid), _cpu_seconds(stations.pid), _main_thread_cpu(csms.pid)
        db1 = backends(dbname, own)
        if profile == "-" or (profile and burst == 1):
            csms.send_signal(signal.SIGUSR2)
            stations.send_signal(signal.SIGUSR2)
        wall = time.time() - t0
        lat = sorted(a.timestamp() - t0 for a in rows.filter(acked_at__isnull=False).values_list("acked_at", flat=True))
        db = sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
        results.append(
            {"tree": str(tree), "burst": burst, "csms": c1 - c0, "loop": sum(m1) - sum(m0), "sys": m1[1] - m0[1], "stations": s1 - s0, "db": db,
             "total": (c1 - c0) + (s1 - s0) + db, "acked": len(lat), "p50": pct(lat, 50), "p95": pct(lat, 95),
             "max": lat[-1] if lat else float("nan"), "wall": wall, "backends": len(db1),
             "load": os.getloadavg()[0]}
        )  # fmt: skip
        time.sleep(0.5)
    for proc in (stations, csms):
        _stop(proc)
    return results


def show(r: dict) -> None:
    print(
        f"  {Path(r['tree']).name:<10} burst {r['burst']}  CSMS {r['csms']:.3f} (loop {r['loop']:.3f}, sys {r['sys']:.3f})  stations {r['stations']:.3f}  "
        f"db {r['db']:.3f}  total {r['total']:.3f} CPU-s   p50 {r['p50']:.3f}  p95 {r['p95']:.3f}  "
        f"max {r['max']:.3f} s  ({r['acked']} acked, {r['backends']} backends, load {r['load']:.2f})",
        flush=True,
    )


def child(out: str, argv: list[str]) -> None:
    """Run ``manage.py ...`` or ``-m module ...`` (argv) with a CPU-time cProfile of its event loop's thread that
    SIGUSR1 starts and SIGUSR2 stops and writes to ``out`` (the burst alone, not the start and sign-in)."""
    import cProfile
    import gc
    import runpy

    profiler = cProfile.Profile(time.process_time) if out != "-" else None
    collected = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}  # generation -> [collections, CPU-s]
    started = [0.0]

    def gc_timer(phase, info):
        if phase == "start":
            started[0] = time.thread_time()
        else:
            collected[info["generation"]][0] += 1
            collected[info["generation"]][1] += time.thread_time() - started[0]

    def begin(*_):
        for v in collected.values():
            v[:] = [0, 0.0]
        gc.callbacks.append(gc_timer)
        if profiler:
            profiler.enable()

    def end(*_):
        if profiler:
            profiler.disable()
            profiler.dump_stats(out)
        gc.callbacks.remove(gc_timer)
        print(f"GC {Path(argv[-1]).name if argv[0] == '-m' else 'csms'}: {collected}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, end)
    sys.path.insert(0, os.getcwd())
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], sys.argv[3:])
    import atexit

    atexit.register(_end_children)
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--trees", default=str(PROJECT_ROOT), help="Comma-separated source trees, run alternately.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bursts", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--chunks", type=int, default=1, help="Commits per burst (4: as the emergency call).")
    parser.add_argument("--gap", type=float, default=0.0, help="Seconds between them (bench_dispatch: about 0.6).")
    parser.add_argument(
        "--profile",
        default="",
        help="cProfile burst 1 into PROFILE.<tree>.<run>.csms|stations ('-': only the GC's time, on stderr).",
    )
    parser.add_argument("--skip-setup", action="store_true", help="Keep the world of the previous invocation.")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.test")
    import django

    django.setup()
    spec = PROJECT_ROOT / "var" / "bench_ocpp.stations.json"
    spec.parent.mkdir(exist_ok=True)
    if args.skip_setup and spec.exists():
        n = len(json.loads(spec.read_text()))
    else:
        t = time.perf_counter()
        spec.write_text(json.dumps(setup(args.stations)))
        n = args.stations
        print(
            f"setup: {n} OCPP chargers with station passwords, their commands written ({time.perf_counter() - t:.1f} s)"
        )
    trees = [Path(x).resolve() for x in args.trees.split(",")]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    results = []
    for run in range(1, args.runs + 1):
        for tree in trees:
            profile = (
                f"{Path(args.profile).resolve()}.{tree.name}.{run}" if args.profile not in ("", "-") else args.profile
            )
            for r in one_run(tree, spec, n, args.bursts, profile, args.timeout, args.chunks, args.gap):
                show(r)
                results.append(r)
    print("medians (CPU-s from the write to the last ack; latency from the write's commit):")
    for tree in trees:
        for burst in range(1, args.bursts + 1):
            rs = [r for r in results if r["tree"] == str(tree) and r["burst"] == burst]
            med = {
                k: statistics.median(r[k] for r in rs)
                for k in ("csms", "loop", "sys", "stations", "db", "total", "p50", "p95")
            }
            print(
                f"  {tree.name:<10} burst {burst} (n={len(rs)})  CSMS {med['csms']:.3f} (loop {med['loop']:.3f}, sys {med['sys']:.3f})  stations {med['stations']:.3f}  "
                f"db {med['db']:.3f}  total {med['total']:.3f}   p50 {med['p50']:.3f}  p95 {med['p95']:.3f} s"
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
