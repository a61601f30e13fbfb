"""Import service: all-or-nothing, idempotent, corrections as revisions, ownership, permissions."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from assessment.ingest.csvfile import parse_csv
from assessment.ingest.services import ImportRejected, readings_import
from assessment.ingest.store import green_button_import
from assessment.models import ImportBatch, MeterReading, MeterStatus, ReadingRevision
from flexplatform.errors import NotPermitted

ESPI = (Path(__file__).parent / "data" / "espi_sample.xml").read_bytes()
T0 = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)


def _csv(*lines):
    return parse_csv("meter_id,start,kwh\n" + "\n".join(lines) + "\n")


def _import(world, parsed, user="alice", **kw):
    return readings_import(user=world.users[user], source="csv", parsed=parsed, **kw)


def test_one_bad_record_imports_nothing_and_is_named(meter_world):
    parsed = _csv("A-1,2026-01-05T05:00Z,1.0", "A-1,2026-01-05T05:15Z,-0.2", "A-1,2026-01-05T05:30Z,1.0")
    with pytest.raises(ImportRejected) as exc:
        _import(meter_world, parsed)
    assert exc.value.fields == {
        "records": ["line 3: negative energy -0.2 kWh"],
        "problems": ["negative energy: 1 record (line 3)"],
    }
    assert "line 3" in exc.value.detail
    assert MeterReading.objects.count() == 0 and ImportBatch.objects.count() == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A-1,2026-01-05T05:07Z,1", "line 3: 2026-01-05T05:07:00+00:00 is not on a 15-minute boundary"),
        ("A-1,2026-01-05T05:00Z,1", "line 3: meter A-1 at 2026-01-05T05:00:00+00:00 repeats line 2"),
        ("A-1,2026-01-05T05:15Z,1.00001", "line 3: 1.00001 kWh: more than 4 decimals or out of range"),
    ],
)
def test_record_rules(meter_world, line, message):
    with pytest.raises(ImportRejected) as exc:
        _import(meter_world, _csv("A-1,2026-01-05T05:00Z,1", line))
    assert exc.value.fields["records"] == [message]
    assert MeterReading.objects.count() == 0


def test_unknown_and_foreign_meters_are_refused_alike(meter_world):
    """No probing: a meter id that does not exist and another owner's meter get the same answer."""
    answers = []
    for other in ("X-9", "B-1"):
        with pytest.raises(NotPermitted) as exc:
            _import(meter_world, _csv("A-1,2026-01-05T05:00Z,1", f"{other},2026-01-05T05:15Z,1"))
        answers.append((exc.value.status_code, exc.value.detail.replace(other, "?"), exc.value.fields))
    assert answers[0][:2] == answers[1][:2]
    assert answers[0][2] == {"records": ["line 3: meter 'X-9' is not registered or not yours"]}


def test_resending_changes_nothing_and_a_correction_is_a_revision(meter_world):
    lines = ("A-1,2026-01-05T05:00Z,1.0", "A-1,2026-01-05T05:15Z,2.0")
    first = _import(meter_world, _csv(*lines), filename="jan.csv")
    assert (first.rows_new, first.rows_unchanged, first.rows_revised) == (2, 0, 0)
    again = _import(meter_world, _csv(*lines))
    assert (again.rows_new, again.rows_unchanged, again.rows_revised) == (0, 2, 0)
    assert ReadingRevision.objects.count() == 0

    fix = _import(meter_world, _csv("A-1,2026-01-05T05:15Z,2.5", "A-1,2026-01-05T05:30Z,3"), user="agg")
    assert (fix.rows_new, fix.rows_unchanged, fix.rows_revised) == (1, 0, 1)
    revision = ReadingRevision.objects.get()
    assert (revision.old_kwh, revision.new_kwh, revision.batch, revision.meter) == (
        Decimal("2.0"), Decimal("2.5"), fix, meter_world.alice_meter,
    )  # fmt: skip
    assert fix.uploaded_by == meter_world.users["agg"]
    assert MeterReading.objects.get(start=datetime(2026, 1, 5, 5, 15, tzinfo=UTC)).kwh == Decimal("2.5")
    assert MeterReading.objects.count() == 3


def test_account_number_must_be_the_premise_account(meter_world):
    parsed = _csv("A-1,2026-01-05T05:00Z,1.0")
    with pytest.raises(ImportRejected) as exc:
        _import(meter_world, parsed, account_number="ACCT-BOB-1")
    assert exc.value.fields["records"] == [
        "account_number: utility account 'ACCT-BOB-1' is not the account of meter A-1's premise"
    ]
    batch = _import(meter_world, parsed, account_number="ACCT-ALICE-1")
    status = MeterStatus.objects.get(meter=meter_world.alice_meter)
    assert status.ownership_verified_at == batch.created_at and status.ownership_batch == batch


def test_writers_only_for_their_meters(meter_world):
    parsed = _csv("B-1,2026-01-05T05:00Z,1.0")
    for who in ("alice", "agg", "op"):  # another consumer, an aggregator it is not enrolled with, an operator
        with pytest.raises(NotPermitted):
            _import(meter_world, parsed, user=who)
    assert _import(meter_world, parsed, user="bob").rows_new == 1
    assert readings_import(user=meter_world.users["admin"], source="csv", parsed=_csv("B-1,2026-01-05T05:15Z,1"))


def _espi(world, data, user="alice"):
    return green_button_import(user=world.users[user], meter=world.alice_meter, stream=io.BytesIO(data))


def test_espi_import_checks_duration_account_and_local_time(meter_world):
    batch = _espi(meter_world, ESPI)
    assert (batch.rows_new, batch.rows_skipped, batch.account_number) == (4, 1, "ACCT-ALICE-1")
    assert MeterStatus.objects.get(meter=meter_world.alice_meter).ownership_verified_at is not None

    hourly = ESPI.replace(
        b"<espi:duration>900</espi:duration><espi:start>1772955900",
        b"<espi:duration>3600</espi:duration><espi:start>1772955900",
    )
    with pytest.raises(ImportRejected) as exc:
        _espi(meter_world, hourly)
    assert exc.value.fields["records"] == [
        "IntervalBlock 1 (entry 7) IntervalReading 4: duration is not the meter's interval (900 s)"
    ]
    pacific = ESPI.replace(b"<espi:tzOffset>-18000<", b"<espi:tzOffset>-28800<")
    with pytest.raises(ImportRejected) as exc:
        _espi(meter_world, pacific)
    assert "tzOffset -28800 s is not the standard offset of America/New_York (-18000 s)" in exc.value.detail
    assert ImportBatch.objects.count() == 1


def test_trailing_zeros_are_not_extra_decimals(meter_world):
    batch = _import(meter_world, _csv("A-1,2026-01-05T05:00Z,1.500000"))
    assert batch.rows_new == 1 and MeterReading.objects.get().kwh == Decimal("1.5")
