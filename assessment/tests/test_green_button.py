"""Green Button files as utilities send them (fixtures in data/green_button/, see make_fixtures.py there):
exact totals, counts, per-local-month energy, the 23- and 25-hour days, gaps, both channels; problems reported
once each with their true count; the upload checks the meter before the body."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.db.models.functions import TruncMonth

from accounts import services as acc
from assessment.ingest.espi import parse_espi_stream
from assessment.ingest.greenbutton_csv import parse_green_button_csv
from assessment.ingest.services import ImportRejected
from assessment.ingest.store import green_button_import
from assessment.models import ImportBatch, MeterExportReading, MeterReading
from assessment.quality_window import meter_quality_window

DATA = Path(__file__).parent / "data" / "green_button"
OLDSTYLE = (DATA / "oldstyle_hourly.xml").read_bytes()
LINKED = (DATA / "linked_15min.xml").read_bytes()
CSV = (DATA / "download_my_data.csv").read_bytes()
TZ = "America/New_York"


@pytest.fixture
def meters(meter_world):
    site = meter_world.alice_site
    return {
        "hourly": acc.meter_create(premise=site, meter_id="A-HOURLY", interval_minutes=60),
        "net": acc.meter_create(premise=site, meter_id="A-NET", interval_minutes=15, has_export_channel=True),
        "user": meter_world.users["alice"],
    }


def _import(meters, name, data):
    return green_button_import(user=meters["user"], meter=meters[name], stream=io.BytesIO(data), filename="gb")


def _kwh(qs) -> Decimal:
    return qs.aggregate(total=Sum("kwh"))["total"]


def test_old_style_feed_without_links_hourly_accumulation_0(meters):
    batch = _import(meters, "hourly", OLDSTYLE)
    assert (batch.source, batch.rows_total, batch.rows_new, batch.rows_skipped) == ("espi", 70, 70, 0)
    readings = MeterReading.objects.filter(meter=meters["hourly"])
    assert readings.count() == 70
    assert _kwh(readings) == Decimal("57.008")
    by_month = dict(
        readings.annotate(month=TruncMonth("start", tzinfo=ZoneInfo(TZ)))
        .values_list("month")
        .annotate(total=Sum("kwh"))
        .values_list("month", "total")
    )
    assert {m.month: v for m, v in by_month.items()} == {10: Decimal("19.812"), 11: Decimal("37.196")}
    window = meter_quality_window(meter=meters["hourly"])
    assert (window.first_day, window.last_day, window.days) == (date(2026, 10, 31), date(2026, 11, 2), 3)
    assert (window.expected, window.present) == (24 + 25 + 24, 70)
    assert window.dst_days == [{"day": date(2026, 11, 1), "hours": 25, "expected": 25, "present": 25}]
    assert window.gap_count == 1
    gap = window.gaps[0]
    assert (gap["start"], gap["end"], gap["intervals"]) == (
        datetime(2026, 11, 2, 15, tzinfo=UTC),  # 10:00 EST
        datetime(2026, 11, 2, 18, tzinfo=UTC),
        3,
    )
    assert window.incomplete_days == [{"day": date(2026, 11, 2), "expected": 24, "present": 21}]
    again = _import(meters, "hourly", OLDSTYLE)
    assert (again.rows_new, again.rows_unchanged) == (0, 70)


def test_linked_feed_two_channels_qualities_gas_skipped_fall_back_day(meters):
    batch = _import(meters, "net", LINKED)
    assert (batch.rows_total, batch.rows_export) == (196 * 2, 196)
    assert batch.rows_skipped == 4 + 1  # four projected values, one gas reading
    assert batch.reading_qualities == {"estimated using reference day": 4, "projected (forecast)": 4}
    imported = MeterReading.objects.filter(meter=meters["net"])
    exported = MeterExportReading.objects.filter(meter=meters["net"])
    assert (imported.count(), exported.count()) == (196, 196)
    assert _kwh(imported) == Decimal("47.0030")  # values in 0.1 Wh (powerOfTenMultiplier -1)
    assert _kwh(exported) == Decimal("3.3170")
    window = meter_quality_window(meter=meters["net"])
    assert window.dst_days == [{"day": date(2026, 11, 1), "hours": 25, "expected": 100, "present": 100}]
    assert (window.expected, window.present, window.gap_count) == (196, 196, 0)


def test_export_readings_skipped_for_a_meter_without_export_channel(meter_world):
    meter = acc.meter_create(premise=meter_world.alice_site, meter_id="A-IMPORT", interval_minutes=15)
    batch = green_button_import(user=meter_world.users["alice"], meter=meter, stream=io.BytesIO(LINKED))
    assert (batch.rows_total, batch.rows_export, batch.rows_skipped) == (196, 0, 196 + 5)
    assert not MeterExportReading.objects.exists()


def test_utility_csv_download_with_spring_forward_day(meters):
    batch = _import(meters, "hourly", CSV)
    assert (batch.source, batch.rows_new, batch.account_number) == ("gbcsv", 71, "ACCT-ALICE-1")
    assert _kwh(MeterReading.objects.filter(meter=meters["hourly"])) == Decimal("19.538")
    window = meter_quality_window(meter=meters["hourly"], first_day=date(2026, 3, 7), last_day=date(2026, 3, 9))
    assert window.dst_days == [{"day": date(2026, 3, 8), "hours": 23, "expected": 23, "present": 23}]
    assert (window.expected, window.present, window.gap_count) == (71, 71, 0)


def test_utility_csv_fall_back_hour_given_twice_is_read_in_order():
    text = (
        b"Account Number,X\n\nTYPE,DATE,START TIME,END TIME,USAGE,UNITS\n"
        b"Electric usage,2026-11-01,00:00,00:59,1.0,kWh\n"
        b"Electric usage,2026-11-01,01:00,01:59,2.0,kWh\n"  # EDT
        b"Electric usage,2026-11-01,01:00,01:59,3.0,kWh\n"  # EST, one hour later
        b"Electric usage,2026-11-01,02:00,02:59,4.0,kWh\n"
        b"Electric usage,2026-03-08,02:00,02:59,4.0,kWh\n"  # does not exist in New York
    )
    file = parse_green_button_csv(text, interval_seconds=3600, tz=TZ)
    starts, values, _ = file.channels["import"].sorted_arrays()
    assert [datetime.fromtimestamp(s, tz=UTC).hour for s in starts] == [4, 5, 6, 7]
    assert values.tolist() == [10000, 20000, 30000, 40000]
    assert [str(e) for e in file.errors] == [
        "line 8: 2026-03-08 02:00 does not exist in America/New_York (clocks go forward)"
    ]


def test_register_and_net_readings_are_refused_once_with_their_count(meters):
    bulk = OLDSTYLE.replace(b"<espi:accumulationBehaviour>0<", b"<espi:accumulationBehaviour>1<")
    with pytest.raises(ImportRejected) as exc:
        _import(meters, "hourly", bulk)
    assert exc.value.fields["records"] == [
        "ReadingType (entry 3): accumulationBehaviour 1 (bulkQuantity): not energy per interval; send interval "
        "data (deltaData, 4, or 0)"
    ]
    net = LINKED.replace(b"<espi:flowDirection>19<", b"<espi:flowDirection>4<")
    with pytest.raises(ImportRejected) as exc:
        _import(meters, "net", net)
    assert exc.value.fields["problems"] == ["net readings: 1 record (ReadingType (entry 5))"]
    assert not ImportBatch.objects.exists()


def test_many_bad_readings_one_line_per_problem_with_the_true_count(meters):
    negative = OLDSTYLE.replace(b"<espi:value>", b"<espi:value>-")
    count = 70
    file = parse_espi_stream(negative, interval_seconds=3600)
    assert file.problems.counts == {"negative energy": count}
    with pytest.raises(ImportRejected) as exc:
        _import(meters, "hourly", negative)
    (summary,) = exc.value.fields["problems"]
    assert summary.startswith(f"negative energy: {count} records (IntervalBlock 1 (entry 4) IntervalReading 1, ")
    assert len(exc.value.fields["records"]) == 3
    assert f"{count} bad records, 1 distinct problem" in exc.value.detail
    many = "meter_id,start,kwh\n" + "A-1,2026-01-05T05:00,1\n" * 5000  # 5,000 lines without a UTC offset
    from assessment.ingest.csvfile import parse_csv

    assert parse_csv(many).problems.summary() == ["time has no UTC offset: 5,000 records (line 2, line 3, line 4, ...)"]


def test_upload_checks_the_meter_before_the_body(meters, api_for, monkeypatch):
    """A foreign or unknown meter is answered 404 alike, without parsing the upload."""
    from rest_framework.request import Request

    reads = []
    original = Request._load_data_and_files
    monkeypatch.setattr(Request, "_load_data_and_files", lambda self: reads.append(1) or original(self))
    bob = api_for("bob@t.test")
    for meter_id in ("A-NET", "NOPE-1"):
        response = bob.post(
            f"/api/v1/assessment/meters/{meter_id}/green-button/",
            {"file": SimpleUploadedFile("gb.xml", LINKED, "application/xml")},
            format="multipart",
        )
        assert response.status_code == 404
    assert reads == []
    ok = api_for("alice@t.test").post(
        "/api/v1/assessment/meters/A-NET/green-button/",
        {"file": SimpleUploadedFile("gb.xml", LINKED, "application/xml")},
        format="multipart",
    )
    assert ok.status_code == 201 and ok.json()["rows_export"] == 196 and reads
    url = "/api/v1/assessment/meters/A-NET/readings/?start=2026-10-31T04:00Z&end=2026-11-01T04:00Z"
    alice = api_for("alice@t.test")
    exported = alice.get(url + "&channel=export&limit=100").json()
    assert exported["count"] == 96 and sum(Decimal(r["kwh"]) for r in exported["results"]) > 0
    assert alice.get(url).json()["count"] == 96  # the import channel by default
    assert alice.get(url + "&channel=net").status_code == 400


def test_quality_api_over_the_imported_range_and_a_window(meters, api_for):
    _import(meters, "hourly", OLDSTYLE)
    alice = api_for("alice@t.test")
    body = alice.get("/api/v1/assessment/meters/A-HOURLY/quality/").json()
    assert (body["first_day"], body["last_day"], body["expected"], body["present"]) == (
        "2026-10-31", "2026-11-02", 73, 70,
    )  # fmt: skip
    assert body["dst_days"] == [{"day": "2026-11-01", "expected": 25, "present": 25, "hours": 25}]
    assert body["gaps"][0]["intervals"] == 3
    one_day = alice.get("/api/v1/assessment/meters/A-HOURLY/quality/?first_day=2026-10-31&last_day=2026-10-31").json()
    assert (one_day["expected"], one_day["present"], one_day["completeness"]) == (24, 24, 1.0)
    bad = alice.get("/api/v1/assessment/meters/A-HOURLY/quality/?first_day=2026-11-02&last_day=2026-10-31")
    assert bad.status_code == 400 and "last_day" in bad.json()["fields"]
    assert api_for("bob@t.test").get("/api/v1/assessment/meters/A-HOURLY/quality/").status_code == 404


def _long_feed(days: int) -> bytes:
    out = ['<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"><entry><content>'
           "<espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour><espi:uom>72</espi:uom>"
           "</espi:ReadingType></content></entry>"]  # fmt: skip
    t = int(datetime(2026, 1, 1, 5, tzinfo=UTC).timestamp())
    for _ in range(days):
        out.append("<entry><content><espi:IntervalBlock>")
        for i in range(96):
            out.append(
                f"<espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration><espi:start>{t}"
                f"</espi:start></espi:timePeriod><espi:value>{i * 7}</espi:value></espi:IntervalReading>"
            )
            t += 900
        out.append("</espi:IntervalBlock></content></entry>")
    return "".join(out + ["</feed>"]).encode()


def test_streaming_parse_memory_grows_with_readings_not_with_the_document():
    """About 120 bytes per reading (typed arrays), where a whole-document parse holds ~20x the file."""
    import tracemalloc

    data = _long_feed(400)  # 38,400 readings, 6.8 MB
    tracemalloc.start()
    try:
        file = parse_espi_stream(io.BytesIO(data), interval_seconds=900)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert file.readings == 38_400 and not file.problems
    assert peak < 150 * file.readings and peak < len(data), (peak, len(data))


def test_many_interval_blocks_in_one_entry(meters):
    """Some utilities put every IntervalBlock of a MeterReading in one entry: read as if in separate entries."""
    import re

    blocks = re.findall(rb"<espi:IntervalBlock>.*?</espi:IntervalBlock>", OLDSTYLE, re.DOTALL)
    head = OLDSTYLE[: OLDSTYLE.index(b"  <entry>\n    <id>urn:uuid:ib-31")]
    one_entry = head + b"<entry><content>" + b"".join(blocks) + b"</content></entry></feed>"
    assert len(blocks) == 3
    batch = _import(meters, "hourly", one_entry)
    assert batch.rows_new == 70
    assert _kwh(MeterReading.objects.filter(meter=meters["hourly"])) == Decimal("57.008")


def test_units_kwh_multiplier_and_import_export_columns():
    first = int(OLDSTYLE.split(b"<espi:value>")[1].split(b"<")[0])  # Wh
    in_kwh = OLDSTYLE.replace(b"<espi:powerOfTenMultiplier>0<", b"<espi:powerOfTenMultiplier>3<")
    _, values, _ = parse_espi_stream(in_kwh, interval_seconds=3600).channels["import"].sorted_arrays()
    assert values[0] == first * 10_000  # kWh in 0.1 Wh
    spelled = OLDSTYLE.replace(b"<espi:uom>72<", b"<espi:uom>kWh<")
    _, values, _ = parse_espi_stream(spelled, interval_seconds=3600).channels["import"].sorted_arrays()
    assert values[0] == first * 10_000
    net = (
        b"TYPE,DATE,START TIME,END TIME,IMPORT (kWh),EXPORT (kWh),NOTES\n"
        b"Electric usage,2026-07-01,12:00,12:15,0.25,1.5,\n"
        b"Electric usage,2026-07-01,12:15,12:30,0.125,1.25,\n"
        b"Natural gas usage,2026-07-01,12:15,12:30,3,,\n"
    )
    file = parse_green_button_csv(net, interval_seconds=900, tz=TZ)
    assert not file.problems and file.skipped == 1
    assert file.channels["import"].tenth_wh.tolist() == [2500, 1250]
    assert file.channels["export"].tenth_wh.tolist() == [15000, 12500]
    wh = b"TYPE,DATE,START TIME,END TIME,USAGE,UNITS\nElectric usage,7/1/2026,12:00,12:14,250.5,Wh\n"
    assert parse_green_button_csv(wh, interval_seconds=900, tz=TZ).channels["import"].tenth_wh.tolist() == [2505]


def test_linked_feed_usage_points_listed_first_are_told_apart_by_href():
    """Electric and gas UsagePoints both before any reading: the links, not the order, say whose blocks are whose."""
    import re

    gas_up = re.search(rb"  <entry>\n    <id>urn:uuid:up-gas</id>.*?</entry>\n", LINKED, re.DOTALL).group(0)
    reordered = LINKED.replace(gas_up, b"")
    at = reordered.index(b"  <entry>\n    <id>urn:uuid:rt-01</id>")
    reordered = reordered[:at] + gas_up + reordered[at:]  # electric UP, gas UP, then everything else
    file = parse_espi_stream(reordered, interval_seconds=900)
    assert not file.problems and file.skipped == 4 + 1
    assert (len(file.channels["import"]), len(file.channels["export"])) == (196, 196)
