"""A VEN-side HTTP client against the live VTN: token, programs, events (pagination, target filters), reports,
subscriptions, resources; every response validated against the OpenADR 3.0.1 spec's JSON schemas."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml
from django.utils import timezone

from activation import services
from activation.models import OadrReport

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openadr3" / "openadr3-3.0.1.yaml"


def _schemas():
    spec = yaml.safe_load(SPEC.read_text())
    comps = spec["components"]["schemas"]

    def fix(node):
        # OpenAPI 3.0 ``nullable`` -> JSON Schema; drop ``discriminator`` (not JSON Schema).
        if isinstance(node, dict):
            node = {k: fix(v) for k, v in node.items() if k != "discriminator"}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            return node
        if isinstance(node, list):
            return [fix(v) for v in node]
        if isinstance(node, str) and node.startswith("#/components/schemas/"):
            return "#/definitions/" + node.rsplit("/", 1)[1]
        return node

    defs = fix(copy.deepcopy(comps))
    return lambda name, many=False: {
        "definitions": defs,
        **(
            {"type": "array", "items": {"$ref": f"#/definitions/{name}"}} if many else {"$ref": f"#/definitions/{name}"}
        ),
    }


def _valid(instance, schema):
    # OpenAPI 3.0 schemas are JSON Schema draft 4 (boolean exclusiveMaximum).
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(instance)


@pytest.mark.django_db(transaction=True)
def test_ven_reads_programs_and_events_and_posts_a_report(act_world, live_server):
    schema = _schemas()
    with pytest.raises(jsonschema.ValidationError):  # the validator does refuse a non-conforming event
        _valid({"intervals": [], "objectType": "EVENT"}, schema("event"))
    w = act_world
    base = f"{live_server.url}/openadr3/3.0.1"
    mine, other = w.premises[1], w.premises[3]
    w.program.notice_minutes = 0
    w.program.save()
    now = timezone.now()
    events = [
        services.event_create(
            program=w.program,
            premise=p,
            target_kw=Decimal("2"),
            start=now + timedelta(hours=1),
            end=now + timedelta(hours=2),
            now=now,
        )
        for p in (mine, other)
    ]
    services.ven_register(
        ven_name="brightflex-ven", client_id="ven-1", client_secret="s3cret-s3cret", organisation=w.world.aggregator
    )

    # No token: 401 with a problem body.
    r = requests.get(f"{base}/programs", timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    _valid(r.json(), schema("problem"))
    bad = requests.post(
        f"{base}/auth/token",
        data={"grant_type": "client_credentials", "client_id": "ven-1", "client_secret": "wrong"},
        timeout=10,
    )
    assert bad.status_code == 401
    _valid(bad.json(), schema("authError"))
    tok = requests.post(
        f"{base}/auth/token",
        data={"grant_type": "client_credentials", "client_id": "ven-1", "client_secret": "s3cret-s3cret"},
        timeout=10,
    )
    assert tok.status_code == 200
    _valid(tok.json(), schema("clientCredentialResponse"))
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"

    # VEN and its resource (linked to the aggregator's premise).
    vens = s.get(f"{base}/vens", timeout=10).json()
    _valid(vens, schema("ven", many=True))
    ven_id = vens[0]["id"]
    res = s.post(
        f"{base}/vens/{ven_id}/resources",
        json={"resourceName": "house-2", "attributes": [{"type": "PREMISE_ID", "values": [mine.pk]}]},
        timeout=10,
    )
    assert res.status_code == 201
    _valid(res.json(), schema("resource"))
    forbidden = s.post(
        f"{base}/vens/{ven_id}/resources",
        json={"resourceName": "not-mine", "attributes": [{"type": "PREMISE_ID", "values": [other.pk]}]},
        timeout=10,
    )
    assert forbidden.status_code == 403

    programs = s.get(f"{base}/programs", timeout=10).json()
    _valid(programs, schema("program", many=True))
    assert {p["programName"] for p in programs} >= {"peak-saver", "emergency-east"}
    assert len(s.get(f"{base}/programs", params={"skip": 1, "limit": 1}, timeout=10).json()) == 1
    assert s.get(f"{base}/programs", params={"limit": 51}, timeout=10).status_code == 400

    # The VEN sees the event for its resource only; target filters and programID filter.
    got = s.get(f"{base}/events", timeout=10).json()
    _valid(got, schema("event", many=True))
    assert [e["id"] for e in got] == [str(events[0].pk)]
    event = got[0]
    assert event["intervals"][0]["payloads"][0] == {"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-2.0]}
    assert event["intervalPeriod"]["duration"] == "PT1H"
    assert (
        s.get(
            f"{base}/events", params={"targetType": "RESOURCE_NAME", "targetValues": [f"premise-{mine.pk}"]}, timeout=10
        ).json()
        == got
    )
    assert (
        s.get(f"{base}/events", params={"targetType": "GROUP", "targetValues": ["no-such-zone"]}, timeout=10).json()
        == []
    )
    assert s.get(f"{base}/events", params={"programID": event["programID"]}, timeout=10).json() == got
    assert s.get(f"{base}/events/{events[1].pk}", timeout=10).status_code == 404

    # The VEN posts a report for the event.
    report = {
        "programID": event["programID"],
        "eventID": event["id"],
        "clientName": "brightflex-ven",
        "reportName": "usage",
        "payloadDescriptors": [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "USAGE",
                "readingType": "DIRECT_READ",
                "units": "KWH",
            }
        ],
        "resources": [
            {
                "resourceName": "house-2",
                "intervalPeriod": {"start": event["intervalPeriod"]["start"], "duration": "PT15M"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [0.41]}]}],
            }
        ],
    }
    _valid(report, schema("report"))
    posted = s.post(f"{base}/reports", json=report, timeout=10)
    assert posted.status_code == 201, posted.text
    _valid(posted.json(), schema("report"))
    assert OadrReport.objects.get().resources[0]["intervals"][0]["payloads"][0]["values"] == [0.41]
    listed = s.get(f"{base}/reports", params={"eventID": event["id"]}, timeout=10).json()
    _valid(listed, schema("report", many=True))
    assert len(listed) == 1
    assert s.post(f"{base}/reports", json={**report, "eventID": str(events[1].pk)}, timeout=10).status_code == 404
    assert s.post(f"{base}/reports", json={"programID": event["programID"]}, timeout=10).status_code == 400

    # Subscriptions.
    sub = s.post(
        f"{base}/subscriptions",
        json={
            "clientName": "brightflex-ven",
            "programID": event["programID"],
            "objectOperations": [
                {
                    "objects": ["EVENT"],
                    "operations": ["CREATE", "UPDATE"],
                    "callbackUrl": "https://ven.example/callback",
                }
            ],
        },
        timeout=10,
    )
    assert sub.status_code == 201
    _valid(sub.json(), schema("subscription"))
    _valid(s.get(f"{base}/subscriptions", timeout=10).json(), schema("subscription", many=True))
    assert s.delete(f"{base}/subscriptions/{sub.json()['id']}", timeout=10).status_code == 200

    # A subscription to EVENT CREATE gets a notification (through the outbox) when an event for its resource comes.
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got_notes = []

    class Callback(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got_notes.append(
                (self.headers.get("Authorization"), json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        emergency_id = next(p["id"] for p in programs if p["programName"] == "emergency-east")
        r = s.post(
            f"{base}/subscriptions",
            json={
                "clientName": "brightflex-ven",
                "programID": emergency_id,
                "objectOperations": [
                    {
                        "objects": ["EVENT"],
                        "operations": ["CREATE"],
                        "bearerToken": "cb-token",
                        "callbackUrl": f"http://127.0.0.1:{server.server_port}/oadr",
                    }
                ],
            },
            timeout=10,
        )
        assert r.status_code == 201
        from accounts.models import GridZone

        services.emergency_event_create(
            program=w.emergency,
            zone=GridZone.objects.get(code="iso-east"),
            start=now,
            end=now + timedelta(hours=1),
            user=w.user("operator@demo.flex"),
            now=now,
        )
        services.outbox_flush(now=timezone.now())
        assert len(got_notes) == 1  # only the event for the VEN's own resource
        auth, note = got_notes[0]
        assert auth == "Bearer cb-token"
        _valid(note, schema("notification"))
        assert note["objectType"] == "EVENT" and note["object"]["targets"][0]["values"] == [f"premise-{mine.pk}"]
    finally:
        server.shutdown()
        server.server_close()

    # A VEN may not create programs or events (business logic only).
    assert s.post(f"{base}/programs", json={"programName": "x"}, timeout=10).status_code == 403
