"""A household registers its battery for S2 control (ADR 0039) in the portal's device step: the channel is offered,
a non-battery or an address that is not the energy manager's WebSocket URL is refused with the field named."""

from __future__ import annotations

from accounts.models import Device, GridZone, Premise

from .test_onboarding import BATTERY, PREMISE, _new_consumer


def test_the_device_step_registers_an_s2_battery_and_names_the_wrong_field(small_world):
    _, client = _new_consumer("s2home@t.flex")
    assert client.post("/onboarding/account/", {"name": "S2 Home"}).status_code == 302
    feeder = GridZone.objects.get(code="feeder-e1a")
    assert client.post("/onboarding/premise/", {**PREMISE, "grid_zone": feeder.pk}).status_code == 302
    site = Premise.objects.get(name="New site")
    page = client.get("/onboarding/devices/")
    assert b'value="s2"' in page.content and "S2 (EN 50491-12-2)" in page.content.decode()
    s2 = {**BATTERY, "premise": site.pk, "control_channel": "s2"}
    refused = client.post("/onboarding/devices/", {**s2, "channel_address": "cem.local"})
    assert refused.status_code == 200 and "WebSocket URL" in refused.content.decode()
    heat = {**s2, "kind": "hvac", "name": "Heat pump", "channel_address": "ws://cem.local:9100/s2"}
    refused = client.post("/onboarding/devices/", heat)
    assert refused.status_code == 200 and "battery storage only" in refused.content.decode()
    assert not Device.objects.filter(premise=site).exists()
    added = client.post("/onboarding/devices/", {**s2, "channel_address": "ws://cem.local:9100/s2"})
    assert added.status_code == 302
    device = Device.objects.get(premise=site, name="Garage battery")
    assert (device.control_channel, device.channel_address) == ("s2", "ws://cem.local:9100/s2")
