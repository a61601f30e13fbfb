"""Device registry through the API: owners, their aggregator and admins register; operators only read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.device_services import device_register, premise_controllable_kw
from accounts.models import Device
from flexplatform.errors import ApplicationError, NotPermitted

BATTERY = {
    "name": "Powerwall", "kind": "battery", "control_channel": "vendor_api", "rated_kw": "5", "min_kw": "0",
    "max_kw": "5", "capacity_kwh": "13.5", "soc_min_percent": "20", "soc_max_percent": "100", "soc_percent": "40",
}  # fmt: skip


def test_register_list_and_capability(meter_world, api_for):
    alice = api_for("alice@t.test")
    created = alice.post("/api/v1/accounts/devices/", {**BATTERY, "premise": meter_world.alice_site.pk}, format="json")
    assert created.status_code == 201, created.json()
    device_id = created.json()["id"]
    cap = alice.get(f"/api/v1/accounts/devices/{device_id}/capability/?event_minutes=120").json()
    assert cap["kw"] == "1.350" and cap["reasons"][-1] == "Counted: 1.350 kW."
    # A repeat updates the same device (new SoC), never a second one.
    again = alice.post(
        "/api/v1/accounts/devices/",
        {**BATTERY, "soc_percent": "90", "premise": meter_world.alice_site.pk},
        format="json",
    )
    assert again.json()["id"] == device_id and Device.objects.count() == 1
    assert [d["name"] for d in api_for("agg@t.test").get("/api/v1/accounts/devices/").json()["results"]] == [
        "Powerwall"
    ]
    assert api_for("op@t.test").get(f"/api/v1/accounts/devices/{device_id}/capability/").status_code == 200
    assert api_for("bob@t.test").get("/api/v1/accounts/devices/").json()["results"] == []
    assert api_for("bob@t.test").get(f"/api/v1/accounts/devices/{device_id}/capability/").status_code == 404


def test_refusals(meter_world, api_for):
    url = "/api/v1/accounts/devices/"
    body = {**BATTERY, "premise": meter_world.alice_site.pk}
    assert api_for("bob@t.test").post(url, body, format="json").status_code == 404  # not his premise
    assert api_for("op@t.test").post(url, body, format="json").status_code == 403
    bad = api_for("alice@t.test").post(url, {**body, "max_kw": "6"}, format="json")
    assert bad.status_code == 400 and bad.json()["fields"] == {"max_kw": ["Need 0 <= min_kw <= max_kw <= rated_kw."]}
    no_soc = api_for("alice@t.test").post(url, {**body, "soc_min_percent": None}, format="json")
    assert no_soc.status_code == 400 and "capacity_kwh" in no_soc.json()["fields"]
    assert Device.objects.count() == 0


def test_service_permissions_and_premise_total(meter_world):
    with pytest.raises(NotPermitted):
        device_register(premise=meter_world.bob_site, user=meter_world.users["agg"], name="x", kind="pool_pump",
                        control_channel="mqtt", rated_kw=Decimal("1"), max_kw=Decimal("1"))  # fmt: skip
    with pytest.raises(ApplicationError):
        device_register(premise=meter_world.bob_site, name="x", kind="toaster", control_channel="mqtt",
                        rated_kw=Decimal("1"), max_kw=Decimal("1"))  # fmt: skip
    device_register(premise=meter_world.bob_site, name="Pump", kind="pool_pump", control_channel="mqtt",
                    rated_kw=Decimal("1.5"), max_kw=Decimal("1.5"))  # fmt: skip
    device_register(premise=meter_world.bob_site, name="Panel", kind="pv_inverter", control_channel="vendor_api",
                    rated_kw=Decimal("6"), max_kw=Decimal("6"))  # fmt: skip
    assert premise_controllable_kw(meter_world.bob_site) == Decimal("1.500")


def test_an_mqtt_device_gets_its_broker_credentials_once(meter_world, api_for):
    from accounts.models import DeviceCredential

    alice = api_for("alice@t.test")
    body = {**BATTERY, "control_channel": "mqtt", "premise": meter_world.alice_site.pk}
    created = alice.post("/api/v1/accounts/devices/", body, format="json").json()
    assert created["mqtt_username"] == f"dev-{created['id']}" and len(created["mqtt_password"]) >= 24
    credential = DeviceCredential.objects.get(device_id=created["id"])
    assert credential.password_hash.startswith("$7$101$") and created["mqtt_password"] not in credential.password_hash
    again = alice.post("/api/v1/accounts/devices/", body, format="json").json()
    assert "mqtt_password" not in again and "mqtt_username" not in again
    assert alice.get("/api/v1/accounts/devices/").json()["results"][0].get("mqtt_password") is None


def test_an_ocpp_station_gets_its_csms_credentials_once_and_they_stay_off_the_broker(meter_world, api_for):
    from accounts.device_credentials import mqtt_password_file, station_authenticate
    from accounts.models import DeviceCredential

    alice = api_for("alice@t.test")
    charger = {
        "name": "Charger", "kind": "ev_charger", "control_channel": "ocpp", "channel_address": "CP-ALICE",
        "rated_kw": "7.4", "max_kw": "7.4", "premise": meter_world.alice_site.pk,
    }  # fmt: skip
    created = alice.post("/api/v1/accounts/devices/", charger, format="json").json()
    assert created["ocpp_station_id"] == "CP-ALICE" and len(created["ocpp_password"]) >= 16
    assert "mqtt_password" not in created
    credential = DeviceCredential.objects.get(device_id=created["id"])
    assert credential.password_hash.startswith("$7$") and created["ocpp_password"] not in credential.password_hash
    assert station_authenticate(station_id="CP-ALICE", password=created["ocpp_password"]) == (
        created["id"],
        meter_world.alice_site.pk,
    )
    assert station_authenticate(station_id="CP-ALICE", password=created["ocpp_password"][:-1]) is None
    assert "CP-ALICE" not in mqtt_password_file()  # a station is no broker account
    again = alice.post("/api/v1/accounts/devices/", charger, format="json").json()
    assert "ocpp_password" not in again


def test_an_ocpp_station_id_cannot_be_claimed_by_a_second_device(meter_world, api_for):
    """A station id is the station's username on the CSMS: another device registering it could sign in as that
    station and take its commands, so the registration is refused."""
    charger = {
        "kind": "ev_charger", "control_channel": "ocpp", "channel_address": "CP-SHARED", "rated_kw": "7.4",
        "max_kw": "7.4",
    }  # fmt: skip
    alice = api_for("alice@t.test")
    first = alice.post(
        "/api/v1/accounts/devices/", {**charger, "name": "Mine", "premise": meter_world.alice_site.pk}, format="json"
    )
    assert first.status_code == 201
    # Refused: the same station id for another device, at another premise or the same one.
    for premise, name in ((meter_world.bob_site, "Theirs"), (meter_world.alice_site, "Second")):
        with pytest.raises(ApplicationError) as exc:
            device_register(premise=premise, name=name, control_channel="ocpp", **{
                k: (Decimal(v) if k.endswith("kw") else v) for k, v in charger.items() if k != "control_channel"
            })  # fmt: skip
        assert exc.value.fields == {"channel_address": ["Already registered."]}
    assert Device.objects.filter(channel_address="CP-SHARED").count() == 1
    # The device itself may be registered again (an update).
    again = alice.post(
        "/api/v1/accounts/devices/", {**charger, "name": "Mine", "premise": meter_world.alice_site.pk}, format="json"
    )
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
