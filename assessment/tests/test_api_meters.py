"""Meter data API: uploads through REST, who may read and write which meters."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from assessment.models import ImportBatch, MeterReading

ESPI = (Path(__file__).parent / "data" / "espi_sample.xml").read_bytes()
CSV = b"meter_id,start,kwh\nA-1,2026-01-05T05:00Z,1.0\nA-1,2026-01-05T05:15Z,2.0\n"


def _csv_upload(client, data=CSV, **extra):
    return client.post(
        "/api/v1/assessment/readings/csv/",
        {"file": SimpleUploadedFile("jan.csv", data, "text/csv"), **extra},
        format="multipart",
    )


def test_consumer_cannot_read_another_consumers_meters(meter_world, api_for):
    bob = api_for("bob@t.test")
    assert _csv_upload(api_for("alice@t.test")).status_code == 201
    assert [m["meter_id"] for m in bob.get("/api/v1/assessment/meters/").json()["results"]] == ["B-1"]
    for suffix in ("readings/?start=2026-01-05T00:00Z&end=2026-01-06T00:00Z", "revisions/", "status/", "consumption/"):
        response = bob.get(f"/api/v1/assessment/meters/A-1/{suffix}")
        assert response.status_code == 404, suffix
        assert response.json()["code"] == "not_found"
    assert api_for(None).get("/api/v1/assessment/meters/A-1/revisions/").status_code in (401, 403)
    own = api_for("alice@t.test").get(
        "/api/v1/assessment/meters/A-1/readings/?start=2026-01-05T00:00Z&end=2026-01-06T00:00Z"
    )
    assert own.status_code == 200 and [r["kwh"] for r in own.json()["results"]] == ["1.0000", "2.0000"]


def test_visibility_by_role(meter_world, api_for):
    def meters(email):
        return sorted(m["meter_id"] for m in api_for(email).get("/api/v1/assessment/meters/").json()["results"])

    assert meters("agg@t.test") == ["A-1"]  # only the enrolled premise
    assert meters("op@t.test") == ["A-1", "B-1"]  # its zones
    assert meters("far-op@t.test") == []
    assert meters("admin@t.test") == ["A-1", "B-1"]


def test_operator_reads_but_never_writes(meter_world, api_for):
    op = api_for("op@t.test")
    assert _csv_upload(op).status_code == 403
    batch = op.post(
        "/api/v1/assessment/readings/",
        {"readings": [{"meter_id": "A-1", "start": "2026-01-05T05:00Z", "kwh": "1"}]},
        format="json",
    )
    assert batch.status_code == 403
    assert op.get("/api/v1/assessment/meters/A-1/consumption/").status_code == 200
    assert MeterReading.objects.count() == 0


def test_csv_upload_with_one_bad_record_imports_nothing_and_names_it(meter_world, api_for):
    bad = CSV + b"A-1,2026-01-05T05:30Z,lots\n"
    response = _csv_upload(api_for("alice@t.test"), bad)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "import_rejected"
    assert body["fields"] == {
        "records": ["line 4: kwh 'lots' is not a number"],
        "problems": ["kwh is not a number: 1 record (line 4)"],
    }
    assert MeterReading.objects.count() == 0


def test_espi_upload_with_one_bad_record_imports_nothing_and_names_it(meter_world, api_for):
    alice = api_for("alice@t.test")
    bad = ESPI.replace(b"<espi:value>405</espi:value>", b"<espi:value>-405</espi:value>")
    response = alice.post(
        "/api/v1/assessment/meters/A-1/espi/",
        {"file": SimpleUploadedFile("gb.xml", bad, "application/xml")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["records"] == ["IntervalBlock 1 (entry 7) IntervalReading 3: negative energy"]
    assert MeterReading.objects.count() == 0
    ok = alice.post(
        "/api/v1/assessment/meters/A-1/espi/",
        {"file": SimpleUploadedFile("gb.xml", ESPI, "application/xml")},
        format="multipart",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["rows_new"] == 4 and ok.json()["source"] == "espi"
    # Bob cannot upload into Alice's meter, and cannot tell it from a meter that does not exist.
    answers = [
        api_for("bob@t.test").post(
            f"/api/v1/assessment/meters/{meter_id}/espi/",
            {"file": SimpleUploadedFile("gb.xml", ESPI, "application/xml")},
            format="multipart",
        )
        for meter_id in ("A-1", "NO-SUCH-METER")
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json()["detail"].replace("A-1", "?") == answers[1].json()["detail"].replace("NO-SUCH-METER", "?")


def test_json_batch_and_revision_history(meter_world, api_for):
    agg = api_for("agg@t.test")
    url = "/api/v1/assessment/readings/"
    body = {"readings": [{"meter_id": "A-1", "start": "2026-01-05T05:00:00Z", "kwh": "1.5"}]}
    assert agg.post(url, body, format="json").json()["rows_new"] == 1
    assert agg.post(url, body, format="json").json()["rows_unchanged"] == 1
    body["readings"][0]["kwh"] = "1.75"
    assert agg.post(url, body, format="json").json()["rows_revised"] == 1
    history = agg.get("/api/v1/assessment/meters/A-1/revisions/").json()["results"]
    assert [(h["old_kwh"], h["new_kwh"], h["source"]) for h in history] == [("1.5000", "1.7500", "json")]
    bad = agg.post(url, {"readings": []}, format="json")
    assert bad.status_code == 400 and "readings" in bad.json()["fields"]
    assert ImportBatch.objects.count() == 3


@pytest.mark.postgres
@override_settings(METER_BULK_IMPORT_MIN_BYTES=10)
def test_large_csv_upload_goes_through_copy(meter_world, api_for):
    response = _csv_upload(api_for("alice@t.test"), CSV, account_number="ACCT-ALICE-1")
    assert response.status_code == 201
    assert response.json()["source"] == "bulk" and response.json()["rows_new"] == 2
    bad = _csv_upload(api_for("alice@t.test"), CSV + b"A-1,2026-01-05T05:30Z,-3\n")
    assert bad.status_code == 400 and bad.json()["fields"]["records"] == ["line 4: negative energy -3 kWh"]


def test_meter_registration(meter_world, api_for):
    url = "/api/v1/assessment/meters/"
    body = {"premise": meter_world.alice_site.pk, "meter_id": "A-2", "kind": "sub_meter", "interval_minutes": 5,
            "has_export_channel": True}  # fmt: skip
    created = api_for("alice@t.test").post(url, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json() == {"meter_id": "A-2", "premise": "Alice home", "kind": "sub_meter", "interval_minutes": 5,
                              "has_export_channel": True, "timezone": "America/New_York"}  # fmt: skip
    assert api_for("bob@t.test").post(url, {**body, "meter_id": "A-3"}, format="json").status_code == 404
    assert api_for("op@t.test").post(url, {**body, "meter_id": "A-3"}, format="json").status_code == 403
    bad = api_for("alice@t.test").post(url, {**body, "meter_id": "A-3", "interval_minutes": 10}, format="json")
    assert bad.status_code == 400 and "interval_minutes" in bad.json()["fields"]
    taken = api_for("bob@t.test").post(url, {**body, "premise": meter_world.bob_site.pk}, format="json")
    assert taken.status_code == 400 and taken.json()["fields"] == {"meter_id": ["Taken."]}
