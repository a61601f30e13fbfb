"""The rows an emergency call writes, value for value, against those the dispatch wrote before ADR 0053's changes
(recorded from the code before them in ``data/emergency_call_rows.json``): events (dispatched and capped), OpenADR
signals, device dispatch records, outbox commands (MQTT, OCPP, S2) and webhooks, their payloads included. Serial
ids and random message ids are replaced by what they stand for (premise and device names). The file is ``json.dumps(_rows(events),
indent=1, sort_keys=True)`` of this test's call, written once by the code before ADR 0053 (main at bf8f99e)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.models import Device, GridZone, Premise
from activation import services
from activation.models import DeviceDispatch, DispatchSignal, DREvent, Enrollment, OutboxMessage

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "data" / "emergency_call_rows.json"


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # decimals, dates, datetimes as their text


def _rows(events) -> dict:
    premises = dict(Premise.objects.values_list("pk", "name"))
    devices = dict(Device.objects.values_list("pk", "name"))
    event_premise = {pk: premises[p] for pk, p in DREvent.objects.values_list("pk", "premise_id")}

    def named(row) -> str:
        """The row as JSON text, serial ids replaced by names (devices, premises, events by their premise)."""
        text = json.dumps(_plain(row), sort_keys=True)
        text = re.sub(r"flex-event-(\d+)", lambda m: f"flex-event-<{event_premise[int(m[1])]}>", text)
        text = re.sub(r"premise-(\d+)", lambda m: f"premise-<{premises[int(m[1])]}>", text)
        text = re.sub(r"endpoint-(\d+)", "endpoint-<the aggregator's>", text)
        text = re.sub(r"dev-(\d+)", lambda m: f"dev-<{devices[int(m[1])]}>", text)
        text = re.sub(r'"event_id": (\d+)', lambda m: f'"event": "{event_premise[int(m[1])]}"', text)
        return re.sub(r'"premise_id": (\d+)', lambda m: f'"premise": "{premises[int(m[1])]}"', text)

    event_fields = [
        "premise_id", "status", "target_kw", "start", "end", "notified_at", "cancelled_at", "cancel_reason",
        "source", "price_per_mwh", "buyer__name", "zone__code", "created_by__username", "created_at",
    ]  # fmt: skip
    tables = {
        "events": DREvent.objects.filter(source=DREvent.Source.EMERGENCY).values(*event_fields),
        "signals": DispatchSignal.objects.values("event_id", "premise_id", "channel", "payload", "created_at"),
        "dispatch_records": [
            {**d, "device_id": devices[d["device_id"]]} for d in DeviceDispatch.objects.values().order_by()
        ],
        "outbox": [
            {
                **m,
                "id": None,
                "message_id": None,
                "topic": m["topic"].split("/", 1)[-1],  # the topic root names the test process
                "payload": {k: v for k, v in m["payload"].items() if k != "message_id"},
                "message_id_in_payload": m["payload"].get("message_id") == str(m["message_id"]),
            }
            for m in OutboxMessage.objects.values()
        ],
    }
    return {
        name: sorted(named({k: v for k, v in r.items() if k != "id"}) for r in rows) for name, rows in tables.items()
    }


def test_the_emergency_call_writes_the_rows_it_wrote_before(act_world):
    w = act_world
    program = w.emergency
    services.webhook_endpoint_create(organisation=w.world.aggregator, url="https://agg.example/hook", secret="s" * 32)
    # One premise at its day's cap (3 events): its event is recorded cancelled, not dispatched.
    capped = w.premises[-1]
    for hours in (1, 2, 3):
        start = w.now - timedelta(hours=hours)
        DREvent.objects.create(
            program=program, premise=capped, zone=capped.grid_zone, target_kw=Decimal("1"), start=start,
            end=start + timedelta(minutes=30), status=DREvent.Status.COMPLETED,
        )  # fmt: skip
    # Targets above what the first device in merit order sheds, so that every kind of device is commanded; one
    # household with a tight safety limit (a switched device's step would pass it: skipped).
    for i, p in enumerate(w.premises):
        committed = {"residential": Decimal("30"), "commercial": Decimal("400"), "industrial": Decimal("900")}[
            p.segment
        ]
        safety = Decimal("4.2") if i == 1 else committed
        Enrollment.objects.filter(program=program, premise=p).update(committed_kw=committed, safety_max_kw=safety)
    zone = GridZone.objects.get(code="iso-east")
    call = {"program": program, "zone": zone, "start": w.now, "end": w.now + timedelta(minutes=90)}
    events = services.emergency_event_create(**call, user=w.user("operator@demo.flex"), now=w.now)
    assert services.emergency_event_create(**call, user=w.user("operator@demo.flex"), now=w.now) == []
    rows = _rows(events)
    golden = json.loads(GOLDEN.read_text())
    channels = {json.loads(r)["channel"] for r in rows["outbox"]}
    assert len(rows["outbox"]) >= 10 and channels >= {"mqtt", "ocpp", "webhook"}, channels
    assert sum('"status": "cancelled"' in e for e in rows["events"]) == 1
    for table in golden:
        assert rows[table] == golden[table], table
