"""Benchmark: one emergency event dispatched to 10,000 simulated devices over MQTT, with acknowledgements.

Run from the project root (Mosquitto on MQTT_HOST:MQTT_PORT, default 127.0.0.1:1883)::

    .venv/bin/python bench/bench_dispatch.py [--devices 10000] [--per-connection 500] [--listeners 4]

Builds a throw-away SQLite database (var/bench_dispatch.sqlite3) with N/4 residential premises (4 devices each:
thermostat, EV charger, water heater, battery) enrolled in an emergency program, calls ONE emergency event over
the zone (``emergency_event_create``: one DR event per resource, one outbox command per device, comfort and
safety limits applied), connects the simulated fleet (``activation.simulator.DeviceFleet``, all responding) and
the platform's ack listeners, then times ``outbox_flush`` (QoS 1 publish of every command) until every ack is
back at the platform. The fleet runs in its own process (``python -m activation.simulator``), as devices would.
Two latencies are printed:

* per device, dispatch-to-ack: the ack received by the platform listener - the moment that device's command
  was handed to the broker connection (p50/p95/p99/max);
* fleet completion: the ack received - the start of the whole dispatch (the flush), i.e. including the time
  spent publishing the other commands ahead of it.

Plus publish throughput and the time to record the acks in the database (one batched transaction).
Not imported by the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--per-connection", type=int, default=500)
    parser.add_argument("--listeners", type=int, default=4)
    args = parser.parse_args()

    db = PROJECT_ROOT / "var" / "bench_dispatch.sqlite3"
    db.parent.mkdir(exist_ok=True)
    if db.exists():
        db.unlink()
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.test")
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import GridZone, Membership, Organisation, Premise
    from activation import services
    from activation.models import Enrollment, OutboxMessage, Program
    from activation.protocols.mqtt import MqttPublisher
    from activation.selectors import premise_devices

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    zone = GridZone.objects.create(code="bench-zone", name="Bench zone")
    org = Organisation.objects.create(name="Bench consumers", kind=Organisation.Kind.CONSUMER)
    op_org = Organisation.objects.create(name="Bench DSO", kind=Organisation.Kind.GRID_OPERATOR)
    operator = get_user_model().objects.create_user(username="op", email="op@bench", password="x")  # noqa: S106
    Membership.objects.create(user=operator, organisation=op_org, role=Membership.Role.GRID_OPERATOR)
    n_premises = args.devices // 4
    Premise.objects.bulk_create(
        [Premise(organisation=org, name=f"P{i}", segment="residential", grid_zone=zone) for i in range(n_premises)],
        batch_size=2000,
    )
    program = services.program_create(
        code="bench-emergency",
        name="Bench emergency",
        kind=Program.Kind.EMERGENCY,
        notice_minutes=0,
        max_events_per_day=5,
        max_events_per_month=20,
    )
    premises = list(Premise.objects.order_by("id"))
    Enrollment.objects.bulk_create(
        [
            Enrollment(program=program, premise=p, committed_kw=Decimal("20"), safety_max_kw=Decimal("20"))
            for p in premises
        ],
        batch_size=2000,
    )
    now = timezone.now()
    events = services.emergency_event_create(
        program=program, zone=zone, start=now, end=now + timedelta(hours=1), user=operator, now=now
    )
    n_cmds = OutboxMessage.objects.filter(event__in=events).count()
    setup = time.perf_counter() - t
    print(
        f"setup: {len(events)} DR events for one emergency call, {n_cmds} device commands in the outbox ({setup:.1f} s)"
    )

    import json
    import subprocess

    spec = db.with_suffix(".fleet.json")
    spec.write_text(json.dumps([[d.device_id, p.pk, float(d.rated_kw)] for p in premises for d in premise_devices(p)]))
    fleet = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "activation.simulator",
            str(spec),
            "--seconds",
            "120",
            "--per-connection",
            str(args.per_connection),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fleet.stdout.readline().strip() == "READY"
    acks_file = db.with_suffix(".acks.json")
    listener = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            str(PROJECT_ROOT / "bench" / "ack_listener.py"),
            str(acks_file),
            str(n_cmds),
            "90",
            str(args.listeners),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert listener.stdout.readline().strip() == "READY"
    n_conn = -(-n_cmds // args.per_connection)
    print(
        f"fleet: {n_cmds} simulated devices in a separate process on {n_conn} MQTT connections; "
        f"{args.listeners} ack listeners (shared subscription) in the listener process"
    )

    publisher = MqttPublisher()
    publisher.publish_times = {}
    t0 = time.time()
    result = services.outbox_flush(now=timezone.now(), publisher=publisher)
    published = time.time() - t0
    assert listener.stdout.readline().strip() == "DONE"
    received = json.loads(acks_file.read_text())
    acks = [("ack", device_id, {"message_id": mid}, at) for mid, device_id, at in received]
    all_in = (max(m[3] for m in acks) - t0) if acks else float("nan")
    lat = sorted(m[3] - publisher.publish_times[m[2]["message_id"]] for m in acks)
    fleet_lat = sorted(m[3] - t0 for m in acks)

    t1 = time.perf_counter()
    from activation.simulator import apply_messages

    applied = apply_messages(acks)
    record = time.perf_counter() - t1
    acked_rows = OutboxMessage.objects.filter(status=OutboxMessage.Status.ACKNOWLEDGED).count()
    publisher.close()
    fleet.terminate()
    fleet.wait(10)

    def pct(p, values=None):
        values = lat if values is None else values
        return values[min(int(round(p / 100 * len(values))) - 1, len(values) - 1)] if values else float("nan")

    print(
        f"outbox_flush: {result['sent']} published at QoS 1 (broker PUBACK) in {published:.2f} s "
        f"({result['sent'] / published:,.0f} msg/s)"
    )
    print(f"acks back at the platform: {len(acks)}/{n_cmds}, the last {all_in:.2f} s after the dispatch started")
    print(
        f"dispatch-to-ack latency: p50 {pct(50):.3f} s  p95 {pct(95):.3f} s  p99 {pct(99):.3f} s  "
        f"max {lat[-1] if lat else float('nan'):.3f} s  mean {statistics.fmean(lat) if lat else float('nan'):.3f} s"
    )
    print(
        f"fleet completion (dispatch start to ack): p50 {pct(50, fleet_lat):.3f} s  p95 {pct(95, fleet_lat):.3f} s  "
        f"max {fleet_lat[-1] if fleet_lat else float('nan'):.3f} s"
    )
    print(f"acks recorded in the database: {applied['acks']} ({acked_rows} rows acknowledged) in {record:.2f} s")
    print(
        f"target p95 < 2 s (per-device dispatch-to-ack): {'MET' if lat and pct(95) < 2 else 'NOT MET'}; "
        f"fleet p95: {'MET' if fleet_lat and pct(95, fleet_lat) < 2 else 'NOT MET'}"
    )
    print(f"machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
