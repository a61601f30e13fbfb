"""OpenADR 3.0.1 complete (issue 14): each refusal that existed, now handled. /auth/token with client_secret_basic
and client_secret_post; every program and event field kept and returned; every payload type, GROUP targets and
week durations; bodies validated against the spec (400 problem naming the field); filters per spec; 405 for
undeclared methods; an OpenADR-created program's events reach the VENs enrolled in it; a VEN updates its report
after the event was cancelled."""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote_plus

import pytest
from rest_framework.test import APIClient

from activation import openadr_services as oadr
from activation.models import DREvent, OadrEvent, OutboxMessage

from .oadr_schema import problem, valid

pytestmark = pytest.mark.django_db
BASE = "/openadr3/3.0.1"
TOKEN = f"{BASE}/auth/token"


# --- /auth/token ----------------------------------------------------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: each part form-urlencoded, then "id:secret" base64.
    return "Basic " + base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


def test_token_client_secret_basic_and_post(act_world):
    oadr.ven_client_create(
        organisation=act_world.world.aggregator, client_id="ven:1 é", client_secret="s3cret:+/ü-long"
    )
    c = APIClient()
    r = c.post(TOKEN, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=_basic("ven:1 é", "s3cret:+/ü-long"))
    assert r.status_code == 200, r.content
    valid(r.json(), "clientCredentialResponse")
    assert r["Cache-Control"] == "no-store" and r.json()["token_type"] == "Bearer"
    # The token works.
    assert c.get(f"{BASE}/programs", HTTP_AUTHORIZATION=f"Bearer {r.json()['access_token']}").status_code == 200
    # client_secret_post.
    r = c.post(TOKEN, {"grant_type": "client_credentials", "client_id": "ven:1 é", "client_secret": "s3cret:+/ü-long"})
    assert r.status_code == 200
    # A scope the VEN may have is granted; another is invalid_scope.
    r = c.post(
        TOKEN,
        {"grant_type": "client_credentials", "scope": "read_all write_reports"},
        HTTP_AUTHORIZATION=_basic("ven:1 é", "s3cret:+/ü-long"),
    )
    assert r.json()["scope"] == "read_all write_reports"
    r = c.post(
        TOKEN,
        {"grant_type": "client_credentials", "scope": "write_programs"},
        HTTP_AUTHORIZATION=_basic("ven:1 é", "s3cret:+/ü-long"),
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_scope")


@pytest.mark.parametrize(
    ("body", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, _basic("ven-x", "wrong-secret"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "Basic !!notbase64", 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_secret": "s3cret-s3cret"},
            _basic("ven-x", "s3cret-s3cret"),
            400,
            "invalid_request",
        ),
        ({"grant_type": "password"}, _basic("ven-x", "s3cret-s3cret"), 400, "unsupported_grant_type"),
        ({}, _basic("ven-x", "s3cret-s3cret"), 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "ven-x"}, None, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials", "client_id": "ven-x", "client_secret": "nope-nope"},
            None,
            401,
            "invalid_client",
        ),
    ],
)
def test_token_errors_are_rfc_6749_bodies(act_world, body, auth, status, error):
    oadr.ven_client_create(organisation=act_world.world.aggregator, client_id="ven-x", client_secret="s3cret-s3cret")
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    r = APIClient().post(TOKEN, body, **extra)
    assert (r.status_code, r.json()["error"]) == (status, error)
    valid(r.json(), "authError")
    if status == 401:
        assert r["WWW-Authenticate"].startswith("Basic")


# --- programs -------------------------------------------------------------------------------------------------

FULL_PROGRAM = {
    "programName": "Res TOU A",  # not a slug: kept as given
    "programLongName": "Residential Time of Use-A",
    "retailerName": "ACME",
    "retailerLongName": "ACME Electric Inc.",
    "programType": "PRICING_TARIFF",
    "country": "US",
    "principalSubdivision": "CO",
    "timeZoneOffset": "-PT7H",
    "intervalPeriod": {"start": "2031-01-01T00:00:00Z", "duration": "P1Y"},
    "programDescriptions": [{"URL": "https://acme.example/tou"}],
    "bindingEvents": True,
    "localPrice": False,
    "payloadDescriptors": [
        {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE", "units": "KWH", "currency": "USD"},
        {
            "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
            "payloadType": "USAGE",
            "readingType": "DIRECT_READ",
            "units": "KWH",
            "accuracy": 0.5,
            "confidence": 90,
        },
    ],
    "targets": [{"type": "VEN_NAME", "values": ["ven-a"]}],
}


def test_a_program_keeps_every_field(two_vens):
    _, a, _, _, _, _, bl = two_vens
    r = bl.post(f"{BASE}/programs", FULL_PROGRAM, format="json")
    assert r.status_code == 201, r.json()
    valid(r.json(), "program")
    got = a.get(f"{BASE}/programs/{r.json()['id']}").json()
    assert {k: got[k] for k in FULL_PROGRAM} == FULL_PROGRAM
    assert got["objectType"] == "PROGRAM" and got["createdDateTime"]
    problem(bl.post(f"{BASE}/programs", {"programName": "Res TOU A"}, format="json"), 409)
    changed = {**FULL_PROGRAM, "country": "CA", "principalSubdivision": "BC"}
    r = bl.put(f"{BASE}/programs/{got['id']}", changed, format="json")
    assert r.status_code == 200 and r.json()["country"] == "CA"
    body = problem(
        bl.post(f"{BASE}/programs", {**FULL_PROGRAM, "programName": "x", "timeZoneOffset": "7h"}, format="json"), 400
    )
    assert "timeZoneOffset" in body["detail"]


# --- events ---------------------------------------------------------------------------------------------------


def _open_program(bl, **spec) -> str:
    r = bl.post(f"{BASE}/programs", {"programName": "tariff", **spec}, format="json")
    assert r.status_code == 201, r.json()
    return r.json()["id"]


def test_price_group_and_week_events_are_kept_whole_and_reach_the_enrolled_vens(two_vens):
    w, a, ven_a, b, _, _, bl = two_vens
    # Program targets are the enrolment: VEN A is in, VEN B is not.
    program_id = _open_program(bl, targets=[{"type": "VEN_NAME", "values": ["ven-a"]}])
    event = {
        "programID": program_id,
        "eventName": "prices next week",
        "priority": 2,
        "targets": [{"type": "GROUP", "values": ["residential"]}],
        "reportDescriptors": [{"payloadType": "USAGE", "readingType": "DIRECT_READ", "units": "KWH"}],
        "payloadDescriptors": [
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE", "units": "KWH", "currency": "USD"}
        ],
        "intervalPeriod": {"start": "2031-06-09T00:00:00Z", "duration": "P1W", "randomizeStart": "PT0S"},
        "intervals": [
            {"id": 0, "payloads": [{"type": "PRICE", "values": [0.17]}, {"type": "SIMPLE", "values": [2]}]},
            {"id": 1, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [5.5]}]},
            {
                "id": 7,
                "intervalPeriod": {"start": "2031-06-23T00:00:00Z", "duration": "PT0S"},
                "payloads": [{"type": "X_CURVE", "values": [{"x": 1.0, "y": 2.0}, "label", True]}],
            },
        ],
    }
    r = bl.post(f"{BASE}/events", event, format="json")
    assert r.status_code == 201, r.json()
    valid(r.json(), "event")
    got = r.json()
    assert got["id"].startswith("vtn-") and {k: got[k] for k in event} == event
    assert not DREvent.objects.filter(program_id=int(program_id)).exists()  # kept, not dispatched
    # VEN A tagged itself residential: it is enrolled and targeted; VEN B is neither.
    a.put(
        f"{BASE}/vens/{ven_a.pk}",
        {"venName": "ven-a", "targets": [{"type": "GROUP", "values": ["residential"]}]},
        format="json",
    )
    assert [e["id"] for e in a.get(f"{BASE}/events", {"programID": program_id}).json()] == [got["id"]]
    assert a.get(f"{BASE}/events/{got['id']}").json() == got
    assert b.get(f"{BASE}/events", {"programID": program_id}).json() == []
    problem(b.get(f"{BASE}/events/{got['id']}"), 404)
    # Filters per spec.
    assert len(bl.get(f"{BASE}/events", {"targetType": "GROUP", "targetValues": ["residential"]}).json()) == 1
    assert bl.get(f"{BASE}/events", {"targetType": "GROUP", "targetValues": ["industrial"]}).json() == []
    # PUT replaces it; DELETE removes it from the lists.
    r = bl.put(f"{BASE}/events/{got['id']}", {**event, "priority": 0}, format="json")
    assert r.status_code == 200 and r.json()["priority"] == 0
    assert bl.delete(f"{BASE}/events/{got['id']}").status_code == 200
    problem(a.get(f"{BASE}/events/{got['id']}"), 404)
    assert OadrEvent.objects.get().deleted_at is not None


def test_an_event_without_targets_reaches_every_vens_of_an_open_program_and_notifies(two_vens):
    _, a, _, b, _, _, bl = two_vens
    program_id = _open_program(bl)  # no targets: open to every VEN
    sub = a.post(
        f"{BASE}/subscriptions",
        {
            "clientName": "a",
            "programID": program_id,
            "objectOperations": [
                {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "https://a.example/cb"}
            ],
        },
        format="json",
    )
    assert sub.status_code == 201
    body = {"programID": program_id, "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.3]}]}]}
    r = bl.post(f"{BASE}/events", body, format="json")
    assert r.status_code == 201
    for client in (a, b):
        assert [e["id"] for e in client.get(f"{BASE}/events", {"programID": program_id}).json()] == [r.json()["id"]]
    note = OutboxMessage.objects.get(topic="https://a.example/cb")
    assert note.payload["objectType"] == "EVENT" and note.payload["object"]["id"] == r.json()["id"]


def test_a_dispatched_event_keeps_every_interval(two_vens):
    w, a, _, _, _, events, bl = two_vens
    start = events[0].start + timedelta(days=1)
    body = {
        "programID": str(w.program.pk),
        "eventName": "two steps",
        "intervalPeriod": {"start": start.isoformat(), "duration": "PT30M"},
        "intervals": [
            {
                "id": 0,
                "payloads": [
                    {"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-1.0]},
                    {"type": "PRICE", "values": [0.5]},
                ],
            },
            {"id": 1, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-2.5]}]},
        ],
        "targets": [{"type": "RESOURCE_NAME", "values": ["ven-a-site"]}],  # the VEN's own resource name
    }
    r = bl.post(f"{BASE}/events", body, format="json")
    assert r.status_code == 201, r.json()
    event = DREvent.objects.get(pk=int(r.json()["id"]))
    # The platform acts on the largest reduction over the union of the intervals; the object comes back whole.
    assert (event.premise_id, event.target_kw) == (w.premises[1].pk, Decimal("2.500"))
    assert (event.start, event.end) == (start, start + timedelta(hours=1))
    got = a.get(f"{BASE}/events/{event.pk}").json()
    assert got["intervals"] == body["intervals"] and got["eventName"] == "two steps"
    valid(got, "event")


def test_bodies_are_validated_against_the_spec_naming_the_field(two_vens):
    w, a, _, _, _, events, bl = two_vens
    bad_event = {"programID": str(w.program.pk), "intervals": [{"id": 0, "payloads": [{"type": "", "values": []}]}]}
    assert "intervals/0/payloads/0/type" in problem(bl.post(f"{BASE}/events", bad_event, format="json"), 400)["detail"]
    bad_report = {
        "programID": str(w.program.pk),
        "eventID": str(events[0].pk),
        "clientName": "a",
        "resources": [{"resourceName": "x", "intervalPeriod": None, "intervals": []}],
    }
    assert "resources/0/intervalPeriod" in problem(a.post(f"{BASE}/reports", bad_report, format="json"), 400)["detail"]
    problem(bl.post(f"{BASE}/vens", {"venName": ""}, format="json"), 400)
    problem(bl.post(f"{BASE}/programs", ["not", "an", "object"], format="json"), 400)


def test_subscriptions_filters_and_refusals_that_were_server_errors(two_vens):
    w, a, _, _, _, _, bl = two_vens

    def sub(client_name, objects):
        return {
            "clientName": client_name,
            "programID": str(w.program.pk),
            "objectOperations": [{"objects": objects, "operations": ["CREATE"], "callbackUrl": "https://x.example/"}],
        }

    assert bl.post(f"{BASE}/subscriptions", sub("one", ["EVENT"]), format="json").status_code == 201
    assert bl.post(f"{BASE}/subscriptions", sub("two", ["REPORT", "VEN"]), format="json").status_code == 201
    names = lambda r: [s["clientName"] for s in r.json()]  # noqa: E731
    assert names(bl.get(f"{BASE}/subscriptions", {"clientName": "two"})) == ["two"]
    assert names(bl.get(f"{BASE}/subscriptions", {"objects": ["VEN"]})) == ["two"]
    assert names(bl.get(f"{BASE}/subscriptions", {"objects": ["EVENT", "REPORT"]})) == ["one", "two"]
    assert names(bl.get(f"{BASE}/subscriptions", {"programID": "999"})) == []
    # Were 500s: objects [{}] (TypeError), POST on an object's path (TypeError).
    problem(bl.post(f"{BASE}/subscriptions", sub("three", [{}]), format="json"), 400)
    sid = bl.get(f"{BASE}/subscriptions").json()[0]["id"]
    r = problem(bl.post(f"{BASE}/subscriptions/{sid}", sub("x", ["EVENT"]), format="json"), 405)
    assert "POST" in r["detail"]
    problem(a.post(f"{BASE}/reports/1", {}, format="json"), 405)
    problem(bl.patch(f"{BASE}/programs/{w.program.pk}", {}, format="json"), 405)


def test_a_ven_updates_its_report_after_the_event_was_cancelled(two_vens):
    w, a, _, _, _, events, bl = two_vens
    e = events[0]
    report = {
        "programID": str(e.program_id),
        "eventID": str(e.pk),
        "clientName": "ven-a",
        "resources": [
            {
                "resourceName": "ven-a-site",
                "intervalPeriod": {"start": e.start.isoformat(), "duration": "PT15M"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [0.4]}]}],
            }
        ],
    }
    r = a.post(f"{BASE}/reports", report, format="json")
    assert r.status_code == 201
    assert bl.delete(f"{BASE}/events/{e.pk}").status_code == 200
    report["resources"][0]["intervals"][0]["payloads"][0]["values"] = [0.3]
    r = a.put(f"{BASE}/reports/{r.json()['id']}", report, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["resources"][0]["intervals"][0]["payloads"][0]["values"] == [0.3]
    # A late first report on the cancelled event is taken too.
    assert a.post(f"{BASE}/reports", report, format="json").status_code == 201


def test_a_ven_object_with_its_resources(act_world, api_for):
    bl = api_for("operator@demo.flex")
    r = bl.post(
        f"{BASE}/vens",
        {
            "venName": "with-resources",
            "targets": [{"type": "GROUP", "values": ["g"]}],
            "resources": [{"resourceName": "battery", "attributes": [{"type": "X", "values": [1]}]}],
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    valid(r.json(), "ven")
    assert [x["resourceName"] for x in r.json()["resources"]] == ["battery"]
    assert r.json()["resources"][0]["attributes"] == [{"type": "X", "values": [1]}]


def test_long_ids_and_nul_characters_are_answers_not_server_errors(two_vens):
    w, a, _, _, _, _, bl = two_vens
    huge = "9" * 40  # a valid objectID, beyond a bigint
    problem(bl.get(f"{BASE}/programs/{huge}"), 404)
    problem(bl.post(f"{BASE}/events", {"programID": huge, "intervals": []}, format="json"), 404)
    assert bl.get(f"{BASE}/events", {"programID": huge}).json() == []
    target = {"type": "RESOURCE_NAME", "values": [f"premise-{huge}"]}
    body = {
        "programID": str(w.program.pk),
        "targets": [target],
        "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-1]}]}],
    }
    problem(bl.post(f"{BASE}/events", body, format="json"), 400)
    # PostgreSQL cannot store U+0000: refused naming the field, and matching nothing in filters.
    assert (
        "programName" in problem(bl.post(f"{BASE}/programs", {"programName": "a\x00b"}, format="json"), 400)["detail"]
    )
    assert bl.get(f"{BASE}/vens", {"venName": "a\x00"}).json() == []
