"""A VEN-side HTTP client against the live VTN: token, programs, events (pagination, target filters), reports,
subscriptions, resources; every response validated against the OpenADR 3.0.1 spec's JSON schemas."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import jsonschema
import pytest
import requests
from django.utils import timezone

from activation import openadr_services as oadr
from activation import services
from activation.models import OadrReport

from .oadr_schema import schema, valid


def _schemas():
    return schema


def _valid(instance, s):
    valid(instance, s)


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
    oadr.ven_register(
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


@pytest.mark.django_db(transaction=True)
def test_end_to_end_a_ven_self_registers_reads_and_reports_over_http(act_world, live_server):
    """A VEN-side client speaking plain HTTP to a live VTN: credentials from its aggregator, token, self-
    registration (once), its resource, programs and events page by page and by target, a report the operator
    then reads. Every body checked against the spec."""
    from accounts.tokens import api_token_issue

    w = act_world
    site = f"{live_server.url}"
    base = f"{site}/openadr3/3.0.1"
    mine, other = w.premises[1], w.premises[3]
    operator = requests.Session()
    operator.headers["Authorization"] = f"Token {api_token_issue(user=w.user('operator@demo.flex'))[1]}"
    aggregator_token = api_token_issue(user=w.user("aggregator@demo.flex"))[1]

    # The aggregator issues VEN credentials; the VEN exchanges them for a bearer token.
    creds = requests.post(
        f"{site}/api/v1/activation/ven-clients/", headers={"Authorization": f"Token {aggregator_token}"}, timeout=10
    )
    assert creds.status_code == 201, creds.text
    tok = requests.post(
        f"{base}/auth/token",
        data={"grant_type": "client_credentials", **{k: creds.json()[k] for k in ("client_id", "client_secret")}},
        timeout=10,
    )
    valid(tok.json(), "clientCredentialResponse")
    ven = requests.Session()
    ven.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"

    # Self-registration, then a second attempt refused; then its resource.
    r = ven.post(f"{base}/vens", json={"venName": "e2e-ven", "attributes": None}, timeout=10)
    assert r.status_code == 201, r.text
    valid(r.json(), "ven")
    ven_id = r.json()["id"]
    again = ven.post(f"{base}/vens", json={"venName": "e2e-ven"}, timeout=10)
    assert again.status_code == 409
    valid(again.json(), "problem")
    r = ven.post(
        f"{base}/vens/{ven_id}/resources",
        json={"resourceName": "house-2", "attributes": [{"type": "PREMISE_ID", "values": [mine.pk]}]},
        timeout=10,
    )
    assert r.status_code == 201
    valid(r.json(), "resource")

    # The operator (BL) creates events over OpenADR: two for the VEN's resource, one for another premise.
    start = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)

    def event(program, premise, kw):
        r = operator.post(
            f"{base}/events",
            json={
                "programID": str(program.pk),
                "intervalPeriod": {"start": start.isoformat(), "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-kw]}]}],
                "targets": [{"type": "RESOURCE_NAME", "values": [f"premise-{premise.pk}"]}],
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text
        valid(r.json(), "event")
        return r.json()

    e1, e2 = event(w.program, mine, 2), event(w.emergency, mine, 1)
    event(w.program, other, 2)

    def pages(path, **params):
        out, skip = [], 0
        while True:
            page = ven.get(f"{base}/{path}", params={**params, "skip": skip, "limit": 1}, timeout=10).json()
            if not page:
                return out
            assert len(page) == 1
            out += page
            skip += 1

    programs = ven.get(f"{base}/programs", timeout=10).json()
    valid(programs, "program", many=True)
    assert pages("programs") == programs and len(programs) == 2
    events = ven.get(f"{base}/events", timeout=10).json()
    valid(events, "event", many=True)
    assert [e["id"] for e in events] == [e1["id"], e2["id"]]  # not the other premise's
    assert pages("events") == events
    by_resource = {"targetType": "RESOURCE_NAME", "targetValues": [f"premise-{mine.pk}"]}
    assert ven.get(f"{base}/events", params=by_resource, timeout=10).json() == events
    assert pages("events", **by_resource) == events
    zone = {"targetType": "GROUP", "targetValues": [mine.grid_zone.code]}
    assert ven.get(f"{base}/events", params=zone, timeout=10).json() == events
    assert (
        ven.get(f"{base}/events", params={"targetType": "GROUP", "targetValues": ["nowhere"]}, timeout=10).json() == []
    )
    assert [e["id"] for e in ven.get(f"{base}/events", params={"programID": e2["programID"]}, timeout=10).json()] == [
        e2["id"]
    ]

    report = {
        "programID": e1["programID"],
        "eventID": e1["id"],
        "clientName": "e2e-ven",
        "reportName": "usage",
        "payloadDescriptors": [{"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "KWH"}],
        "resources": [
            {
                "resourceName": "house-2",
                "intervalPeriod": {"start": e1["intervalPeriod"]["start"], "duration": "PT15M"},
                "intervals": [{"id": k, "payloads": [{"type": "USAGE", "values": [0.3 + k / 10]}]} for k in range(4)],
            }
        ],
    }
    posted = ven.post(f"{base}/reports", json=report, timeout=10)
    assert posted.status_code == 201, posted.text
    valid(posted.json(), "report")

    # The operator sees it.
    seen = operator.get(f"{base}/reports", params={"eventID": e1["id"]}, timeout=10)
    assert seen.status_code == 200
    valid(seen.json(), "report", many=True)
    assert [r["id"] for r in seen.json()] == [posted.json()["id"]]
    assert seen.json()[0]["resources"][0]["intervals"][3]["payloads"][0]["values"] == [0.6]
    assert seen.json()[0]["clientName"] == "e2e-ven"
