"""Portal pages: operator console (create, live, emergency stop), consumer events with opt-out, aggregator view."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from activation import services
from activation.models import DREvent, EmergencyStop, OptOut

pytestmark = pytest.mark.django_db


def _client(w, email):
    c = Client()
    c.force_login(w.user(email))
    return c


def test_operator_console_creates_event_watches_live_and_stops(act_world):
    w = act_world
    op = _client(w, "operator@demo.flex")
    assert op.get("/activation/console/").status_code == 200
    assert _client(w, "consumer01@demo.flex").get("/activation/console/").status_code == 403
    start = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    r = op.post(
        "/activation/console/events/",
        {
            "program": "peak-saver",
            "premise": w.premises[3].pk,
            "target_kw": "10",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 302 and DREvent.objects.filter(premise=w.premises[3], status="notified").exists()
    live = op.get("/activation/console/live/").content.decode()
    assert w.premises[3].name in live and "0/1" in live  # one device command, not yet acknowledged
    confirm = op.get("/activation/console/emergency-stop/").content.decode()
    assert "1 active event" in confirm or "scheduled event" in confirm  # names what it halts before it does
    unconfirmed = op.post("/activation/console/emergency-stop/", {"reason": "drill"})
    assert unconfirmed.status_code == 400 and services.emergency_stop_active() is None  # the box was not ticked
    op.post("/activation/console/emergency-stop/", {"reason": "drill", "confirm": "yes"})
    assert "EMERGENCY STOP ENGAGED" in op.get("/activation/console/").content.decode()
    op.post("/activation/console/emergency-stop/", {"action": "lift", "reason": "x"})  # refused for operators
    assert services.emergency_stop_active() is not None
    _client(w, "admin@demo.flex").post(
        "/activation/console/emergency-stop/", {"action": "lift", "reason": "drill over"}
    )
    assert EmergencyStop.objects.get().lifted_at is not None


def test_consumer_sees_upcoming_events_and_opts_out(act_world):
    w = act_world
    now = timezone.now()
    event = services.event_create(
        program=w.program,
        premise=w.premises[0],
        target_kw=Decimal("2"),
        start=now + timedelta(hours=1),
        end=now + timedelta(hours=2),
        now=now,
    )
    c = _client(w, "consumer01@demo.flex")
    page = c.get("/activation/my-events/").content.decode()
    assert f"/activation/my-events/{event.pk}/opt-out/" in page
    assert _client(w, "consumer02@demo.flex").post(f"/activation/my-events/{event.pk}/opt-out/").status_code == 404
    preview = c.post(f"/activation/my-events/{event.pk}/opt-out/").content.decode()  # no confirmation: a preview
    assert "Confirm opt-out" in preview and not OptOut.objects.filter(event=event).exists()
    c.post(f"/activation/my-events/{event.pk}/opt-out/", {"confirm": "yes"})
    assert OptOut.objects.get(event=event).phase == "before"
    page = c.get("/activation/my-events/").content.decode()
    assert "opted out (before)" in page


def test_aggregator_portfolio_page(act_world):
    w = act_world
    now = timezone.now()
    services.event_create(
        program=w.program,
        premise=w.premises[1],
        target_kw=Decimal("2"),
        start=now + timedelta(hours=1),
        end=now + timedelta(hours=2),
        now=now,
    )
    page = _client(w, "aggregator@demo.flex").get("/activation/portfolio/").content.decode()
    assert w.premises[1].name in page
    assert re.search(r"<td>1</td><td>2(\.000)?</td>", page)  # one resource, 2 kW asked


def test_console_times_come_from_pickers_in_the_premises_local_time_and_bad_ones_change_nothing(act_world):
    from zoneinfo import ZoneInfo

    w = act_world
    op = _client(w, "operator@demo.flex")
    premise = w.premises[3]
    premise.timezone = "America/New_York"
    premise.save(update_fields=["timezone"])
    tz = ZoneInfo("America/New_York")
    start = (timezone.now() + timedelta(hours=2)).astimezone(tz).replace(minute=0, second=0, microsecond=0)
    form = {"program": "peak-saver", "premise": premise.pk, "target_kw": "10"}
    page = op.post("/activation/console/events/", {**form, "start": "06/12/2026 08:15", "end": ""}, follow=True)
    assert "Start: pick a date and time." in page.content.decode()
    assert not DREvent.objects.filter(premise=premise).exists()
    picked = {"start": start.strftime("%Y-%m-%dT%H:%M"), "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    assert op.post("/activation/console/events/", {**form, **picked}).status_code == 302
    event = DREvent.objects.get(premise=premise)
    assert event.start == start  # the picked wall-clock time in New York, stored as that instant
