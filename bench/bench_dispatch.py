"""Benchmark: one emergency event dispatched to 10,000 registered devices: 8,000 over authenticated MQTT and
2,000 EV chargers over OCPP 2.0.1, with acknowledgements (ADR 0029).

Run from the project root (``mosquitto`` installed; PostgreSQL recommended: several processes write)::

    .venv/bin/python bench/bench_dispatch.py [--devices 10000] [--database-url postgres://.../flex_bench]
        [--worker redis://127.0.0.1:6379/13]

The figure of issue #17's target is the deployed configuration: PostgreSQL and ``--worker`` (the on-commit
``flush_outbox`` task runs in a Celery worker process, as on the real stack). Without ``--worker`` Celery runs
the flush eagerly in the calling process (the embedded default's way), so each chunk's publish and PUBACK wait
are on the call's path.

Builds a throw-away database (SQLite ``var/bench_dispatch.sqlite3`` by default; with ``--database-url`` that
PostgreSQL database is migrated and FLUSHED first) with N/5 residential premises, each with 4 registered MQTT
devices (battery, two water heaters, pool pump) and one EV charger on OCPP, enrolled in an emergency program.
MQTT: a private Mosquitto with authentication and the ACL ``manage.py mqtt_acl`` writes; every device signs in
with its own credentials (``python -m activation.simulator --credentials``: one process, one connection per
device). OCPP: the platform's CSMS (``manage.py ocpp_server``) and the simulated charging stations
(``python -m activation.ocpp_station``: one websocket per station) each run in their own process. The platform's
MQTT ack listener (``bench/ack_listener.py``) runs in another.

The clock starts when the dispatch service is called: ``emergency_event_create`` (one DR event per resource,
one outbox command per device with comfort and safety limits), which commits 500 resources at a time; each
commit enqueues ``outbox_flush`` (QoS 1 publish of that chunk's commands, marked sent after the PUBACKs) on
commit: run by the Celery worker with ``--worker``, else eagerly in this process. On PostgreSQL the world is
vacuumed and analysed before the call (this host's PostgreSQL runs without autovacuum, and every run's FLUSH
leaves dead catalog rows behind: 31,783 in ``pg_class`` after some 40 runs, which slowed later runs). Latency = the moment the platform's listener
received a device's ack - that start. Printed: p50 / p95 / max; the phases (building the commands, inserting the
outbox rows, publishing, marking rows sent, the rest, and recording the acks in the database afterwards); the
CPU seconds each process spends from the call to the last acknowledgement (the platform, the simulator, the listener,
the CSMS, the stations, Mosquitto, the database's backends): on a shared machine the wall-clock figures depend on
the others' load, so the load average is printed with what the CPU time implies for an idle machine. ``--profile
FILE`` writes a CPU-time cProfile of the dispatch to FILE and one of the CSMS to FILE.csms. The run uses its own
MQTT topic root (``MQTT_TOPIC_ROOT``). Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


class PhaseTimer:
    """Wall time spent inside wrapped functions (timing only: the wrapped function runs unchanged)."""

    def __init__(self):
        self.totals: dict[str, float] = {}

    def wrap(self, owner, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - t

        setattr(owner, name, timed)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _pg_backends(dbname: str) -> list[int]:
    """Process ids of the PostgreSQL backends serving ``dbname`` (local server only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [dbname])
        return [r[0] for r in cursor.fetchall()]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(max(int(round(p / 100 * len(values))) - 1, 0), len(values) - 1)]


CHILDREN: list = []  # processes (and the broker) this run started: ended at exit, whatever happened


def _end_children() -> None:
    for child in reversed(CHILDREN):
        try:
            if hasattr(child, "terminate"):
                if child.poll() is None:
                    child.terminate()
                    child.wait(10)
            else:
                child.stop()
        except Exception:  # noqa: BLE001, S110 - best effort at exit
            pass


def _stop(proc, timeout: float = 30) -> None:
    """Terminate a child process, killed if it has not ended after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def emergency_world(n_premises: int, *, code: str, flush: bool = True):
    """The benches' world (this one's and ``bench_ocpp.py``'s): the database migrated (and FLUSHED), a zone, a
    consumer organisation with ``n_premises`` residential premises, the grid operator serving the zone, an
    emergency program (no notice) with every premise enrolled at 30 kW. Returns (zone, operator, program,
    premises in id order); the caller registers the devices."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.models import GridZone, Membership, Organisation, Premise
    from activation import services
    from activation.models import Enrollment, Program

    call_command("migrate", verbosity=0)
    if flush:
        call_command("flush", interactive=False, verbosity=0)
    zone = GridZone.objects.create(code="bench-zone", name="Bench zone")
    org = Organisation.objects.create(name="Bench consumers", kind=Organisation.Kind.CONSUMER)
    op_org = Organisation.objects.create(name="Bench DSO", kind=Organisation.Kind.GRID_OPERATOR)
    operator = get_user_model().objects.create_user(username="op", email="op@bench", password="x")  # noqa: S106
    Membership.objects.create(user=operator, organisation=op_org, role=Membership.Role.GRID_OPERATOR)
    op_org.service_zones.add(zone)  # the operator calls emergencies only in the zones it serves
    Premise.objects.bulk_create(
        [Premise(organisation=org, name=f"P{i}", segment="residential", grid_zone=zone) for i in range(n_premises)],
        batch_size=2000,
    )
    program = services.program_create(
        code=code, name=f"Bench {code}", kind=Program.Kind.EMERGENCY, notice_minutes=0,
        max_events_per_day=5, max_events_per_month=20,
    )  # fmt: skip
    premises = list(Premise.objects.order_by("id"))
    Enrollment.objects.bulk_create(
        [Enrollment(program=program, premise=p, committed_kw=Decimal(30), safety_max_kw=Decimal(30)) for p in premises],
        batch_size=2000,
    )
    return zone, operator, program, premises


def vacuum_analyse() -> None:
    """On PostgreSQL, ``VACUUM (ANALYZE)`` of the bench database (autocommit, outside a transaction): this host's
    PostgreSQL runs without autovacuum, and every run's FLUSH leaves dead catalog rows behind (31,783 in
    ``pg_class`` after some 40 runs, which slowed later runs); the world's statistics for the planner."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")


def main() -> None:
    import atexit

    atexit.register(_end_children)
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--worker",
        default="",
        help="Redis URL (e.g. redis://127.0.0.1:6379/13): flush in a real Celery worker process, as deployed.",
    )
    parser.add_argument("--chunk", type=int, default=0, help="Resources per transaction (default EMERGENCY_CHUNK).")
    parser.add_argument(
        "--profile",
        default="",
        help="Write cProfile stats (CPU time) of the dispatch (call + flush) here, the CSMS's to PROFILE.csms.",
    )
    args = parser.parse_args()

    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        db = PROJECT_ROOT / "var" / "bench_dispatch.sqlite3"
        db.parent.mkdir(exist_ok=True)
        if db.exists():
            db.unlink()
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.test")
    # Its own topics on the (possibly shared) broker; the simulator and the listener are told the same root.
    root = os.environ.setdefault("MQTT_TOPIC_ROOT", f"flex-bench-{os.getpid()}/devices")
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from accounts.device_credentials import device_credentials_issue_bulk
    from accounts.models import Device
    from activation import services
    from activation.models import OutboxMessage
    from activation.protocols import mqtt as mqtt_protocol
    from activation.services import dispatch, emergency, outbox_delivery
    from tests.faults import SecureMosquittoBroker, free_port

    t = time.perf_counter()
    zone, operator, program, premises = emergency_world(
        args.devices // 5, code="bench-emergency", flush=bool(args.database_url)
    )
    n_premises = len(premises)
    d = Decimal
    kinds = [
        ("Battery", "battery", "mqtt", {"rated_kw": d(5), "max_kw": d(5), "capacity_kwh": d("13.5"),
                                         "soc_min_percent": d(10), "soc_max_percent": d(100), "soc_percent": d(90)}),
        ("Water heater", "water_heater", "mqtt", {"rated_kw": d("4.5"), "max_kw": d("4.5"), "setpoint_c": d(60),
                                                  "comfort_min_c": d(50), "comfort_max_c": d(65)}),
        ("Water heater 2", "water_heater", "mqtt", {"rated_kw": d(3), "max_kw": d(3), "setpoint_c": d(60),
                                                    "comfort_min_c": d(50), "comfort_max_c": d(65)}),
        ("Pool pump", "pool_pump", "mqtt", {"rated_kw": d("1.5"), "max_kw": d("1.5")}),
        ("EV charger", "ev_charger", "ocpp", {"rated_kw": d("7.4"), "min_kw": d("1.4"), "max_kw": d("7.4")}),
    ]  # fmt: skip
    Device.objects.bulk_create(
        [
            Device(premise=p, name=name, kind=kind, control_channel=channel, max_events_per_day=5,
                   max_events_per_month=20, channel_address=f"CP-{p.pk}" if channel == "ocpp" else "", **extra)
            for p in premises
            for name, kind, channel, extra in kinds
        ],
        batch_size=2000,
    )  # fmt: skip
    mqtt_devices = list(Device.objects.filter(control_channel="mqtt").order_by("pk"))
    passwords = {f"dev-{pk}": pw for pk, pw in device_credentials_issue_bulk(devices=mqtt_devices).items()}
    n_devices = len(mqtt_devices)
    # OCPP Security Profile 1 (ADR 0031): every station signs in with the password issued at registration.
    charger_devices = list(Device.objects.filter(control_channel="ocpp").order_by("pk"))
    station_passwords = device_credentials_issue_bulk(devices=charger_devices)
    chargers = [(x.channel_address, x.max_kw, station_passwords[x.pk]) for x in charger_devices]
    # The authenticating broker: its password file and ACL written by manage.py mqtt_acl.
    settings.MQTT_USERNAME, settings.MQTT_PASSWORD = "flex-platform", "bench-platform-secret"
    broker = SecureMosquittoBroker().start()
    CHILDREN.append(broker)
    settings.MQTT_PORT = broker.port
    broker.reload()
    os.environ.update(
        MQTT_PORT=str(broker.port), MQTT_USERNAME=settings.MQTT_USERNAME, MQTT_PASSWORD=settings.MQTT_PASSWORD
    )
    vacuum_analyse()
    print(
        f"setup: {n_premises} premises, {n_devices} MQTT devices with credentials, {len(chargers)} OCPP chargers, "
        f"{connection.vendor} database "
        f"({time.perf_counter() - t:.1f} s)"
    )

    spec = PROJECT_ROOT / "var" / "bench_dispatch.fleet.json"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(json.dumps([[f"dev-{x.pk}", x.premise_id, float(x.max_kw)] for x in mqtt_devices]))
    creds = spec.with_name("bench_dispatch.credentials.json")
    creds.write_text(json.dumps(passwords))
    fleet = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "activation.simulator", str(spec), "--seconds", "300", "--topic-root", root,
         "--port", str(broker.port), "--credentials", str(creds)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    CHILDREN.append(fleet)
    assert fleet.stdout.readline().strip() == "READY"
    # OCPP: the platform's CSMS and the simulated stations, each in its own process.
    ocpp_port = free_port()
    csms = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            *(["-m", "cProfile", "-o", f"{args.profile}.csms"] if args.profile else []),
            "manage.py",
            "ocpp_server",
            "--port",
            str(ocpp_port),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "flexplatform.settings.test"},
    )
    CHILDREN.append(csms)
    assert csms.stdout.readline().startswith("OCPP 2.0.1 CSMS")
    station_spec = spec.with_name("bench_dispatch.stations.json")
    station_spec.write_text(json.dumps([[cp, float(kw), pw] for cp, kw, pw in chargers]))
    stations = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "activation.ocpp_station", f"ws://127.0.0.1:{ocpp_port}", str(station_spec),
         "--seconds", "300"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    CHILDREN.append(stations)
    assert stations.stdout.readline().strip() == "READY"
    print(f"OCPP: {len(chargers)} simulated charging stations connected to the CSMS (two more processes)")
    acks_file = spec.with_name("bench_dispatch.acks.json")
    listener = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            str(PROJECT_ROOT / "bench" / "ack_listener.py"),
            str(acks_file),
            str(n_devices),
            "60",
            root,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    CHILDREN.append(listener)
    assert listener.stdout.readline().strip() == "READY"
    print(f"fleet: {n_devices} MQTT devices in their own process, each signed in as itself; ack listener in another")

    worker = None
    if args.worker:
        # As deployed: on commit the dispatch enqueues ``flush_outbox`` on the Redis broker and a Celery worker
        # (its own process, solo pool) publishes while the next chunk is written.
        from flexplatform.celery import app

        app.conf.task_always_eager = False
        app.conf.broker_url = args.worker
        app.conf.result_backend = None
        app.conf.task_ignore_result = True
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "flexplatform.settings.local",
            "CELERY_BROKER_URL": args.worker,
            "CELERY_RESULT_BACKEND": "",
            "DATABASE_URL": os.environ["DATABASE_URL"],
        }
        worker = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "flexplatform",
                "worker",
                "-P",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--purge",
                "-l",
                "warning",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with app.connection_for_write() as conn:  # wait until the worker consumes (a ping round trip)
            conn.ensure_connection(max_retries=3)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not app.control.ping(timeout=0.5):
            time.sleep(0.5)
        print("flush: in a Celery worker process (solo pool) on the Redis broker")

    timer = PhaseTimer()
    timer.wrap(dispatch, "translate", "build commands (translate, in memory)")
    timer.wrap(dispatch, "outbox_insert", "insert outbox rows (one bulk INSERT/COPY)")
    timer.wrap(mqtt_protocol.MqttPublisher, "publish_many", "publish at QoS 1 until every PUBACK")
    timer.wrap(outbox_delivery, "mqtt_results_mark", "mark rows sent (set-based UPDATE)")

    # As deployed: each committed chunk of the emergency call enqueues ``flush_outbox`` on commit (here Celery
    # runs it eagerly, in this process, right after the commit).
    settings.OUTBOX_FLUSH_ON_COMMIT = True
    if args.chunk:
        emergency.EMERGENCY_CHUNK = args.chunk
    import cProfile

    # CPU time, not wall time: on a shared machine the wall clock charges other processes' work to whatever
    # function was running when the scheduler took the CPU away.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    # CPU seconds of every process of the run, sampled now and after the last acknowledgement: on a shared
    # machine the wall clock depends on the others' load, the CPU time spent by ours does not.
    procs = {"simulator (8/10 of the devices)": fleet, "ack listener": listener, "OCPP CSMS": csms,
             "OCPP stations": stations, "Mosquitto": broker.process}  # fmt: skip
    if worker:
        procs["Celery worker"] = worker
    pg_db = connection.settings_dict["NAME"] if connection.vendor == "postgresql" else ""
    pg_cpu0 = {pid: _cpu_seconds(pid) for pid in _pg_backends(pg_db)} if pg_db else {}
    cpu_before = {name: _cpu_seconds(p.pid) for name, p in procs.items()}
    now = timezone.now()
    cpu0 = time.process_time()
    t0 = time.time()
    if profiler:
        profiler.enable()
    events = services.emergency_event_create(
        program=program, zone=zone, start=now, end=now + timedelta(hours=1), user=operator, now=now
    )
    committed = time.time() - t0
    if worker is None:
        services.outbox_flush(now=timezone.now())  # nothing left, normally
    cpu = time.process_time() - cpu0
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    sent = OutboxMessage.objects.exclude(status=OutboxMessage.Status.PENDING).count()
    done = listener.stdout.readline().split()
    assert done[0] == "DONE"
    listener_cpu = float(done[1])
    ours = {str(m) for m in OutboxMessage.objects.values_list("message_id", flat=True)}
    received = [a for a in json.loads(acks_file.read_text()) if a[0] in ours]  # the broker is shared
    latencies = sorted(at - t0 for _, _, at in received)

    # The platform's own backend before the bench records the MQTT acks (after the last one arrived): reported
    # apart below, as it is not on the way to any acknowledgement.
    own_pid = connection.connection.info.backend_pid if pg_db else None
    own_cpu0 = _cpu_seconds(own_pid) if own_pid else 0.0
    t1 = time.perf_counter()
    recorded = 0
    batch = 2000
    for i in range(0, len(received), batch):
        recorded += services.device_acks_record(
            acks=[(mid, device_id, now) for mid, device_id, _ in received[i : i + batch]]
        )
    ingest = time.perf_counter() - t1
    ingest_pg_cpu = _cpu_seconds(own_pid) - own_cpu0 if own_pid else 0.0
    ocpp_rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.OCPP)
    n_ocpp = ocpp_rows.count()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and ocpp_rows.filter(status=OutboxMessage.Status.ACKNOWLEDGED).count() < n_ocpp:
        time.sleep(0.2)
    ocpp_latencies = sorted(
        a.timestamp() - t0 for a in ocpp_rows.filter(acked_at__isnull=False).values_list("acked_at", flat=True)
    )
    cpu_after = {name: _cpu_seconds(p.pid) for name, p in procs.items()}
    pg_cpu = 0.0
    if pg_db:  # the backends of this database (the platform's, the CSMS's), new ones counted from zero
        pg_cpu = sum(_cpu_seconds(pid) - pg_cpu0.get(pid, 0.0) for pid in _pg_backends(pg_db))
    if args.profile:
        csms.send_signal(signal.SIGINT)  # a clean exit: cProfile writes the CSMS's profile to PROFILE.csms
        try:
            csms.wait(120)
        except subprocess.TimeoutExpired:
            pass  # ended below (no CSMS profile then)
    for proc in (stations, csms):
        _stop(proc)
    broker.stop()
    acked_rows = OutboxMessage.objects.filter(
        channel=OutboxMessage.Channel.MQTT, status=OutboxMessage.Status.ACKNOWLEDGED
    ).count()
    worker_cpu = _cpu_seconds(worker.pid) if worker else 0.0
    fleet_cpu = _cpu_seconds(fleet.pid)
    for proc in (worker, fleet):  # on a loaded host a child may take a while to stop: it is ended, not waited on
        if proc is not None:
            _stop(proc)

    n_cmds = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.MQTT).count()
    print(
        f"dispatch: {len(events)} DR events, {n_cmds} device commands; the call returned after {committed:.3f} s "
        f"(chunks committed and flushed on commit), {sent} published by then"
    )
    print(
        f"  CPU time: platform process {cpu:.3f} s (the call and its flushes), simulator {fleet_cpu:.3f} s, "
        f"ack listener {listener_cpu:.3f} s (whole run)"
        + (f", Celery worker {worker_cpu:.3f} s (incl. its start)" if worker else "")
    )
    window = max([*latencies[-1:], *ocpp_latencies[-1:], committed])
    used = {"platform (dispatch call + flushes)": cpu}
    used.update({name: cpu_after[name] - cpu_before[name] for name in procs})
    if pg_db:
        used["PostgreSQL backends of this database"] = pg_cpu
    print(f"  CPU seconds from the call to the last acknowledgement ({window:.3f} s wall):")
    for name, seconds in used.items():
        print(f"    {name:<45} {seconds:7.3f} s")
    total_cpu = sum(v for v in used.values() if v == v)
    load1 = os.getloadavg()[0]
    print(
        f"    {'total':<45} {total_cpu:7.3f} s = {total_cpu / max(window, 1e-9):.2f} cores busy on average "
        f"(load average {load1:.2f} on {os.cpu_count()} CPUs: the other agents' processes share them); "
        f"alone on {os.cpu_count()} idle cores this work needs about {total_cpu / (os.cpu_count() or 1):.2f} s "
        f"if spread evenly, and at least {max(used.values()):.2f} s (the busiest process)"
    )
    for label, seconds in timer.totals.items():
        print(f"  phase  {label:<45} {seconds:7.3f} s")
    other = committed - sum(timer.totals.values())
    print(f"  phase  {'other work (events, signals, caps, flush queries)':<45} {other:7.3f} s")
    print(
        f"  phase  {'record acks in the database (batches of 2,000)':<45} {ingest:7.3f} s  ({recorded} recorded; "
        f"{ingest_pg_cpu:.3f} CPU-s of its PostgreSQL backend, counted in the table above)"
    )
    print(f"MQTT acks back at the platform: {len(received)}/{n_cmds}; {acked_rows} rows acknowledged")
    print(f"OCPP SetChargingProfile accepted: {len(ocpp_latencies)}/{n_ocpp}")
    for channel, values, n in (("MQTT (authenticated)", latencies, n_cmds), ("OCPP 2.0.1", ocpp_latencies, n_ocpp)):
        print(
            f"dispatch-to-ack latency  {channel:<21} p50 {pct(values, 50):.3f} s  p95 {pct(values, 95):.3f} s  "
            f"max {values[-1] if values else float('nan'):.3f} s  ({len(values)}/{n} acknowledged)"
        )
    target = len(received) == n_cmds and len(ocpp_latencies) == n_ocpp
    target = target and pct(latencies, 95) < 2 and pct(ocpp_latencies, 95) < 2
    mode = "flush in a Celery worker, as deployed" if worker else "flush eagerly in the calling process"
    print(f"target p95 < 2 s per channel, every device acknowledged ({mode}): {'MET' if target else 'NOT MET'}")
    print(
        f"load average (1/5/15 min) after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
