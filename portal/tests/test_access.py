"""The portal goes through the same rules as the API (``accounts.policies``): an operator acts and reads only in
the zones it serves (the dispatch console's cascade form, its cascade list and zone picker, the operator console's
clearing runs), and auditors read the operator, dispatch and settlement consoles and submit nothing there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

import demo
from accounts import services as accounts_services
from accounts.mfa import totp_activate
from accounts.models import GridZone, Membership, Organisation
from activation import services
from activation.models import Cascade

pytestmark = pytest.mark.django_db


@pytest.fixture
def west(act_world):
    iso = accounts_services.zone_create(code="iso-west", name="ISO West")
    org = accounts_services.organisation_create(
        name="West DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[iso]
    )
    user = accounts_services.user_create(email="west@t.flex", password="x-pass-123", organisation=org)
    totp_activate(user=user, secret=demo.TOTP_SECRET)  # operators use MFA (accounts.mfa)
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    accounts_services.user_create(
        email="auditor@t.flex", password="x-pass-123", organisation=platform, role=Membership.Role.AUDITOR
    )
    return iso


def _client(w, email):
    from django.contrib.auth import get_user_model

    c = Client()
    c.force_login(get_user_model().objects.get(email=email))
    return c


def _cascade_form(zone_code):
    start = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    return {
        "program": "peak-saver",
        "zone": zone_code,
        "target_kw": "5",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }


def _east_zone(w):
    return w.premises[0].grid_zone


def test_the_cascade_form_refuses_another_operators_zone(act_world, west):
    w = act_world
    page = _client(w, "west@t.flex")
    response = page.post("/activation/console/cascades/", _cascade_form(_east_zone(w).code), follow=True)
    assert "outside your service area" in response.content.decode()
    assert not Cascade.objects.exists()


def test_the_dispatch_console_shows_only_the_zones_and_cascades_one_serves(act_world, west):
    w = act_world
    east = _east_zone(w)
    services.cascade_start(
        program=w.program,
        zone=east,
        target_kw=5,
        start=timezone.now() + timedelta(hours=1),
        end=timezone.now() + timedelta(hours=2),
        user=w.user("operator@demo.flex"),
    )
    west_page = _client(w, "west@t.flex").get("/activation/console/")
    assert west_page.status_code == 200
    assert [z.code for z in west_page.context["zones"]] == ["iso-west"]
    assert list(west_page.context["cascades"]) == []
    east_page = _client(w, "operator@demo.flex").get("/activation/console/")
    assert east.code in {z.code for z in east_page.context["zones"]} and "iso-west" not in {
        z.code for z in east_page.context["zones"]
    }
    assert len(east_page.context["cascades"]) == 1
    assert GridZone.objects.filter(code="iso-west").exists()


def test_auditors_read_the_consoles_and_submit_nothing(act_world, west):
    w = act_world
    auditor = _client(w, "auditor@t.flex")
    for url in ("/operator/", "/activation/console/", "/activation/console/live/", "/compensation/console/"):
        page = auditor.get(url)
        assert page.status_code == 200, url
        assert 'method="post" action="/activation/' not in page.content.decode(), url  # no form to submit
        assert 'name="action" value="run"' not in page.content.decode(), url
    assert auditor.get("/").url == "/audit/"  # the auditor portal is their home
    assert auditor.post("/activation/console/cascades/", _cascade_form(_east_zone(w).code)).status_code == 403
    assert auditor.post("/activation/console/emergency-stop/", {"reason": "x"}).status_code == 403
    assert auditor.post("/compensation/console/", {"action": "tally"}).status_code == 403
    assert not Cascade.objects.exists()
    # other roles still cannot open the consoles
    assert _client(w, "consumer01@demo.flex").get("/operator/").status_code == 403
