"""OpenADR 3.1.0 notifiers through the real broker (Mosquitto on MQTT_HOST:MQTT_PORT): a paho-mqtt client
subscribes to the topics the VTN lists and receives the 3.1.0 notifications of programs and events."""

from __future__ import annotations

import json
import queue
import time
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.test import override_settings

from activation import services
from activation.models import OutboxMessage

from .oadr31_schema import valid

pytestmark = [pytest.mark.django_db, pytest.mark.mqtt]
BASE = "/openadr3/3.1.0"


class Subscriber:
    """A paho-mqtt client collecting (topic, JSON) messages of the topics it subscribed to."""

    def __init__(self, topics: list[str]):
        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscribed = queue.Queue()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda c, u, mid, rc, props: subscribed.put(mid)
        self.client.connect(settings.MQTT_HOST, settings.MQTT_PORT)
        self.client.loop_start()
        for t in topics:
            self.client.subscribe(t, qos=1)
            subscribed.get(timeout=5)

    def take(self, n: int, timeout: float = 5.0) -> list[tuple[str, dict]]:
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(self.messages.get(timeout=0.1))
            except queue.Empty:
                pass
        return out

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@override_settings(OPENADR_MQTT_NOTIFIER=True)
def test_notifications_reach_mqtt_subscribers_on_the_listed_topics(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    r = a.get(f"{BASE}/notifiers").json()
    assert r["MQTT"]["URIS"] == [f"mqtt://{settings.MQTT_HOST}:{settings.MQTT_PORT}"]
    programs = a.get(f"{BASE}/notifiers/mqtt/topics/programs").json()["topics"]
    mine = a.get(f"{BASE}/notifiers/mqtt/topics/programs/{w.program.pk}/events").json()["topics"]
    theirs = b.get(f"{BASE}/notifiers/mqtt/topics/programs/{w.program.pk}/events").json()["topics"]
    sub_a = Subscriber([programs["CREATE"], mine["ALL"]])
    sub_b = Subscriber([theirs["ALL"]])
    try:
        assert bl.post(f"{BASE}/programs", {"programName": "winter"}, format="json").status_code == 201
        start = events[0].start + timedelta(days=1)
        body = {
            "programID": str(w.program.pk),
            "intervalPeriod": {"start": start.isoformat(), "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-1.0]}]}],
            "targets": [f"premise-{events[0].premise_id}"],
        }
        r = bl.post(f"{BASE}/events", body, format="json")
        assert r.status_code == 201, r.json()
        flushed = services.outbox_flush()
        assert flushed["failed"] == 0 and flushed["sent"] > 0
        got = dict(sub_a.take(2))
        assert set(got) == {programs["CREATE"], mine["CREATE"]}
        program_note, event_note = got[programs["CREATE"]], got[mine["CREATE"]]
        for note in (program_note, event_note):
            valid({k: v for k, v in note.items() if k != "message_id"}, "notification")
        assert program_note["operation"] == "CREATE" and program_note["object"]["programName"] == "winter"
        assert event_note["objectType"] == "EVENT" and event_note["object"]["id"] == r.json()["id"]
        assert event_note["object"]["targets"][0] == f"premise-{events[0].premise_id}"
        assert sub_b.take(1, timeout=1.0) == []  # VEN B's topics never carry VEN A's events
        # Sent notifier messages are done (no device acknowledgement is awaited).
        rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.MQTT, event=None)
        assert set(rows.values_list("status", flat=True)) == {OutboxMessage.Status.SENT}
        assert services.outbox_flush()["sent"] == 0
    finally:
        sub_a.close()
        sub_b.close()
