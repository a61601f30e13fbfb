"""OpenADR 3 VTN update and delete for every object, with the spec's roles: the BL (grid operator) writes programs
and events and manages VENs; VENs write their own reports, subscriptions, VEN object and resources and cannot
reach another VEN's (404), nor write what the BL writes (403); bad bodies are 400; every body is the spec's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from activation import openadr_services as oadr
from activation import services
from activation.models import DREvent, OadrReport, OadrSubscription, OutboxMessage, Program, Ven, VenResource

from .conftest import ven_client as _ven_client
from .oadr_schema import problem, valid

pytestmark = pytest.mark.django_db
BASE = "/openadr3/3.0.1"


def _event_body(event: DREvent, *, kw="-1.5", start=None, minutes=60, premise_id=None) -> dict:
    start = start or event.start
    return {
        "programID": str(event.program_id),
        "intervalPeriod": {"start": start.isoformat(), "duration": f"PT{minutes}M"},
        "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [float(kw)]}]}],
        "targets": [{"type": "RESOURCE_NAME", "values": [f"premise-{premise_id or event.premise_id}"]}],
    }


def test_programs_only_the_bl_updates_and_deletes(two_vens):
    w, a, _, _, _, _, bl = two_vens
    url = f"{BASE}/programs/{w.program.pk}"
    problem(a.put(url, {"programName": "mine-now"}, format="json"), 403)
    problem(a.delete(url), 403)
    r = bl.put(url, {"programName": "peak-saver-2", "programLongName": "Peak saver (summer)"}, format="json")
    assert r.status_code == 200
    valid(r.json(), "program")
    assert r.json()["programName"] == "peak-saver-2" and r.json()["programLongName"] == "Peak saver (summer)"
    assert a.get(url).json()["programName"] == "peak-saver-2"  # the VEN reads the update
    problem(bl.put(url, {"programName": "emergency-east"}, format="json"), 409)  # names are unique
    problem(bl.put(url, {"programLongName": "no name"}, format="json"), 400)
    problem(bl.put(f"{BASE}/programs/999999", {"programName": "x"}, format="json"), 404)
    problem(bl.post(f"{BASE}/programs", {"programName": "emergency-east"}, format="json"), 409)
    # A program with events and enrollments stays; an unused one goes.
    problem(bl.delete(url), 409)
    created = bl.post(f"{BASE}/programs", {"programName": "pilot"}, format="json")
    assert created.status_code == 201
    gone = bl.delete(f"{BASE}/programs/{created.json()['id']}")
    assert gone.status_code == 200 and gone.json()["programName"] == "pilot"
    valid(gone.json(), "program")
    problem(bl.get(f"{BASE}/programs/{created.json()['id']}"), 404)
    assert not Program.objects.filter(code="pilot").exists()


def test_events_the_bl_revises_before_the_start_and_deletes(two_vens):
    w, a, _, _, _, events, bl = two_vens
    mine = events[0]
    url = f"{BASE}/events/{mine.pk}"
    before = a.get(url).json()
    problem(a.put(url, _event_body(mine), format="json"), 403)  # write_events: BL only
    problem(a.delete(url), 403)
    new_start = mine.start + timedelta(minutes=15)
    r = bl.put(url, _event_body(mine, kw="-1.5", start=new_start, minutes=45), format="json")
    assert r.status_code == 200, r.json()
    valid(r.json(), "event")
    seen = a.get(url).json()  # the VEN reads the revision
    assert seen["intervals"][0]["payloads"][0] == {"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-1.5]}
    assert seen["intervalPeriod"]["duration"] == "PT45M"
    assert seen["modificationDateTime"] > before["modificationDateTime"]
    mine.refresh_from_db()
    assert (mine.target_kw, mine.start, mine.end) == (Decimal("1.5"), new_start, new_start + timedelta(minutes=45))
    # Commands not yet sent were rewritten in place: each device has one command, with the new window.
    rows = OutboxMessage.objects.filter(event=mine, channel=OutboxMessage.Channel.MQTT)
    assert rows.exists() and all(r.payload["start"] == new_start.isoformat() for r in rows)
    assert not rows.filter(destination__contains="#").exists()
    # Devices that already have their command get the revision as a new message.
    devices = rows.update(status=OutboxMessage.Status.SENT)
    services.webhook_endpoint_create(organisation=w.world.aggregator, url="https://agg.example/h", secret="x" * 16)
    r = bl.put(url, _event_body(mine, kw="-1", start=new_start, minutes=45), format="json")
    assert r.status_code == 200
    revised = OutboxMessage.objects.filter(event=mine, destination__contains="#rev-")
    assert revised.count() == devices and all(r.status == OutboxMessage.Status.PENDING for r in revised)
    hook = OutboxMessage.objects.get(event=mine, channel=OutboxMessage.Channel.WEBHOOK, destination__contains="-rev-")
    assert hook.payload["type"] == "event.updated"
    assert hook.payload["event"]["intervals"][0]["payloads"][0]["values"] == ["1.000"]
    # A second revision before the first went out supersedes it.
    assert bl.put(url, _event_body(mine, kw="-1", start=new_start, minutes=45), format="json").status_code == 200
    assert revised.filter(status=OutboxMessage.Status.PENDING).count() == devices
    assert revised.filter(status=OutboxMessage.Status.CANCELLED).count() == devices
    # A revised command is a command: the device must acknowledge it by a deadline.
    assert all(r.ack_deadline is not None for r in revised.filter(status=OutboxMessage.Status.PENDING))

    # Refusals: another resource, above capacity, another day, unknown event, a bad body.
    problem(bl.put(url, _event_body(mine, premise_id=w.premises[3].pk), format="json"), 409)
    problem(bl.put(url, _event_body(mine, kw="-50"), format="json"), 400)
    problem(bl.put(url, _event_body(mine, start=mine.start + timedelta(days=1)), format="json"), 400)
    problem(bl.put(f"{BASE}/events/999999", _event_body(mine), format="json"), 404)
    problem(bl.put(url, {**_event_body(mine), "intervalPeriod": {"start": "soon"}}, format="json"), 400)
    mine.refresh_from_db()
    assert mine.target_kw == Decimal("1")

    # DELETE cancels it: the VTN no longer lists it, the platform keeps it for audit. Each device that had a
    # command (first and revised, both sent) gets one restore, addressed to the device itself.
    revised.filter(status=OutboxMessage.Status.PENDING).update(status=OutboxMessage.Status.SENT)
    r = bl.delete(url)
    restores = OutboxMessage.objects.filter(event=mine, destination__endswith="#restore")
    assert restores.count() == devices
    assert {x.payload["device_id"] for x in restores} == {
        x.destination for x in rows.exclude(destination__contains="#")
    }
    assert r.status_code == 200 and r.json()["intervals"] == []
    valid(r.json(), "event")
    problem(a.get(url), 404)
    assert a.get(f"{BASE}/events").json() == []
    mine.refresh_from_db()
    assert mine.status == DREvent.Status.CANCELLED
    problem(bl.delete(url), 404)
    problem(bl.put(url, _event_body(mine), format="json"), 404)


def test_an_event_under_way_is_not_revised(two_vens):
    _, _, _, _, _, events, bl = two_vens
    e = events[0]
    DREvent.objects.filter(pk=e.pk).update(status=DREvent.Status.ACTIVE)
    problem(bl.put(f"{BASE}/events/{e.pk}", _event_body(e, kw="-1"), format="json"), 409)


def _report(event, resource_name, usage=0.4):
    return {
        "programID": str(event.program_id),
        "eventID": str(event.pk),
        "clientName": resource_name,
        "resources": [
            {
                "resourceName": resource_name,
                "intervalPeriod": {"start": event.start.isoformat(), "duration": "PT15M"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [usage]}]}],
            }
        ],
    }


def test_reports_a_ven_writes_its_own_only(two_vens):
    _, a, _, b, _, events, bl = two_vens
    r = a.post(f"{BASE}/reports", _report(events[0], "ven-a-site"), format="json")
    assert r.status_code == 201
    url = f"{BASE}/reports/{r.json()['id']}"
    # VEN B cannot see, change or delete VEN A's report; the BL reads it but does not write reports.
    problem(b.get(url), 404)
    problem(b.put(url, _report(events[1], "ven-b-site"), format="json"), 404)
    problem(b.delete(url), 404)
    assert bl.get(url).status_code == 200
    problem(bl.put(url, _report(events[0], "ven-a-site"), format="json"), 403)
    problem(bl.delete(url), 403)
    problem(bl.post(f"{BASE}/reports", _report(events[0], "ven-a-site"), format="json"), 403)
    # A report on another VEN's event is not found; an unreadable one is refused.
    problem(a.post(f"{BASE}/reports", _report(events[1], "ven-a-site"), format="json"), 404)
    bad = _report(events[0], "ven-a-site")
    bad["resources"][0]["intervalPeriod"]["duration"] = "fifteen minutes"
    problem(a.put(url, bad, format="json"), 400)
    r = a.put(url, _report(events[0], "ven-a-site", usage=0.35), format="json")
    assert r.status_code == 200
    valid(r.json(), "report")
    assert OadrReport.objects.get().resources[0]["intervals"][0]["payloads"][0]["values"] == [0.35]
    r = a.delete(url)
    assert r.status_code == 200
    valid(r.json(), "report")
    problem(a.get(url), 404)
    assert not OadrReport.objects.exists()


def _sub(program_id, url="http://127.0.0.1:9/cb"):
    return {
        "clientName": "x",
        "programID": str(program_id),
        "objectOperations": [{"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": url}],
    }


def test_subscriptions_own_only_and_validated(two_vens):
    w, a, _, b, ven_b, _, bl = two_vens
    r = a.post(f"{BASE}/subscriptions", _sub(w.program.pk), format="json")
    assert r.status_code == 201
    url = f"{BASE}/subscriptions/{r.json()['id']}"
    problem(b.get(url), 404)
    problem(b.put(url, _sub(w.program.pk), format="json"), 404)
    problem(b.delete(url), 404)
    bad = _sub(w.program.pk)
    bad["objectOperations"][0]["operations"] = ["EXPLODE"]
    problem(a.put(url, bad, format="json"), 400)
    problem(a.put(url, {**_sub(w.program.pk), "programID": "999999"}, format="json"), 404)
    r = a.put(url, {**_sub(w.emergency.pk), "clientName": "renamed"}, format="json")
    assert r.status_code == 200 and r.json()["clientName"] == "renamed"
    valid(r.json(), "subscription")
    assert bl.put(url, {**_sub(w.emergency.pk), "clientName": "by-bl"}, format="json").status_code == 200
    r = a.delete(url)
    assert r.status_code == 200
    valid(r.json(), "subscription")
    problem(a.get(url), 404)
    assert not OadrSubscription.objects.exists()


def test_vens_and_resources_the_bl_manages_a_ven_its_own(two_vens):
    w, a, ven_a, b, ven_b, events, bl = two_vens
    a_url, b_url = f"{BASE}/vens/{ven_a.pk}", f"{BASE}/vens/{ven_b.pk}"
    problem(b.get(a_url), 404)
    problem(b.put(a_url, {"venName": "hijacked"}, format="json"), 404)
    problem(b.delete(a_url), 404)
    problem(b.post(f"{a_url}/resources", {"resourceName": "intruder"}, format="json"), 404)
    r = a.put(a_url, {"venName": "ven-a", "attributes": [{"type": "LOCATION", "values": ["east"]}]}, format="json")
    assert r.status_code == 200 and r.json()["attributes"] == [{"type": "LOCATION", "values": ["east"]}]
    valid(r.json(), "ven")
    problem(a.put(a_url, {"venName": "ven-b"}, format="json"), 409)  # venName unique in the VTN
    problem(a.put(a_url, {"venName": "ven-a", "targets": "east"}, format="json"), 400)
    problem(a.delete(a_url), 403)  # the BL manages VENs

    res = ven_a.resources.get()
    res_url = f"{a_url}/resources/{res.pk}"
    problem(b.get(res_url), 404)
    problem(b.delete(res_url), 404)
    r = a.put(
        res_url,
        {"resourceName": "ven-a-home", "attributes": [{"type": "PREMISE_ID", "values": [w.premises[1].pk]}]},
        format="json",
    )
    assert r.status_code == 200 and r.json()["resourceName"] == "ven-a-home"
    valid(r.json(), "resource")
    # A VEN cannot claim a premise that is not its organisation's.
    problem(
        a.put(
            res_url,
            {"resourceName": "x", "attributes": [{"type": "PREMISE_ID", "values": [w.premises[3].pk]}]},
            format="json",
        ),
        403,
    )
    problem(a.post(f"{a_url}/resources", {"resourceName": "ven-a-home"}, format="json"), 409)
    assert (
        bl.put(res_url, {**r.json(), "targets": [{"type": "GROUP", "values": ["g1"]}]}, format="json").status_code
        == 200
    )
    assert [e["id"] for e in a.get(f"{BASE}/events").json()] == [str(events[0].pk)]
    r = a.delete(res_url)
    assert r.status_code == 200
    valid(r.json(), "resource")
    assert a.get(f"{BASE}/events").json() == []  # no resource, no events
    problem(a.get(res_url), 404)

    # The BL deletes VEN B: its resources and subscriptions go; its client sees no VEN any more.
    b.post(f"{BASE}/subscriptions", _sub(w.program.pk), format="json")
    r = bl.delete(b_url)
    assert r.status_code == 200 and r.json()["venName"] == "ven-b"
    valid(r.json(), "ven")
    assert not Ven.objects.filter(pk=ven_b.pk).exists()
    assert not VenResource.objects.filter(ven_id=ven_b.pk).exists()
    assert not OadrSubscription.objects.filter(ven_id=ven_b.pk).exists()
    assert b.get(f"{BASE}/vens").json() == []
    problem(bl.delete(b_url), 404)


def test_ven_self_registration_with_client_credentials(act_world, api_for):
    """A VEN client, credentials issued to its aggregator, registers its own VEN once; a second registration or
    a taken venName is a 409, never a duplicate."""
    w = act_world
    assert api_for("consumer01@demo.flex").post("/api/v1/activation/ven-clients/").status_code == 403
    creds = api_for("aggregator@demo.flex").post("/api/v1/activation/ven-clients/").json()
    tok = APIClient().post(
        f"{BASE}/auth/token",
        {"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]},
    )
    assert tok.status_code == 200
    valid(tok.json(), "clientCredentialResponse")
    ven = APIClient()
    ven.credentials(HTTP_AUTHORIZATION=f"Bearer {tok.json()['access_token']}")
    # Before registering: no VEN, no events, and it cannot write reports or subscriptions.
    assert ven.get(f"{BASE}/vens").json() == [] and ven.get(f"{BASE}/events").json() == []
    problem(ven.post(f"{BASE}/subscriptions", _sub(w.program.pk), format="json"), 403)
    problem(ven.post(f"{BASE}/vens", {"attributes": []}, format="json"), 400)
    r = ven.post(f"{BASE}/vens", {"venName": "sunny-ven"}, format="json")
    assert r.status_code == 201
    valid(r.json(), "ven")
    registered = Ven.objects.get(ven_name="sunny-ven")
    assert registered.organisation == w.world.aggregator and registered.client.client_id == creds["client_id"]
    assert [v["id"] for v in ven.get(f"{BASE}/vens").json()] == [r.json()["id"]]
    problem(ven.post(f"{BASE}/vens", {"venName": "sunny-ven"}, format="json"), 409)
    problem(ven.post(f"{BASE}/vens", {"venName": "another-name"}, format="json"), 409)
    # Another client may not take the name either.
    other, _ = _ven_client("other-ven", "client-o", w.world.aggregator)
    problem(other.post(f"{BASE}/vens", {"venName": "sunny-ven"}, format="json"), 409)
    assert Ven.objects.filter(ven_name="sunny-ven").count() == 1
    # Then its resource, linked to one of the aggregator's premises.
    r = ven.post(
        f"{BASE}/vens/{registered.pk}/resources",
        {"resourceName": "house-2", "attributes": [{"type": "PREMISE_ID", "values": [w.premises[1].pk]}]},
        format="json",
    )
    assert r.status_code == 201
    valid(r.json(), "resource")
    assert VenResource.objects.get(ven=registered).premise == w.premises[1]


def test_list_endpoints_query_counts_do_not_grow_with_objects(two_vens, django_assert_max_num_queries):
    w, a, ven_a, _, _, _, bl = two_vens
    for n in range(5):
        oadr.ven_register(ven_name=f"extra-{n}", client_id=f"extra-{n}", client_secret="s3cret-s3cret")
    for n in range(5):
        oadr.ven_resource_upsert(ven=ven_a, resource_name=f"meter-{n}")
    with django_assert_max_num_queries(6):
        assert len(bl.get(f"{BASE}/vens").json()) == 7
    with django_assert_max_num_queries(6):
        assert len(bl.get(f"{BASE}/events").json()) == 2
    with django_assert_max_num_queries(6):
        assert len(a.get(f"{BASE}/vens/{ven_a.pk}/resources").json()) == 6


def test_bl_cannot_create_an_event_for_a_premise_outside_its_service_area(two_vens, api_for):
    """An operator reaches only premises in its own zones over OpenADR too: nobody else is billed for its event."""
    from accounts import services as accounts_services
    from accounts.models import GridZone, Organisation

    w, _, _, _, _, events, _ = two_vens
    west = accounts_services.organisation_create(
        name="West DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[GridZone.objects.get(code="sub-east-2")]
    )
    accounts_services.user_create(email="west@t.flex", password="x-pass-123", organisation=west)
    outsider = api_for("west@t.flex")
    event = events[0]
    assert event.premise.grid_zone.code != "sub-east-2" and event.premise.grid_zone.parent.code != "sub-east-2"
    before = DREvent.objects.count()
    start = event.start + timedelta(days=1)
    problem(outsider.post(f"{BASE}/events", _event_body(event, start=start), format="json"), 400)
    assert DREvent.objects.count() == before


def test_admin_shows_an_events_price_buyer_and_status_without_letting_them_be_edited(two_vens):
    """Money and status change only through the services: the admin page shows them read-only."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    _, _, _, _, _, events, _ = two_vens
    admin = Client()
    admin.force_login(get_user_model().objects.get(email="admin@demo.flex"))
    page = admin.get(f"/admin/activation/drevent/{events[0].pk}/change/").content.decode()
    assert str(events[0].price_per_mwh) in page
    for field in ("price_per_mwh", "buyer", "status", "target_kw"):
        assert f'name="{field}"' not in page


def test_admin_refuses_to_delete_an_event(two_vens):
    """ADR 0052: an event's dispatch rows hold it by construction (no database constraint), so the admin never
    deletes one: no delete link on its page, and the delete view is forbidden."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    _, _, _, _, _, events, _ = two_vens
    admin = Client()
    admin.force_login(get_user_model().objects.get(email="admin@demo.flex"))
    page = admin.get(f"/admin/activation/drevent/{events[0].pk}/change/").content.decode()
    assert f"/admin/activation/drevent/{events[0].pk}/delete/" not in page
    assert admin.post(f"/admin/activation/drevent/{events[0].pk}/delete/", {"post": "yes"}).status_code == 403
    assert DREvent.objects.filter(pk=events[0].pk).exists()
