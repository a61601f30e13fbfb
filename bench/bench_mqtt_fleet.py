"""Benchmark: the MQTT side of the emergency dispatch alone (ADR 0051): CPU per command of the simulated fleet, the
platform's ack listener, Mosquitto and the publisher, on an authenticating broker.

Run from the project root (``mosquitto`` installed, a PostgreSQL database for the device credentials)::

    .venv/bin/python bench/bench_mqtt_fleet.py --database-url postgres://.../flex_bench [--devices 8000]
        [--runs 3] [--code DIR] [--strace DIR]

The first run builds the devices and their credentials in that database (kept for the next runs: the passwords
are written to ``var/bench_mqtt_fleet.credentials.json``). Each run starts its own Mosquitto (no anonymous
clients, the password file and ACL ``manage.py mqtt_acl`` writes), the simulated fleet (``python -m
activation.simulator --credentials``: one process, one connection per device, each signed in as itself) and the
platform's ack listener (``MqttListener`` in its own process), then publishes one command per device with the
platform's ``MqttPublisher.publish_many`` (QoS 1 until every PUBACK, as ``outbox_flush`` does with the rows'
stored JSON text). Printed per run: the CPU seconds of the simulator, the listener, Mosquitto and the publisher
from the first publish to the last ack (/proc utime + stime; the publisher's ``time.thread_time``), the
dispatch-to-ack p50/p95 and the load average; then the medians. ``--code DIR`` runs another checkout's code (e.g.
``git archive main``) with this same harness, for A/B. ``--strace DIR`` attaches ``strace -c -f`` to the
simulator, the listener and Mosquitto for the measured window (syscall counts; the CPU figures of such a run are
not comparable). Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve()
PROJECT_ROOT = HERE.parents[1]


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _switches(pid: int) -> int:
    """Voluntary context switches of a process and its threads (each one a wait that ended: a wakeup)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                total += int(line.split()[1])
    return total


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(max(int(round(p / 100 * len(values))) - 1, 0), len(values) - 1)]


def listener_main(argv: list[str]) -> None:
    """Child process: the platform's ``MqttListener`` recording each ack's arrival (first arrival per message id).
    Prints READY, then DONE once EXPECT acks arrived (or after SECONDS), then writes the acks to OUT when told
    (a line on stdin), so its CPU can be read while it is still alive."""
    code, out, expect, seconds, root = argv[0], argv[1], int(argv[2]), float(argv[3]), argv[4]
    sys.path.insert(0, code)
    from django.conf import settings

    settings.configure(MQTT_TOPIC_ROOT=root)
    from activation.protocols.mqtt import MqttConfig, MqttListener

    acks: dict[str, tuple] = {}
    complete = threading.Event()

    def on_ack(device_id, data):
        mid = data.get("message_id")
        if mid not in acks:
            acks[mid] = (mid, device_id, time.time())
            if len(acks) >= expect:
                complete.set()

    listener = MqttListener(
        on_ack=on_ack,
        on_telemetry=lambda d, x: None,
        config=MqttConfig(
            host="127.0.0.1",
            port=int(os.environ["MQTT_PORT"]),
            username=os.environ["MQTT_USERNAME"],
            password=os.environ["MQTT_PASSWORD"],
        ),
    ).start()
    print("READY", flush=True)
    complete.wait(seconds)
    print(f"DONE {len(acks)}", flush=True)
    sys.stdin.readline()
    listener.stop()
    Path(out).write_text(json.dumps(list(acks.values())))
    print("WRITTEN", flush=True)


def build_world(n: int, creds_file: Path) -> list[str]:
    """N MQTT devices with credentials (kept: rebuilt only when the database or the passwords file lack them)."""
    from decimal import Decimal

    from django.core.management import call_command

    from accounts.device_credentials import device_credentials_issue_bulk
    from accounts.models import Device, GridZone, Organisation, Premise

    call_command("migrate", verbosity=0)
    ids = [
        f"dev-{pk}" for pk in Device.objects.filter(control_channel="mqtt").order_by("pk").values_list("pk", flat=True)
    ]
    if creds_file.exists() and len(ids) == n and set(json.loads(creds_file.read_text())) == set(ids):
        return ids
    call_command("flush", interactive=False, verbosity=0)
    zone = GridZone.objects.create(code="bench-zone", name="Bench zone")
    org = Organisation.objects.create(name="Bench consumers", kind=Organisation.Kind.CONSUMER)
    Premise.objects.bulk_create(
        [Premise(organisation=org, name=f"P{i}", segment="residential", grid_zone=zone) for i in range(n // 4)],
        batch_size=2000,
    )
    Device.objects.bulk_create(
        [
            Device(premise=p, name=f"Water heater {k}", kind="water_heater", control_channel="mqtt",
                   rated_kw=Decimal("4.5"), max_kw=Decimal("4.5"))
            for p in Premise.objects.order_by("pk")
            for k in range(4)
        ],
        batch_size=2000,
    )  # fmt: skip
    devices = list(Device.objects.filter(control_channel="mqtt").order_by("pk"))
    passwords = {f"dev-{pk}": pw for pk, pw in device_credentials_issue_bulk(devices=devices).items()}
    creds_file.write_text(json.dumps(passwords))
    return list(passwords)


def payloads(ids: list[str], root: str) -> list[tuple[str, str]]:
    """One command per device, as the flush publishes them: the row's JSON text (PostgreSQL's jsonb output)."""
    event = {"event_id": 1, "premise_id": 1, "start": "2026-12-07T03:00:00+00:00", "end": "2026-12-07T04:00:00+00:00"}
    out = []
    for i, device_id in enumerate(ids):
        body = {
            "message_id": str(uuid.uuid4()),
            **event,
            "event_id": 100000 + i,
            "emergency": True,
            "device_id": device_id,
            "kind": "water_heater",
            "channel": "mqtt",
            "command": "SHED",
            "value": "4.5",
            "shed_kw": "4.5",
            "duration_minutes": 60,
        }
        out.append((f"{root}/{device_id}/commands", json.dumps(body)))
    return out


def one_run(args, ids: list[str], creds_file: Path, run: int) -> dict:
    from django.conf import settings

    from activation.protocols.mqtt import MqttConfig, MqttPublisher
    from tests.faults import SecureMosquittoBroker

    root = settings.MQTT_TOPIC_ROOT
    code = args.code
    var = PROJECT_ROOT / "var"
    broker = SecureMosquittoBroker().start()
    settings.MQTT_PORT = broker.port
    broker.reload()
    env = {**os.environ, "MQTT_PORT": str(broker.port), "PYTHONPATH": code}
    spec = var / "bench_mqtt_fleet.fleet.json"
    spec.write_text(json.dumps([[d, 1, 4.5] for d in ids]))
    procs = []
    try:
        t = time.perf_counter()
        fleet = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "activation.simulator", str(spec), "--seconds", "600", "--topic-root", root,
             "--port", str(broker.port), "--credentials", str(creds_file)],
            cwd=code, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        procs.append(fleet)
        assert fleet.stdout.readline().strip() == "READY"
        acks_file = var / "bench_mqtt_fleet.acks.json"
        listener = subprocess.Popen(  # noqa: S603
            [sys.executable, str(HERE), "--role", "listener", code, str(acks_file), str(len(ids)), "120", root],
            cwd=code, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        procs.append(listener)
        assert listener.stdout.readline().strip() == "READY"
        connected = time.perf_counter() - t
        messages = payloads(ids, root)
        publisher = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port, timeout=30,
                                             username=settings.MQTT_USERNAME, password=settings.MQTT_PASSWORD))  # fmt: skip
        publisher._connect()
        time.sleep(1.0)  # the connections settle
        watched = {"simulator": fleet.pid, "listener": listener.pid, "mosquitto": broker.process.pid}
        tracers = []
        if args.strace or args.perf:
            for name, pid in watched.items():
                if args.strace:
                    out = Path(args.strace) / f"run{run}.{name}.txt"
                    argv = ["strace", "-c", "-f", "-p", str(pid), "-o", str(out)]
                else:
                    out = Path(args.perf) / f"run{run}.{name}.data"
                    argv = ["perf", "record", "-q", "-F", "2999", "-g", "-p", str(pid), "-o", str(out)]
                tracers.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL))  # noqa: S603
            time.sleep(2.0)
        load = os.getloadavg()[0]
        woken = {name: _switches(pid) for name, pid in watched.items()}
        before = {name: _cpu_seconds(pid) for name, pid in watched.items()}
        t0 = time.time()
        c0 = time.thread_time()
        ok = publisher.publish_many(messages)
        publish_cpu = time.thread_time() - c0
        published = time.time() - t0
        done = listener.stdout.readline().split()
        after = {name: _cpu_seconds(pid) for name, pid in watched.items()}
        woken = {name: _switches(pid) - woken[name] for name, pid in watched.items()}
        for tracer in tracers:
            tracer.send_signal(2)
            tracer.wait(30)
        publisher.close()
        listener.stdin.write("\n")
        listener.stdin.flush()
        assert listener.stdout.readline().strip() == "WRITTEN"
        ours = {json.loads(body)["message_id"] for _, body in messages}
        lat = sorted(at - t0 for mid, _, at in json.loads(acks_file.read_text()) if mid in ours)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        broker.stop()
    cpu = {name: sum(after[name]) - sum(before[name]) for name in watched}
    system = {name: after[name][1] - before[name][1] for name in watched}
    cpu["publisher"] = publish_cpu
    cpu["total"] = sum(cpu.values())
    return {
        "load": load,
        "connected_s": connected,
        "puback_ok": sum(ok),
        "published_s": published,
        "acked": int(done[1]),
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "cpu": cpu,
        "system": system,
        "woken": woken,
    }


def main() -> None:
    if sys.argv[1:2] == ["--role"]:
        listener_main(sys.argv[3:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=8000)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--code", default=str(PROJECT_ROOT), help="The checkout whose code runs (A/B).")
    parser.add_argument("--strace", default="", help="Directory for strace -c -f counts (not a CPU run).")
    parser.add_argument("--perf", default="", help="Directory for perf record -g profiles of the three processes.")
    args = parser.parse_args()
    args.code = str(Path(args.code).resolve())
    sys.path.insert(0, args.code)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.test")
    os.environ.setdefault("MQTT_TOPIC_ROOT", "flex-fleet-bench/devices")
    import django

    django.setup()
    from django.conf import settings

    settings.MQTT_TOPIC_ROOT = os.environ["MQTT_TOPIC_ROOT"]
    settings.MQTT_USERNAME, settings.MQTT_PASSWORD = "flex-platform", "bench-platform-secret"
    os.environ.update(MQTT_USERNAME=settings.MQTT_USERNAME, MQTT_PASSWORD=settings.MQTT_PASSWORD)
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    creds_file = PROJECT_ROOT / "var" / "bench_mqtt_fleet.credentials.json"
    ids = build_world(args.devices, creds_file)
    for directory in (args.strace, args.perf):
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
    print(f"code: {args.code} ({len(ids)} devices)")
    results = []
    names = ("simulator", "listener", "mosquitto", "publisher", "total")
    for run in range(args.runs):
        r = one_run(args, ids, creds_file, run)
        results.append(r)
        print(
            f"run {run + 1}: load {r['load']:.2f}; PUBACKs {r['puback_ok']}/{len(ids)} in {r['published_s']:.3f} s; "
            f"acks {r['acked']}/{len(ids)} p50 {r['p50']:.3f} s p95 {r['p95']:.3f} s; CPU-s "
            + " ".join(f"{k} {r['cpu'][k]:.3f}" for k in names)
            + " (of which system: "
            + " ".join(f"{k} {v:.2f}" for k, v in r["system"].items())
            + "); wakeups "
            + " ".join(f"{k} {v}" for k, v in r["woken"].items()),
            flush=True,
        )
    if len(results) > 1:
        med = {k: statistics.median(r["cpu"][k] for r in results) for k in names}
        print(
            f"median of {len(results)}: p50 {statistics.median(r['p50'] for r in results):.3f} s "
            f"p95 {statistics.median(r['p95'] for r in results):.3f} s; CPU-s "
            + " ".join(f"{k} {med[k]:.3f}" for k in names)
            + "; per command (µs) "
            + " ".join(f"{k} {med[k] / len(ids) * 1e6:.0f}" for k in names)
        )


if __name__ == "__main__":
    main()
