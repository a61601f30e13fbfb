"""A cascade in another operator's zone is refused the same way whatever the entry point (``accounts.policies``
via ``activation.services.cascade_start``): the REST API (403) and the dispatch console's form (refused, nothing
started, nothing paid)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from accounts import services as accounts_services
from accounts.mfa import totp_activate
from accounts.models import Organisation
from activation import services
from activation.models import Cascade, DREvent
from flexplatform.errors import NotPermitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def west(act_world):
    """West DSO serves its own ISO zone; every enrolled premise of the world is in the East's."""
    iso = accounts_services.zone_create(code="iso-west", name="ISO West")
    org = accounts_services.organisation_create(
        name="West DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[iso]
    )
    user = accounts_services.user_create(email="west@t.flex", password="x-pass-123", organisation=org)
    totp_activate(user=user, secret="JBSWY3DPEHPK3PXP")  # operators use the portal with a second factor
    act_world.program.notice_minutes = 0
    act_world.program.save(update_fields=["notice_minutes"])
    return act_world


def _body():
    start = (timezone.now() + timedelta(minutes=5)).replace(microsecond=0)
    return {
        "program": "peak-saver",
        "zone": "sub-east-1",
        "target_kw": "20",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }


def test_api_refuses_a_cascade_in_another_operators_zone(west, api_for):
    r = api_for("west@t.flex").post("/api/v1/activation/cascades/", _body(), format="json")
    assert r.status_code == 403 and r.json()["fields"] == {"zone": ["Not in your service area."]}
    assert not Cascade.objects.exists() and not DREvent.objects.exists()
    # the operator serving the zone may
    assert api_for("operator@demo.flex").post("/api/v1/activation/cascades/", _body(), format="json").status_code == 201


def test_console_form_refuses_a_cascade_in_another_operators_zone(west):
    client = Client()
    client.force_login(west.user("west@t.flex"))
    r = client.post("/activation/console/cascades/", _body())
    assert r.status_code == 302 and r.url == "/activation/console/"
    assert [str(m) for m in get_messages(r.wsgi_request)] == ["Refused: That zone is outside your service area."]
    assert not Cascade.objects.exists() and not DREvent.objects.exists()
    east = Client()
    east.force_login(west.user("operator@demo.flex"))
    east.post("/activation/console/cascades/", _body())
    assert Cascade.objects.get().created_by == west.user("operator@demo.flex")


def _window():
    b = _body()
    return {"start": datetime.fromisoformat(b["start"]), "end": datetime.fromisoformat(b["end"])}


def test_service_refuses_any_caller_outside_the_zone(west):
    b = _window()
    zone = west.premises[0].grid_zone
    kwargs = dict(program=west.program, zone=zone, target_kw=20, start=b["start"], end=b["end"])
    for email in ("west@t.flex", "aggregator@demo.flex", "consumer01@demo.flex"):
        with pytest.raises(NotPermitted):
            services.cascade_start(**kwargs, user=west.user(email))
    assert not Cascade.objects.exists()


def test_emergency_events_are_refused_outside_the_callers_zones(west):
    b = _window()
    with pytest.raises(NotPermitted):
        services.emergency_event_create(
            program=west.emergency,
            zone=west.premises[0].grid_zone,
            start=b["start"],
            end=b["end"],
            user=west.user("west@t.flex"),
        )
    assert not DREvent.objects.exists()
