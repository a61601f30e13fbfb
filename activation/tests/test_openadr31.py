"""OpenADR 3.1.0 VTN at /openadr3/3.1.0/: discovery and scopes, 3.1.0 objects over the same data as 3.0.1, the
target model and filters, event duration and report intervals, top-level resources, subscriptions without a
program, and the notifier endpoints. Every body is checked against the 3.1.0 schemas."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from activation import openadr_services as oadr
from activation import openadr_v31
from activation.models import DREvent, OadrReport, OadrSubscription, OutboxMessage, Ven

from .oadr31_schema import problem, valid

pytestmark = pytest.mark.django_db
BASE = "/openadr3/3.1.0"


def test_auth_server_discovery_and_scoped_tokens(two_vens):
    c = APIClient()
    r = c.get(f"{BASE}/auth/server")
    assert r.status_code == 200
    valid(r.json(), "authServerInfo")
    assert r.json()["tokenURL"] == f"http://testserver{BASE}/auth/token"
    form = {"grant_type": "client_credentials", "client_id": "client-a", "client_secret": "s3cret-s3cret"}
    r = c.post(f"{BASE}/auth/token", form)
    assert r.status_code == 200
    valid(r.json(), "clientCredentialResponse")
    assert set(r.json()["scope"].split()) == {
        "read_all",
        "read_targets",
        "read_ven_objects",
        "write_reports",
        "write_subscriptions",
        "write_vens",
    }
    r = c.post(f"{BASE}/auth/token", {**form, "scope": "read_targets write_reports"})
    assert r.status_code == 200 and r.json()["scope"] == "read_targets write_reports"
    # A VEN client asking for a BL scope is refused (RFC 6749 §5.2).
    r = c.post(f"{BASE}/auth/token", {**form, "scope": "write_events"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = c.post(f"{BASE}/auth/token", {**form, "client_secret": "wrong-wrong-wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # The token works on 3.1.0 and 3.0.1 alike (one VTN).
    token = c.post(f"{BASE}/auth/token", form).json()["access_token"]
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert c.get(f"{BASE}/programs").status_code == 200
    assert c.get("/openadr3/3.0.1/programs").status_code == 200


def test_programs_and_events_in_the_31_shape_with_targets_and_active(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    mine, theirs = events
    programs = a.get(f"{BASE}/programs").json()
    valid(programs, "program", many=True)
    assert "programLongName" not in programs[0] and "retailerName" not in programs[0]
    seen = a.get(f"{BASE}/events").json()
    valid(seen, "event", many=True)
    assert [e["id"] for e in seen] == [str(mine.pk)]  # a VEN reads the events aimed at its resources
    event = seen[0]
    assert event["targets"] == [f"premise-{mine.premise_id}", mine.zone.code]  # 3.1.0 targets are strings
    assert event["duration"] == "PT1H"
    assert event["reportDescriptors"][0]["reportIntervals"] == "INTERVALS"
    # targets: the BL filters by target strings; no match is an empty list.
    everything = bl.get(f"{BASE}/events").json()
    assert {e["id"] for e in everything} >= {str(mine.pk), str(theirs.pk)}
    only = bl.get(f"{BASE}/events", {"targets": [f"premise-{theirs.premise_id}"]}).json()
    assert [e["id"] for e in only] == [str(theirs.pk)]
    assert bl.get(f"{BASE}/events", {"targets": ["no-such-group"]}).json() == []
    # active: events that have ended are left out.
    DREvent.objects.filter(pk=theirs.pk).update(
        start=timezone.now() - timedelta(hours=3), end=timezone.now() - timedelta(hours=2)
    )
    active = bl.get(f"{BASE}/events", {"active": "true"}).json()
    assert str(theirs.pk) not in {e["id"] for e in active} and str(mine.pk) in {e["id"] for e in active}
    assert str(theirs.pk) in {e["id"] for e in bl.get(f"{BASE}/events", {"active": "false"}).json()}
    problem(bl.get(f"{BASE}/events", {"active": "sometimes"}), 400)
    # The same event through 3.0.1 keeps its valuesMap targets.
    old = a.get(f"/openadr3/3.0.1/events/{mine.pk}").json()
    assert {"type": "RESOURCE_NAME", "values": [f"premise-{mine.premise_id}"]} in old["targets"]


def test_bl_creates_an_event_with_31_targets_and_duration(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    premise = w.premises[0]
    start = (events[0].start + timedelta(days=1)).replace(hour=15)
    body = {
        "programID": str(w.program.pk),
        "eventName": "evening peak",
        "duration": "PT30M",
        "intervalPeriod": {"start": start.isoformat()},
        "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-1.0]}]}],
        "targets": [f"premise-{premise.pk}"],
    }
    r = bl.post(f"{BASE}/events", body, format="json")
    assert r.status_code == 201, r.json()
    valid(r.json(), "event")
    event = DREvent.objects.get(pk=int(r.json()["id"]))
    assert (event.premise_id, event.start, event.end) == (premise.pk, start, start + timedelta(minutes=30))
    assert r.json()["duration"] == "PT30M" and f"premise-{premise.pk}" in r.json()["targets"]
    problem(a.post(f"{BASE}/events", body, format="json"), 403)  # write_events: BL only


def test_vens_resources_reports_and_subscriptions(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    mine = events[0]
    # A VEN registers with VEN_VEN_REQUEST (a fresh client) and gets clientID back.
    oadr.ven_client_create(organisation=w.world.aggregator, client_id="client-c", client_secret="s3cret-s3cret")
    c = APIClient()
    token = c.post(
        f"{BASE}/auth/token",
        {"grant_type": "client_credentials", "client_id": "client-c", "client_secret": "s3cret-s3cret"},
    ).json()["access_token"]
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = c.post(f"{BASE}/vens", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-c"}, format="json")
    assert r.status_code == 201, r.json()
    valid(r.json(), "ven")
    assert r.json()["clientID"] == "client-c" and r.json()["objectType"] == "VEN"
    ven_c = r.json()["id"]
    # The BL provisions a VEN for a client id (BL_VEN_REQUEST).
    r = bl.post(
        f"{BASE}/vens",
        {"objectType": "BL_VEN_REQUEST", "clientID": "client-d", "venName": "ven-d", "targets": ["east"]},
        format="json",
    )
    assert r.status_code == 201, r.json()
    valid(r.json(), "ven")
    assert r.json()["clientID"] == "client-d" and r.json()["targets"] == ["east"]
    assert Ven.objects.get(ven_name="ven-d").client.client_id == "client-d"
    # Top-level resources: created with venID, listed and filtered; another VEN's are not found.
    r = c.post(
        f"{BASE}/resources",
        {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "heat-pump", "venID": ven_c, "targets": ["east"]},
        format="json",
    )
    assert r.status_code == 201, r.json()
    valid(r.json(), "resource")
    res = r.json()
    assert res["venID"] == ven_c and res["clientID"] == "client-c" and res["targets"] == ["east"]
    listed = c.get(f"{BASE}/resources").json()
    valid(listed, "resource", many=True)
    assert [x["id"] for x in listed] == [res["id"]]
    assert c.get(f"{BASE}/resources", {"targets": ["west"]}).json() == []
    assert [x["resourceName"] for x in bl.get(f"{BASE}/resources", {"venID": ven_c}).json()] == ["heat-pump"]
    problem(a.get(f"{BASE}/resources/{res['id']}"), 404)
    other = {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "x", "venID": ven_c}
    problem(a.post(f"{BASE}/resources", other, format="json"), 404)
    problem(a.post(f"{BASE}/resources", {"resourceName": "x", "venID": ven_c}, format="json"), 400)  # objectType
    r = c.put(
        f"{BASE}/resources/{res['id']}",
        {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "heat-pump-2", "venID": ven_c},
        format="json",
    )
    assert r.status_code == 200 and r.json()["resourceName"] == "heat-pump-2"
    assert c.delete(f"{BASE}/resources/{res['id']}").status_code == 200
    problem(c.get(f"{BASE}/resources/{res['id']}"), 404)
    # A report needs no programID (its event's program); it answers clientID; sub-interval reports are read.
    report = {
        "eventID": str(mine.pk),
        "clientName": "ven-a",
        "payloadDescriptors": [{"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "KWH"}],
        "resources": [
            {
                "resourceName": "ven-a-site",
                "intervalPeriod": {"start": mine.start.isoformat(), "duration": "PT30M"},
                "intervals": [
                    {"id": 0, "payloads": [{"type": "USAGE", "values": [0.4]}]},
                    {"id": 1, "payloads": [{"type": "USAGE", "values": [0.5]}]},
                ],
            }
        ],
    }
    r = a.post(f"{BASE}/reports", report, format="json")
    assert r.status_code == 201, r.json()
    valid(r.json(), "report")
    assert r.json()["clientID"] == "client-a" and "programID" not in r.json()
    assert OadrReport.objects.get(pk=int(r.json()["id"])).program_id == w.program.pk
    problem(a.post(f"{BASE}/reports", {**report, "eventID": "999999"}, format="json"), 404)
    # A subscription without a program hears of every program.
    sub = {
        "clientName": "ven-a",
        "objectOperations": [
            {"objects": ["PROGRAM"], "operations": ["CREATE"], "callbackUrl": "http://127.0.0.1:9/cb"},
        ],
    }
    r = a.post(f"{BASE}/subscriptions", sub, format="json")
    assert r.status_code == 201, r.json()
    valid(r.json(), "subscription")
    assert "programID" not in r.json() and r.json()["clientID"] == "client-a"
    assert OadrSubscription.objects.get(pk=int(r.json()["id"])).program_id is None
    assert bl.post(f"{BASE}/programs", {"programName": "night-shift"}, format="json").status_code == 201
    told = OutboxMessage.objects.filter(destination__startswith=f"subscription-{r.json()['id']}-")
    assert [m.payload["object"]["programName"] for m in told] == ["night-shift"]
    listed = a.get(f"{BASE}/subscriptions").json()
    valid(listed, "subscription", many=True)


def test_notifier_endpoints(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    r = a.get(f"{BASE}/notifiers")
    assert r.status_code == 200
    valid(r.json(), "notifiersResponse")
    assert r.json()["WEBHOOK"] is True and r.json()["MQTT"]["URIS"] == ["mqtt://127.0.0.1:1883"]
    root = "/notifiers/mqtt/topics"
    r = bl.get(f"{BASE}{root}/programs")
    valid(r.json(), "notifierTopicsResponse")
    assert r.json()["topics"]["CREATE"].endswith("/openadr3/3.1.0/programs/create")
    one = bl.get(f"{BASE}{root}/programs/{w.program.pk}").json()["topics"]
    assert "CREATE" not in one and one["UPDATE"].endswith(f"/programs/{w.program.pk}/update")
    # read_bl topics are the BL's; a VEN's own topics are its own (another VEN's are not found).
    for path in ("events", "reports", "subscriptions", "vens", "resources"):
        problem(a.get(f"{BASE}{root}/{path}"), 403)
        assert bl.get(f"{BASE}{root}/{path}").status_code == 200
    for path in ("", "/events", "/programs", "/resources"):
        assert a.get(f"{BASE}{root}/vens/{ven_a.pk}{path}").status_code == 200
        problem(a.get(f"{BASE}{root}/vens/{ven_b.pk}{path}"), 404)
    # A program's events, asked by a VEN: its own topics for that program (it never hears of others' events).
    mine = a.get(f"{BASE}{root}/programs/{w.program.pk}/events").json()["topics"]
    assert mine["CREATE"].endswith(f"/vens/{ven_a.pk}/programs/{w.program.pk}/events/create")
    problem(a.get(f"{BASE}{root}/programs/999999/events"), 404)
    problem(APIClient().get(f"{BASE}/notifiers"), 401)


@override_settings(OPENADR_MQTT_NOTIFIER=True)
def test_notifier_messages_queued_per_topic(two_vens):
    """Each operation queues its 3.1.0 notification on the topics a reader of it would watch (no broker here:
    the MQTT round trip is in ``test_openadr31_mqtt``)."""
    w, a, ven_a, b, ven_b, events, bl = two_vens
    r = bl.post(f"{BASE}/programs", {"programName": "summer"}, format="json")
    pid = r.json()["id"]
    rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.MQTT, event=None)
    topics = {m.topic.split("openadr3/3.1.0/", 1)[1] for m in rows}
    assert topics == {"programs/create", f"vens/{ven_a.pk}/programs/create", f"vens/{ven_b.pk}/programs/create"}
    msg = rows.first().payload
    assert msg["objectType"] == "PROGRAM" and msg["operation"] == "CREATE"
    valid({k: v for k, v in msg.items() if k != "message_id"}, "notification")
    rows.delete()
    # An event for VEN A's premise: the events topics, the program's, and VEN A's (not VEN B's).
    start = events[0].start + timedelta(days=1)
    body = {
        "programID": str(w.program.pk),
        "intervalPeriod": {"start": start.isoformat(), "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-1.0]}]}],
        "targets": [f"premise-{events[0].premise_id}"],
    }
    r = bl.post(f"{BASE}/events", body, format="json")
    assert r.status_code == 201, r.json()
    topics = {m.topic.split("openadr3/3.1.0/", 1)[1] for m in rows.filter(payload__objectType="EVENT")}
    assert topics == {
        "events/create",
        f"programs/{w.program.pk}/events/create",
        f"vens/{ven_a.pk}/events/create",
        f"vens/{ven_a.pk}/programs/{w.program.pk}/events/create",
    }
    assert bl.delete(f"{BASE}/programs/{pid}").status_code == 200
    assert rows.filter(topic__endswith=f"programs/{pid}/delete").count() == 1


def test_serialisation_round_trip_of_targets():
    assert openadr_v31.targets_v301(["premise-7", "zone-east"]) == [
        {"type": "RESOURCE_NAME", "values": ["premise-7"]},
        {"type": "GROUP", "values": ["zone-east"]},
    ]
    assert openadr_v31.targets_v31(openadr_v31.targets_v301(["premise-7", "zone-east"])) == ["premise-7", "zone-east"]
    assert openadr_v31.targets_v31(None) is None
    note = openadr_v31.notification_v31("EVENT", "PUT", {"id": "1", "programID": "2", "targets": []})
    assert note["operation"] == "UPDATE" and note["object"]["targets"] == []
