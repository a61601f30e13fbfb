"""The onboarding wizard: account -> premise -> meter -> consent -> devices -> KYC upload, through the portal.

Refusals first: a meter id registered elsewhere, a bad timezone, a device whose range exceeds its rating, another
consumer's premise; each leaves nothing behind and the progress unchanged."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import Consent, Device, GridZone, Meter, Organisation, Premise, VerificationCase

PREMISE = {
    "name": "New site",
    "segment": "residential",
    "address": "1 New St",
    "utility_account_number": "UA-9",
    "utility_account_holder": "New Home",
    "tariff": "TOU-A",
    "timezone": "America/New_York",
}
METER = {
    "meter_id": "NEW-M-1",
    "kind": "ami",
    "interval_minutes": "15",
    "has_export_channel": "on",
    "timezone": "America/New_York",
}
BATTERY = {
    "name": "Garage battery",
    "kind": "battery",
    "control_channel": "vendor_api",
    "channel_address": "vendor-42",
    "rated_kw": "5",
    "min_kw": "0",
    "max_kw": "5",
    "min_event_minutes": "15",
    "max_event_minutes": "240",
    "notice_minutes": "0",
    "max_events_per_day": "1",
    "max_events_per_month": "20",
    "rebound_percent": "0",
    "rebound_minutes": "0",
    "capacity_kwh": "10",
    "soc_min_percent": "20",
    "soc_max_percent": "100",
    "soc_percent": "50",
}


def _percent(response) -> int:
    return int(re.search(rb'data-testid="progress">(\d+) % done', response.content).group(1))


def _done(response) -> dict[str, bool]:
    return {
        k.decode(): v == b"yes" for k, v in re.findall(rb'data-step="(\w+)" data-done="(yes|no)"', response.content)
    }


def _new_consumer(email="new@t.flex"):
    user = get_user_model().objects.create_user(username=email, email=email, password="x-pass-123")
    client = Client()
    client.force_login(user)
    return user, client


def test_meter_and_device_steps_refuse_bad_input_and_change_nothing(small_world):
    _, client = _new_consumer()
    assert client.post("/onboarding/account/", {"name": "New Home"}).status_code == 302
    feeder = GridZone.objects.get(code="feeder-e1a")
    assert client.post("/onboarding/premise/", {**PREMISE, "grid_zone": feeder.pk}).status_code == 302
    site = Premise.objects.get(name="New site")
    before = client.get("/onboarding/meter/")
    assert _done(before)["meter"] is False and _percent(before) == 40  # 2 of 5 required steps (consent optional)
    # A meter id already registered at another premise is refused.
    taken = client.post("/onboarding/meter/", {**METER, "premise": site.pk, "meter_id": "MTR-0001"})
    assert taken.status_code == 200 and b"already registered at another premise" in taken.content
    for zone_name in ("Mars/Olympus", "America"):  # "America" is a folder of the tz database, not a zone
        bad_tz = client.post("/onboarding/meter/", {**METER, "premise": site.pk, "timezone": zone_name})
        assert bad_tz.status_code == 200 and b"Unknown timezone" in bad_tz.content
    # Someone else's premise is not among the choices.
    theirs = client.post("/onboarding/meter/", {**METER, "premise": small_world.premises[0].pk})
    assert theirs.status_code == 200 and b"Select a valid choice" in theirs.content
    assert not Meter.objects.filter(premise=site).exists()
    assert _done(client.get("/onboarding/meter/"))["meter"] is False
    # Devices: a range beyond the rating, a battery without capacity; nothing registered.
    over = client.post("/onboarding/devices/", {**BATTERY, "premise": site.pk, "max_kw": "9"})
    assert over.status_code == 200 and b"max_kw &lt;= rated_kw" in over.content
    no_capacity = client.post("/onboarding/devices/", {**BATTERY, "premise": site.pk, "capacity_kwh": ""})
    assert no_capacity.status_code == 200 and b"A battery needs capacity_kwh" in no_capacity.content
    mine = client.post("/onboarding/devices/", {**BATTERY, "premise": small_world.premises[0].pk})
    assert mine.status_code == 200 and b"Select a valid choice" in mine.content
    assert not Device.objects.filter(name="Garage battery").exists()
    assert _percent(client.get("/onboarding/")) == 40


def test_wizard_walks_a_new_consumer_through_every_step(small_world):
    user, client = _new_consumer()
    first = client.get("/onboarding/", follow=True)
    assert b'data-testid="step-account"' in first.content and _percent(first) == 0
    # An existing organisation's name is refused, never joined.
    taken = client.post("/onboarding/account/", {"name": "Household 01"})
    assert taken.status_code == 200 and not Organisation.objects.filter(memberships__user=user).exists()
    assert client.post("/onboarding/account/", {"name": "New Home"}).status_code == 302
    feeder = GridZone.objects.get(code="feeder-e1a")
    assert client.post("/onboarding/premise/", {**PREMISE, "grid_zone": feeder.pk}).status_code == 302
    site = Premise.objects.get(name="New site")
    # Meter: the wizard goes on to the meter step, which registers it with kind, interval, channels, timezone.
    step = client.get("/onboarding/")
    assert b'data-testid="step-meter"' in step.content
    assert client.post("/onboarding/meter/", {**METER, "premise": site.pk}).status_code == 302
    meter = Meter.objects.get(meter_id="NEW-M-1")
    assert (meter.premise, meter.kind, meter.interval_minutes, meter.has_export_channel, meter.timezone) == (
        site,
        "ami",
        15,
        True,
        "America/New_York",
    )
    after_meter = client.get("/onboarding/meter/")
    assert _done(after_meter)["meter"] and _percent(after_meter) == 60
    assert b"not validated yet" in after_meter.content  # no history yet: it cannot sell until validated
    # Consent, then devices.
    consent = {
        "premise": site.pk,
        "aggregator": small_world.aggregator.pk,
        "scopes": ["interval_readings"],
        "months": 6,
        "terms": small_world.aggregator.commercial_terms.get().pk,  # shown on the step, accepted
    }
    assert client.post("/onboarding/consent/", consent).status_code == 302
    assert Consent.objects.get(premise=site).expires_at > timezone.now() + timedelta(days=170)
    assert b'data-testid="step-devices"' in client.get("/onboarding/").content
    added = client.post("/onboarding/devices/", {**BATTERY, "premise": site.pk})
    assert added.status_code == 302 and "?device=" in added["Location"]
    device = Device.objects.get(premise=site, name="Garage battery")
    assert (device.control_channel, device.capacity_kwh, device.channel_address) == ("vendor_api", 10, "vendor-42")
    shown = client.get(added["Location"])
    # The capability assessment: 10 kWh x (50 % - 20 %) = 3 kWh over a 60-minute event -> 3 kW, and why.
    assert b'data-testid="capability-kw">3.000 kW' in shown.content
    assert b"State of charge 50.00% with a 20.00% floor" in shown.content
    assert _done(shown)["devices"] and _percent(shown) == 80
    # Another consumer cannot read this device's assessment through the query string.
    _, other = _new_consumer("other@t.flex")
    other.post("/onboarding/account/", {"name": "Other Home"})
    assert b'data-testid="capability"' not in other.get(added["Location"]).content
    kyc = {
        "legal_name": "New Home",
        "doc_type": "passport",
        "number": "N1",
        "issuing_country": "US",
        "expires_on": (timezone.now().date() + timedelta(days=800)).isoformat(),
    }
    assert client.post("/onboarding/kyc/", kyc).status_code == 302
    case = VerificationCase.objects.get(organisation__name="New Home")
    assert case.status == VerificationCase.Status.IN_REVIEW
    done = client.get("/onboarding/")
    assert _percent(done) == 100 and b'data-testid="done"' in done.content
    assert b'data-state="in review"' in done.content and b'data-testid="step-kyc"' not in done.content  # no empty form
    assert all(_done(done).values()) and len(_done(done)) == 6
