"""No 500 for anything a client can send (issue 20, item 4): NUL characters, oversized bodies, implausible dates,
unknown ids; a poisoned meter does not stop the others."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Meter
from assessment.models import MeterReading, MeterStatus

ERROR_KEYS = {"code", "detail", "fields"}


def _fields(response) -> dict:
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    return body["fields"]


@pytest.mark.django_db
def test_nul_characters_are_a_400_naming_the_field() -> None:
    client = APIClient()
    response = client.get("/api/v1/market/prices/?zone=a%00b")
    assert response.status_code == 400 and _fields(response) == {"zone": ["Null characters are not allowed."]}
    # In a JSON body (as \\u0000), however deep, and before authentication.
    for url in ("/api/v1/market/orders/", "/api/v1/market/requests/", "/api/v1/market/offers/"):
        response = client.post(url, {"zone": "sub\x00east", "kw": "1"}, format="json")
        assert response.status_code == 400, url
        assert _fields(response) == {"zone": ["Null characters are not allowed."]}
    nested = client.post("/api/v1/market/orders/", {"members": [{"premise": "1\x00"}]}, format="json")
    assert nested.status_code == 400 and list(_fields(nested)) == ["members[0].premise"]
    form = Client().post("/accounts/login/", {"login": "a\x00b", "password": "x"})
    assert form.status_code == 400 and _fields(form) == {"login": ["Null characters are not allowed."]}


@pytest.mark.django_db
def test_oversized_bodies_are_a_413_in_the_error_shape(settings) -> None:
    body = json.dumps({"zone": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    for url in ("/api/v1/market/orders/", "/api/v1/accounts/consents/", "/api/v1/settlement/proofs/verify/"):
        response = APIClient().generic("POST", url, body, content_type="application/json")
        assert response.status_code == 413, url
        assert response.json()["code"] == "too_large" and set(response.json()) == ERROR_KEYS


def test_implausible_dates_are_refused_naming_the_field(world, api_for) -> None:
    far, early = "9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z"
    cases = [
        ("operator@demo.flex", "/api/v1/activation/events/", {"start": far, "end": far}, {"start", "end"}),
        ("operator@demo.flex", "/api/v1/market/requests/", {"window_start": early, "window_end": far},
         {"window_start", "window_end"}),
        ("consumer01@demo.flex", "/api/v1/accounts/consents/", {"expires_at": far}, {"expires_at"}),
        ("consumer01@demo.flex", "/api/v1/settlement/stakes/", {"locked_until": far}, {"locked_until"}),
        ("consumer01@demo.flex", "/api/v1/assessment/availability/", {"valid_until": far}, {"valid_until"}),
    ]  # fmt: skip
    for email, url, body, names in cases:
        response = api_for(email).post(url, body, format="json")
        assert response.status_code == 400, (url, response.content)
        fields = _fields(response)
        for name in names:
            assert fields[name] == ["Dates must be from 2000-01-01 up to (not including) 2100-01-01."], (url, fields)
    capacity = api_for("operator@demo.flex").get("/api/v1/assessment/capacity/?day=9999-12-31")
    assert capacity.status_code == 400 and "day" in _fields(capacity)
    for year in ("0000", "9999"):
        statement = api_for("consumer01@demo.flex").get(f"/api/v1/settlement/statements/{year}/1.csv")
        assert statement.status_code == 400 and "year" in _fields(statement), year
        tax = api_for("admin@demo.flex").get(f"/api/v1/settlement/tax/{year}/us_1099.csv")
        assert tax.status_code in (400, 404), year


def test_a_reading_dated_9999_or_0001_is_refused_at_import(world, api_for) -> None:
    meter = Meter.objects.filter(premise__organisation__memberships__user__email="consumer01@demo.flex").first()
    before = MeterReading.objects.filter(meter=meter).count()
    for start in ("9999-12-31T23:45:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:45:00-05:00"):
        body = {"readings": [{"meter_id": meter.meter_id, "start": start, "kwh": "0.5"}]}
        response = api_for("consumer01@demo.flex").post("/api/v1/assessment/readings/", body, format="json")
        assert response.status_code == 400, (start, response.content)
        assert "2000-01-01" in json.dumps(response.json()), start
    csv = f"meter_id,start,kwh\n{meter.meter_id},9999-12-31T23:45:00Z,0.5\n".encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = api_for("consumer01@demo.flex").post(
        "/api/v1/assessment/readings/csv/", {"file": SimpleUploadedFile("r.csv", csv)}, format="multipart"
    )
    assert upload.status_code == 400
    assert MeterReading.objects.filter(meter=meter).count() == before


def test_unknown_ids_are_a_404(world, api_for) -> None:
    vote = api_for("consumer01@demo.flex").post("/api/v1/settlement/proposals/987654/votes/", {"support": True})
    assert vote.status_code == 404 and set(vote.json()) == ERROR_KEYS
    resolve = api_for("admin@demo.flex").post(
        "/api/v1/settlement/disputes/987654/resolve/", {"uphold": False, "resolution": "x"}, format="json"
    )
    assert resolve.status_code == 404 and set(resolve.json()) == ERROR_KEYS, resolve.content


def test_a_reading_stored_in_9999_does_not_break_its_meter_status(world) -> None:
    from assessment.services import meter_statuses_refresh

    meters = list(Meter.objects.order_by("pk"))
    poisoned = meters[0]
    # Stored before imports refused such dates (or by hand): it counts as no data.
    MeterReading.objects.create(meter=poisoned, start=datetime(9999, 12, 31, 23, 45, tzinfo=UTC), kwh="0.5")
    assert meter_statuses_refresh() == len(meters)
    assert MeterStatus.objects.get(meter=poisoned).latest_reading_start is None
    # The owner's consumption page still answers.
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.filter(memberships__organisation=poisoned.premise.organisation).first()
    page = Client()
    page.force_login(owner)
    response = page.get(f"/consumer/consumption/?meter={poisoned.meter_id}")
    assert response.status_code == 200


def test_one_failing_meter_does_not_stop_the_hourly_refresh(world, caplog) -> None:
    from assessment.services import meter_statuses_refresh

    meters = list(Meter.objects.order_by("pk"))
    broken = meters[0]
    Meter.objects.filter(pk=broken.pk).update(timezone="Nowhere/Atlantis")  # any per-meter failure
    with caplog.at_level(logging.ERROR, logger="assessment.services"):
        assert meter_statuses_refresh() == len(meters) - 1
    assert MeterStatus.objects.filter(meter__in=meters[1:]).count() == len(meters) - 1
    assert not MeterStatus.objects.filter(meter=broken).exists()
    assert any(broken.meter_id in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_the_order_endpoint_refuses_an_anonymous_body_unread(monkeypatch) -> None:
    from market.services import eligibility

    def must_not_read(data):
        raise AssertionError("the body of an anonymous order was read")

    monkeypatch.setattr(eligibility, "order_tokens", must_not_read)
    response = APIClient().post("/api/v1/market/orders/", {"zone": "sub-east-1"}, format="json")
    assert response.status_code in (401, 403) and set(response.json()) == ERROR_KEYS
