"""Range-partitioning the readings table by time changes nothing for the code that reads and writes it."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from assessment.ingest.bulk import readings_bulk_import
from assessment.ingest.csvfile import parse_csv
from assessment.ingest.services import readings_import
from assessment.models import MeterReading, ReadingRevision
from assessment.selectors import meter_readings


@pytest.mark.postgres
def test_partitioned_table_keeps_reads_writes_and_revisions(meter_world):
    readings_import(
        user=None, source="csv",
        parsed=parse_csv("meter_id,start,kwh\nA-1,2025-11-30T23:45Z,1\nA-1,2026-01-05T05:00Z,2\n"),
    )  # fmt: skip
    call_command("partition_meter_readings", "--months-ahead", "2", stdout=io.StringIO())
    with connection.cursor() as cur:
        cur.execute("SELECT relkind FROM pg_class WHERE relname = 'assessment_meterreading'")
        assert cur.fetchone()[0] == "p"
        cur.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'assessment_meterreading'::regclass")
        assert cur.fetchone()[0] >= 5  # Nov, Dec, Jan ... and the default
        cur.execute("SELECT count(*) FROM assessment_meterreading_y2025m11")
        assert cur.fetchone()[0] == 1
    assert MeterReading.objects.count() == 2

    # Writes: the Python path, the COPY path with a correction, and the ORM's RETURNING of new ids.
    batch = readings_import(
        user=None, source="csv", parsed=parse_csv("meter_id,start,kwh\nA-1,2026-01-05T05:00Z,2.5\n")
    )
    assert batch.rows_revised == 1
    bulk = readings_bulk_import(
        user=None,
        stream=io.BytesIO(b"meter_id,start,kwh\nA-1,2026-01-05T05:00Z,3\nA-1,2026-01-05T05:15Z,1\n"),
    )
    assert (bulk.rows_new, bulk.rows_revised) == (1, 1)
    assert [r.new_kwh for r in ReadingRevision.objects.order_by("revised_at", "id")] == [Decimal("2.5"), Decimal("3")]
    assert MeterReading.objects.create(meter=meter_world.bob_meter, start=datetime(2026, 1, 5, tzinfo=UTC), kwh=1).pk
    # Reads: the selectors are unchanged.
    got = meter_readings(
        meter=meter_world.alice_meter, start=datetime(2026, 1, 5, tzinfo=UTC), end=datetime(2026, 1, 6, tzinfo=UTC)
    )
    assert [(r.start.minute, r.kwh) for r in got] == [(0, Decimal("3")), (15, Decimal("1"))]
    # Running it again only adds months.
    out = io.StringIO()
    call_command("partition_meter_readings", stdout=out)
    assert out.getvalue().startswith("Already partitioned")
