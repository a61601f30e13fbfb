"""Pure parsers: CSV, Green Button ESPI XML and JSON batches give typed rows, or errors naming the record."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from assessment.ingest.csvfile import parse_csv
from assessment.ingest.espi import parse_espi_stream
from assessment.ingest.jsonbatch import parse_json_batch

ESPI = (Path(__file__).parent / "data" / "espi_sample.xml").read_bytes()


def test_csv_rows_in_utc_with_offsets_across_the_dst_jump():
    text = (
        "meter_id,start,kwh\n"
        "A-1,2026-03-08T01:45:00-05:00,0.25\n"  # last quarter-hour before the jump (EST)
        "A-1,2026-03-08T03:00:00-04:00,0.5\n"  # first after it (EDT): 15 minutes later in UTC
        "A-1,2026-03-08T07:30:00Z,1\n"
    )
    result = parse_csv(text)
    assert result.ok
    assert [r.start for r in result.rows] == [
        datetime(2026, 3, 8, 6, 45, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    ]
    assert [r.kwh for r in result.rows] == [Decimal("0.25"), Decimal("0.5"), Decimal("1")]
    assert result.rows[1].ref == "line 3"


def test_csv_errors_name_the_line():
    text = "start,kwh,meter_id\n2026-01-01T00:00Z,1,A-1\n2026-01-01T00:15:00,1,A-1\n2026-01-01T00:30Z,abc,A-1\n"
    result = parse_csv(text)
    assert [str(e) for e in result.errors] == [
        "line 3: time has no UTC offset (write e.g. 2026-03-08T01:45:00-05:00 or ...Z)",
        "line 4: kwh 'abc' is not a number",
    ]


def test_csv_header_and_account_column():
    assert str(parse_csv("meter,start\n").errors[0]) == "line 1: header lacks column(s) meter_id, kwh"
    mixed = parse_csv("meter_id,start,kwh,account_number\nA-1,2026-01-01T00:00Z,1,X\nA-1,2026-01-01T00:15Z,1,Y\n")
    assert "several utility accounts" in str(mixed.errors[0])
    one = parse_csv("meter_id,start,kwh,account_number\nA-1,2026-01-01T00:00Z,1,X\n")
    assert one.ok and one.account_number == "X"


def _rows(file, channel="import"):
    starts, values, positions = file.channels[channel].sorted_arrays()
    return [
        (datetime.fromtimestamp(s, tz=UTC), Decimal(v).scaleb(-4), file.ref_of(p))
        for s, v, p in zip(starts.tolist(), values.tolist(), positions.tolist(), strict=True)
    ]


def test_espi_feed_readings_scaled_to_kwh_on_two_channels():
    result = parse_espi_stream(ESPI, interval_seconds=900)
    assert result.problems.total == 0, result.problems.summary()
    assert result.account_number == "ACCT-ALICE-1"
    assert result.tz_offset_seconds == -18000
    assert [r[:2] for r in _rows(result)] == [
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), Decimal("0.412")),
        (datetime(2026, 3, 8, 7, 15, tzinfo=UTC), Decimal("0.398")),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), Decimal("0.405")),
        (datetime(2026, 3, 8, 7, 45, tzinfo=UTC), Decimal("1.250")),
    ]
    assert _rows(result)[3][2] == "IntervalBlock 1 (entry 7) IntervalReading 4"
    assert _rows(result, "export") == [
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), Decimal("0"), "IntervalBlock 2 (entry 8) IntervalReading 1")
    ]


def test_espi_power_of_ten_multiplier():
    data = ESPI.replace(b"<espi:powerOfTenMultiplier>0<", b"<espi:powerOfTenMultiplier>-1<", 1)
    assert _rows(parse_espi_stream(data))[0][1] == Decimal("0.0412")
    finer = ESPI.replace(b"<espi:powerOfTenMultiplier>0<", b"<espi:powerOfTenMultiplier>-2<", 1)
    assert parse_espi_stream(finer).problems.summary() == [
        "more precise than 0.1 Wh (powerOfTenMultiplier -2): 3 records (IntervalBlock 1 (entry 7) IntervalReading 1, "
        "IntervalBlock 1 (entry 7) IntervalReading 2, IntervalBlock 1 (entry 7) IntervalReading 3)"
    ]


def test_espi_errors_name_the_element():
    bad_value = ESPI.replace(b"<espi:value>398</espi:value>", b"<espi:value>3.9x</espi:value>")
    result = parse_espi_stream(bad_value)
    assert [str(e) for e in result.errors] == [
        "IntervalBlock 1 (entry 7) IntervalReading 2: timePeriod start/duration, value and quality must be integers"
    ]
    bad_uom = ESPI.replace(b"<espi:uom>72</espi:uom>", b"<espi:uom>38</espi:uom>", 1)
    assert str(parse_espi_stream(bad_uom).errors[0]) == "ReadingType (entry 3): uom 38 is not 72 (Wh)"
    assert parse_espi_stream(b"<feed").errors[0].ref == "document"


def test_espi_refuses_entity_expansion():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><feed>&b;</feed>'
    result = parse_espi_stream(bomb)
    assert not result.problems.total == 0 and "unsafe" in result.errors[0].message


def test_json_batch_floats_become_their_shortest_decimal():
    result = parse_json_batch(
        [{"meter_id": "A-1", "start": "2026-01-01T00:00:00Z", "kwh": 0.1}, {"meter_id": "A-1", "start": "x", "kwh": 1}]
    )
    assert result.rows[0].kwh == Decimal("0.1")
    assert result.errors[0].ref == "readings[1]"
