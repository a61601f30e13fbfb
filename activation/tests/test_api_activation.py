"""Activation REST API: roles refused, bad input 400 with fields, operator events, opt-out, emergency stop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from activation.models import DREvent, EmergencyStop, OptOut

pytestmark = pytest.mark.django_db
URL = "/api/v1/activation"


def _times(minutes=60, hours=1):
    start = (timezone.now() + timedelta(minutes=minutes)).replace(microsecond=0)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def test_operator_creates_an_event_consumer_refused_bad_input_400(act_world, api_for):
    w = act_world
    start, end = _times()
    body = {"program": "peak-saver", "premise": w.premises[0].pk, "target_kw": "2", "start": start, "end": end}
    assert api_for("consumer01@demo.flex").post(f"{URL}/events/", body, format="json").status_code == 403
    r = api_for("operator@demo.flex").post(
        f"{URL}/events/", {**body, "target_kw": "x", "start": "2031-01-01T10:00:00"}, format="json"
    )
    assert r.status_code == 400 and {"target_kw", "start"} <= set(r.json()["fields"])
    r = api_for("operator@demo.flex").post(f"{URL}/events/", {**body, "start": _times(5)[0]}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "notice_too_short"
    assert not DREvent.objects.exists()
    r = api_for("operator@demo.flex").post(f"{URL}/events/", body, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "notified" and r.json()["source"] == "operator"
    # The consumer sees it and opts out; another consumer cannot see it.
    event_id = r.json()["id"]
    assert [e["id"] for e in api_for("consumer01@demo.flex").get(f"{URL}/events/").json()["results"]] == [event_id]
    assert api_for("consumer02@demo.flex").post(f"{URL}/events/{event_id}/opt-out/").status_code == 404
    r = api_for("consumer01@demo.flex").post(f"{URL}/events/{event_id}/opt-out/")
    assert r.status_code == 201 and r.json()["phase"] == "before" and r.json()["consequence"] == "penalty"
    assert OptOut.objects.filter(event_id=event_id).exists()
    assert api_for("consumer01@demo.flex").get(f"{URL}/events/{event_id}/monitor/").json()["status"] == "cancelled"


def test_emergency_stop_api_engage_by_operator_lift_by_admin_only(act_world, api_for):
    operator, admin = api_for("operator@demo.flex"), api_for("admin@demo.flex")
    assert api_for("consumer01@demo.flex").post(f"{URL}/emergency-stop/", {"reason": "x"}).status_code == 403
    assert operator.post(f"{URL}/emergency-stop/", {}).status_code == 400
    assert operator.post(f"{URL}/emergency-stop/", {"reason": "frequency excursion"}).status_code == 201
    assert operator.get(f"{URL}/emergency-stop/").json()["engaged"] is True
    start, end = _times()
    r = operator.post(
        f"{URL}/events/",
        {"program": "peak-saver", "premise": act_world.premises[0].pk, "target_kw": "1", "start": start, "end": end},
        format="json",
    )
    assert r.status_code == 409 and r.json()["code"] == "emergency_stop"
    assert operator.delete(f"{URL}/emergency-stop/").status_code == 403
    r = admin.delete(f"{URL}/emergency-stop/", {"reason": "resolved"}, format="json")
    assert r.status_code == 200 and r.json()["lifted_by"] == "admin@demo.flex"
    log = operator.get(f"{URL}/emergency-stop/").json()
    assert log["engaged"] is False and log["log"][0]["engaged_by"] == "operator@demo.flex"
    assert EmergencyStop.objects.count() == 1


def test_cascade_emergency_event_and_grid_signal_endpoints(act_world, api_for):
    operator = api_for("operator@demo.flex")
    start, end = _times(minutes=1)
    r = operator.post(
        f"{URL}/emergency-events/",
        {"program": "emergency-east", "zone": "sub-east-2", "start": start, "end": end},
        format="json",
    )
    assert r.status_code == 201 and len(r.json()) == 2 and all(e["source"] == "emergency" for e in r.json())
    assert api_for("aggregator@demo.flex").post(f"{URL}/emergency-events/", {}, format="json").status_code == 403
    act_world.program.notice_minutes = 0
    act_world.program.save()
    r = operator.post(
        f"{URL}/cascades/",
        {"program": "peak-saver", "zone": "sub-east-1", "target_kw": "20", "start": start, "end": end},
        format="json",
    )
    assert r.status_code == 201 and r.json()["steps"][0]["action"] == "dispatch"
    assert len(operator.get(f"{URL}/cascades/").json()["results"]) == 1
    r = operator.post(
        f"{URL}/grid-signals/",
        {"zone": "sub-east-1", "kind": "frequency", "at": start, "value": "59.95"},
        format="json",
    )
    assert r.status_code == 201 and r.json()["fired"] == []
    assert (
        operator.post(
            f"{URL}/grid-signals/", {"zone": "sub-east-1", "kind": "voltage", "at": start, "value": "1"}, format="json"
        ).status_code
        == 400
    )
