"""The COPY bulk path gives the same results as the Python path: all-or-nothing, named lines, revisions."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from assessment.ingest.bulk import readings_bulk_import
from assessment.ingest.services import ImportRejected
from assessment.models import ImportBatch, MeterReading, MeterStatus, ReadingRevision
from flexplatform.errors import NotPermitted


def _bulk(world, text, user="alice", **kw):
    return readings_bulk_import(user=world.users[user], stream=io.BytesIO(text.encode()), filename="big.csv", **kw)


ROWS = "meter_id,start,kwh\nA-1,2026-01-05T05:00Z,1.0\nA-1,2026-01-05T05:15:00+00:00,2.0\nA-1,2026-01-05T00:30:00-05:00,3\n"


def test_bulk_import_new_unchanged_revised(meter_world):
    first = _bulk(meter_world, ROWS)
    assert (first.source, first.rows_total, first.rows_new, first.rows_unchanged, first.rows_revised) == (
        "bulk", 3, 3, 0, 0,
    )  # fmt: skip
    assert MeterReading.objects.get(start=datetime(2026, 1, 5, 5, 30, tzinfo=UTC)).kwh == Decimal("3")
    again = _bulk(meter_world, ROWS)
    assert (again.rows_new, again.rows_unchanged, again.rows_revised) == (0, 3, 0)
    fix = _bulk(meter_world, ROWS.replace(",2.0\n", ",2.25\n") + "A-1,2026-01-05T05:45Z,4\n")
    assert (fix.rows_total, fix.rows_new, fix.rows_unchanged, fix.rows_revised) == (4, 1, 2, 1)
    revision = ReadingRevision.objects.get()
    assert (revision.old_kwh, revision.new_kwh, revision.batch_id) == (Decimal("2.0"), Decimal("2.25"), fix.pk)
    assert MeterReading.objects.get(start=datetime(2026, 1, 5, 5, 15, tzinfo=UTC)).kwh == Decimal("2.25")


@pytest.mark.parametrize(
    ("bad_line", "phrase"),
    [
        ("A-1,2026-01-05T06:00:00,1", "no UTC offset"),
        ("A-1,2026-01-05T06:00Z,-1", "negative energy -1 kWh"),
        ("A-1,2026-01-05T06:05Z,1", "is not on a 15-minute boundary"),
        ("A-1,2026-01-05T06:00Z,1.00001", "1.00001 kWh: more than 4 decimals or out of range"),
        ("A-1,2026-01-05T05:00Z,7", "meter A-1 at 2026-01-05T05:00:00+00:00 repeats line 2"),
        ("A-1,2026-01-05T06:00Z,abc", '"abc"'),
    ],
)
def test_bulk_one_bad_line_imports_nothing(meter_world, bad_line, phrase):
    rows = "meter_id,start,kwh\nA-1,2026-01-05T05:00Z,1\nA-1,2026-01-05T05:15Z,1\n" + bad_line + "\n"
    with pytest.raises(ImportRejected) as exc:
        _bulk(meter_world, rows)
    (record,) = exc.value.fields["records"]
    unquoted = record.replace('"', "").replace("'", "")
    assert record.startswith("line 4: ") and phrase.replace('"', "").replace("'", "") in unquoted, record
    assert MeterReading.objects.count() == ImportBatch.objects.count() == 0


def test_bulk_permissions_and_account(meter_world):
    with pytest.raises(NotPermitted):
        _bulk(meter_world, ROWS, user="bob")
    with pytest.raises(NotPermitted) as exc:  # unknown ids are answered as foreign ones are (no probing)
        _bulk(meter_world, ROWS + "Z-404,2026-01-05T06:00Z,1\n")
    assert exc.value.fields == {"records": ["line 5: meter 'Z-404' is not registered or not yours"]}
    with pytest.raises(ImportRejected):
        _bulk(meter_world, ROWS, account_number="ACCT-BOB-1")
    assert MeterReading.objects.count() == 0
    _bulk(meter_world, ROWS.replace("meter_id,start,kwh", "kwh,meter_id,start").replace(
        "A-1,2026-01-05T05:00Z,1.0", "1.0,A-1,2026-01-05T05:00Z").replace(
        "A-1,2026-01-05T05:15:00+00:00,2.0", "2.0,A-1,2026-01-05T05:15:00+00:00").replace(
        "A-1,2026-01-05T00:30:00-05:00,3", "3,A-1,2026-01-05T00:30:00-05:00"), account_number="ACCT-ALICE-1")  # fmt: skip
    assert MeterReading.objects.count() == 3
    assert MeterStatus.objects.get(meter=meter_world.alice_meter).ownership_verified_at is not None


def test_bulk_trailing_zeros_are_not_extra_decimals(meter_world):
    assert _bulk(meter_world, "meter_id,start,kwh\nA-1,2026-01-05T05:00Z,1.500000\n").rows_new == 1


def test_bulk_account_column_blank_cells_ignored_two_accounts_refused(meter_world):
    rows = "meter_id,start,kwh,account_number\nA-1,2026-01-05T05:00Z,1,ACCT-ALICE-1\nA-1,2026-01-05T05:15Z,1,\n"
    assert _bulk(meter_world, rows).account_number == "ACCT-ALICE-1"
    with pytest.raises(ImportRejected) as exc:
        _bulk(meter_world, rows + "A-1,2026-01-05T05:30Z,1,OTHER\n")
    assert "several utility accounts" in exc.value.detail


def test_bulk_repeated_reading_refused_when_meter_already_has_data(meter_world):
    """The general (upsert) merge names a repeated (meter, start) by line too, not only the fresh insert."""
    _bulk(meter_world, ROWS)
    rows = "meter_id,start,kwh\nA-1,2026-01-06T05:00Z,1\nA-1,2026-01-06T05:00Z,2\n"
    with pytest.raises(ImportRejected) as exc:
        _bulk(meter_world, rows)
    assert exc.value.fields["records"] == ["line 3: meter A-1 at 2026-01-06T05:00:00+00:00 repeats line 2"]
    assert MeterReading.objects.count() == 3 and ImportBatch.objects.count() == 1


@pytest.mark.postgres
def test_fresh_insert_falls_back_to_merge_when_readings_appeared_meanwhile(meter_world, monkeypatch):
    """A concurrent import may store readings for the file's meters after the overlap check: the plain insert
    then hits the unique index and the merge is redone as the upsert, recording the correction."""
    from assessment.ingest import bulk

    real_merge = bulk._merge

    def merge_after_a_concurrent_import(cur, **kw):
        # What another import commits between the has-data check (which found nothing) and the merge.
        MeterReading.objects.create(meter=meter_world.alice_meter, start=datetime(2026, 1, 5, 5, 15, tzinfo=UTC), kwh=9)
        assert kw["fresh"] is True
        return real_merge(cur, **kw)

    monkeypatch.setattr(bulk, "_merge", merge_after_a_concurrent_import)
    batch = _bulk(meter_world, ROWS)
    assert (batch.rows_total, batch.rows_new, batch.rows_unchanged, batch.rows_revised) == (3, 2, 0, 1)
    assert MeterReading.objects.get(start=datetime(2026, 1, 5, 5, 15, tzinfo=UTC)).kwh == Decimal("2.0")
    revision = ReadingRevision.objects.get()
    assert (revision.old_kwh, revision.new_kwh, revision.batch_id) == (Decimal("9"), Decimal("2.0"), batch.pk)


def test_an_import_refreshes_the_meter_status_once_committed(meter_world, django_capture_on_commit_callbacks):
    """New readings re-assess their meter (connectivity, latest reading, validation) when the import commits:
    a meter does not wait for the hourly job to show its data or become sellable."""
    assert not MeterStatus.objects.filter(meter=meter_world.alice_meter, latest_reading_start__isnull=False).exists()
    with django_capture_on_commit_callbacks(execute=True):
        _bulk(meter_world, ROWS)
    status = MeterStatus.objects.get(meter=meter_world.alice_meter)
    assert status.latest_reading_start == datetime(2026, 1, 5, 5, 30, tzinfo=UTC)
    assert status.connectivity != MeterStatus.Connectivity.NEVER


def test_bulk_counts_every_bad_line_once_per_problem(meter_world):
    """Many bad lines: each distinct problem once, with its true count (was: 20 records and "and 19 more")."""
    at = [
        (datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M") for i in range(2541)
    ]
    lines = [f"A-1,{t}:00,1" for t in at[:2500]] + [f"A-1,{t}Z,-1" for t in at[2500:2540]] + [f"A-1,{at[-1]}Z,1"]
    with pytest.raises(ImportRejected) as exc:
        _bulk(meter_world, "meter_id,start,kwh\n" + "\n".join(lines) + "\n")
    problems = exc.value.fields["problems"]
    assert problems[0].startswith("time has no UTC offset: 2,500 records (line 2, line 3, line 4, ...)"), problems
    assert problems[1].startswith("negative energy: 40 records (line 2502, line 2503, line 2504, ...)"), problems
    assert "2,540 bad records, 2 distinct problems" in exc.value.detail
    assert MeterReading.objects.count() == 0


def test_bulk_revisions_read_each_meters_file_span_only(meter_world):
    """Issue #21: the revision check reads the stored readings per meter over the file's span for that meter (an
    index range scan each, not the whole table); the revisions are the same: only changed values, per meter, and
    none for readings outside the file or of another meter."""
    day = datetime(2026, 1, 5, tzinfo=UTC)
    history = [
        MeterReading(meter=m, start=day + timedelta(minutes=15 * i), kwh=Decimal("1.0"))
        for m in (meter_world.alice_meter, meter_world.bob_meter)
        for i in range(4 * 96)
    ]
    MeterReading.objects.bulk_create(history)
    # day 2 of A-1 again, two values changed; B-1 (same times) untouched; a new reading after the history
    second = [day + timedelta(days=1, minutes=15 * i) for i in range(96)]
    rows = ["meter_id,start,kwh"]
    rows += [f"A-1,{s:%Y-%m-%dT%H:%MZ},{'2.5' if i in (3, 50) else '1.0'}" for i, s in enumerate(second)]
    rows += [f"A-1,{day + timedelta(days=4):%Y-%m-%dT%H:%MZ},7"]
    batch = _bulk(meter_world, "\n".join(rows) + "\n")
    assert (batch.rows_total, batch.rows_new, batch.rows_unchanged, batch.rows_revised) == (97, 1, 94, 2)
    revisions = sorted(ReadingRevision.objects.values_list("meter__meter_id", "start", "old_kwh", "new_kwh"))
    assert revisions == [
        ("A-1", second[3], Decimal("1.0"), Decimal("2.5")),
        ("A-1", second[50], Decimal("1.0"), Decimal("2.5")),
    ]
    assert MeterReading.objects.filter(meter=meter_world.bob_meter, kwh=Decimal("1.0")).count() == 4 * 96


def test_bulk_next_day_of_a_meter_with_history_is_a_plain_insert(meter_world):
    """Issue #21: a file whose meters have a history but no reading within the file's span (the next day's data)
    has nothing to revise: no revision check, a plain insert; the same counts as the upsert would give."""
    day = datetime(2026, 1, 5, tzinfo=UTC)
    MeterReading.objects.bulk_create(
        [MeterReading(meter=meter_world.alice_meter, start=day + timedelta(minutes=15 * i), kwh=1) for i in range(96)]
    )
    rows = "meter_id,start,kwh\n" + "".join(
        f"A-1,{day + timedelta(days=1, minutes=15 * i):%Y-%m-%dT%H:%MZ},2\n" for i in range(96)
    )
    batch = _bulk(meter_world, rows)
    assert (batch.rows_total, batch.rows_new, batch.rows_unchanged, batch.rows_revised) == (96, 96, 0, 0)
    assert not ReadingRevision.objects.exists()
    assert MeterReading.objects.filter(meter=meter_world.alice_meter).count() == 192
    # the same file again overlaps itself: the revision path, nothing changed
    again = _bulk(meter_world, rows)
    assert (again.rows_new, again.rows_unchanged, again.rows_revised) == (0, 96, 0)
