"""The bulk import path for large CSV files: Postgres ``COPY`` into a staging table, then one merge.

Same file format and the same rules as :mod:`assessment.ingest.csvfile` + :func:`readings_import`
(all-or-nothing, bad records named by line, idempotent, corrections recorded as revisions), done by
the database instead of Python:

1. ``COPY`` the file (psycopg3 ``cursor.copy``, streamed in blocks) into a temporary staging table that
   numbers the lines; a malformed number is reported by Postgres with its line.
2. One aggregate pass per meter id: row count, first bad line (time without UTC offset, negative energy,
   more than 4 decimals), the utility accounts named; then the meters are resolved and permissions checked.
3. Corrections first (only when the file's meters already have readings): for staged readings whose stored
   value differs, a ``ReadingRevision`` row with the old and the new value.
4. ``INSERT ... SELECT ... ON CONFLICT (meter_id, start) DO UPDATE SET kwh = EXCLUDED.kwh WHERE
   stored.kwh IS DISTINCT FROM EXCLUDED.kwh``: new readings inserted, corrected ones updated, identical
   ones untouched. The text times are parsed once, here. The database refuses the statement for the
   remaining record errors, which are then looked up and named by line: a start off the meter's interval
   boundary (selected as NULL, refused by NOT NULL), a ``(meter, start)`` twice in the file (cardinality
   violation).

Everything runs in one transaction: any refusal leaves nothing behind. On SQLite the file is parsed in
Python and stored through :func:`readings_import` (the fallback path).
"""

from __future__ import annotations

import csv
import logging
import re
import time
from datetime import datetime
from typing import BinaryIO

import psycopg
from django.db import DataError, IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone

from accounts.models import Meter
from flexplatform.errors import ApplicationError

from ..errors import AssessmentError
from ..models import ImportBatch, MeterReading, ReadingRevision
from .csvfile import parse_csv
from .services import (
    ImportRejected,
    RecordError,
    account_problems,
    meters_resolve,
    ownership_confirm,
    readings_import,
    statuses_refresh_on_commit,
)
from .types import Problems

OFF_BOUNDARY = "start not on the meter's interval boundary"
REPEATED = "reading repeated"
COLUMNS = {"meter_id": "meter_ref", "start": "start_text", "kwh": "kwh", "account_number": "account_ref"}
OFFSET_RE = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"
BLOCK = 1 << 20
logger = logging.getLogger(__name__)


AGGREGATE_SQL = """
SELECT s.meter_ref, m.id, count(*), min(s.line),
       min(s.line) FILTER (WHERE s.start_text !~ %s OR s.kwh < 0 OR s.kwh >= 1e8 OR s.kwh <> round(s.kwh, 4)),
       min(nullif(trim(s.account_ref), '')), max(nullif(trim(s.account_ref), ''))
FROM ingest_staging s LEFT JOIN {meter_t} m ON m.meter_id = s.meter_ref
GROUP BY s.meter_ref, m.id
"""

_COPY_LINE = re.compile(r"line (\d+)")


def readings_bulk_import(
    *, user, stream: BinaryIO, filename: str = "", account_number: str = "", now: datetime | None = None
) -> ImportBatch:
    """Import a (large) CSV file of readings all-or-nothing; Postgres COPY path, Python path elsewhere."""
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        parsed = parse_csv(stream.read())
        return readings_import(
            user=user,
            source=ImportBatch.Source.BULK,
            parsed=parsed,
            filename=filename,
            account_number=account_number,
            now=now,
        )
    header_line = stream.readline().decode("utf-8-sig")
    names = [h.strip().lower() for h in next(csv.reader([header_line]), [])]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [c for c in ("meter_id", "start", "kwh") if c not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise ImportRejected(
            [
                RecordError(
                    "line 1", f"header must name meter_id, start, kwh (and optionally account_number), got {names}"
                )
            ]
        )
    t0 = time.perf_counter()
    with transaction.atomic():
        batch = _bulk(user=user, stream=stream, names=names, filename=filename, account_number=account_number, now=now)
        t1 = time.perf_counter()
    logger.info(
        "bulk import %s: commit %.2f s (total %.2f s)", batch.pk, time.perf_counter() - t1, time.perf_counter() - t0
    )
    return batch


def _bulk(*, user, stream, names, filename, account_number, now) -> ImportBatch:
    reading_t = MeterReading._meta.db_table
    meter_t = Meter._meta.db_table
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pg_temp.ingest_staging")
        cur.execute(
            "CREATE TEMPORARY TABLE ingest_staging (line bigint GENERATED ALWAYS AS IDENTITY (START 2), "
            "meter_ref text, start_text text, kwh numeric, account_ref text) ON COMMIT DROP"
        )
        cols = ", ".join(COLUMNS[n] for n in names)
        clock = _Clock()
        try:
            with transaction.atomic(), cur.copy(f"COPY ingest_staging ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:  # noqa: S608 - fixed column names
                while block := stream.read(BLOCK):
                    copy.write(block)
        except psycopg.errors.DataError as exc:
            context = getattr(exc.diag, "context", "") or ""
            match = _COPY_LINE.search(context)
            ref = f"line {int(match.group(1)) + 1}" if match else "file"
            raise ImportRejected([RecordError(ref, (exc.diag.message_primary or str(exc)).strip())]) from exc

        clock.lap("copy")
        # One pass: per meter id its rows, first bad line, the accounts it names, its time range.
        cur.execute(AGGREGATE_SQL.format(meter_t=meter_t), [OFFSET_RE])
        groups = cur.fetchall()
        clock.lap("validate")
        if not groups:
            raise ImportRejected([RecordError("file", "no readings")])
        first_line = {ref: f"line {first}" for ref, _, _, first, *_ in groups}
        meters = meters_resolve(user=user, meter_ids=first_line)
        if any(g[4] is not None for g in groups):
            raise ImportRejected(_bad_records(cur))
        accounts = {a.strip() for g in groups for a in (g[5], g[6]) if a and a.strip()}
        if len(accounts) > 1:
            raise ImportRejected(
                [RecordError("account_number", f"the file names several utility accounts: {sorted(accounts)}")]
            )
        account_number = (account_number or (accounts.pop() if accounts else "")).strip()
        if account_number:
            errors = account_problems(meters=meters, account_number=account_number, ref="account_number")
            if errors:
                raise ImportRejected(errors)
        total = sum(g[2] for g in groups)

        batch = ImportBatch.objects.create(
            source=ImportBatch.Source.BULK,
            filename=filename[:255],
            uploaded_by=user if getattr(user, "is_authenticated", False) else None,
            account_number=account_number,
            created_at=now,
        )
        batch.meters.set(sorted(m.pk for m in meters.values()))
        try:
            with transaction.atomic():
                overlap = _overlap(cur, reading_t=reading_t, meter_t=meter_t)
                revised = 0
                if overlap:
                    revised = _revisions_record(cur, reading_t=reading_t, meter_t=meter_t, batch=batch, now=now)
                    clock.lap("revisions")
                written, late_revised = _merge(
                    cur, reading_t=reading_t, meter_t=meter_t, fresh=not overlap, batch=batch, now=now
                )
                revised += late_revised
            clock.lap("merge")
        except DataError as exc:  # a start that looks like a time but is none, e.g. month 13
            raise ImportRejected([RecordError("file", f"a start time is not a valid timestamp: {exc}")]) from exc
        except IntegrityError as exc:  # a start off the meter's interval boundary became NULL
            if isinstance(exc.__cause__, psycopg.errors.UniqueViolation):  # the fresh insert met a repeat
                raise _repeats(cur) from exc
            if not isinstance(exc.__cause__, psycopg.errors.NotNullViolation):
                raise
            cur.execute(
                f"SELECT s.line, s.start_text, m.interval_minutes, count(*) OVER () FROM ingest_staging s "  # noqa: S608
                f"JOIN {meter_t} m ON m.meter_id = s.meter_ref "
                "WHERE mod(extract(epoch FROM s.start_text::timestamptz)::bigint, m.interval_minutes * 60) <> 0 "
                "ORDER BY s.line LIMIT 3"
            )
            problems = Problems()
            rows = cur.fetchall()
            for line, start, minutes, _ in rows:
                problems.add(f"line {line}", f"{start} is not on a {minutes}-minute boundary", OFF_BOUNDARY)
            if rows:
                problems.counts[OFF_BOUNDARY] = rows[0][3]
            raise ImportRejected(problems) from exc
        except ProgrammingError as exc:  # a (meter, start) twice in the file: the upsert's cardinality violation
            if not isinstance(exc.__cause__, psycopg.errors.CardinalityViolation):
                raise
            raise _repeats(cur) from exc
    new = written - revised
    if new < 0:
        raise ApplicationError("Bulk merge counts do not add up.", code=AssessmentError.BULK_INCONSISTENT)
    batch.rows_total, batch.rows_new, batch.rows_revised, batch.rows_unchanged = total, new, revised, total - written
    batch.save(update_fields=["rows_total", "rows_new", "rows_unchanged", "rows_revised"])
    if account_number:
        ownership_confirm(meters=list(meters.values()), batch=batch, now=now)
    statuses_refresh_on_commit([m.pk for m in meters.values()])
    logger.info("bulk import %s: %s rows, %s", batch.pk, total, clock)
    return batch


def _overlap(cur, *, reading_t: str, meter_t: str) -> bool:
    """Whether a stored reading of a meter of the file lies within the file's time span for that meter: one
    index range probe of ``(meter_id, start)`` per meter (never ``meter_id = ANY(...)``, which the planner may
    answer with a sequential scan of the whole table). None: nothing in the file can be a correction, so the
    revision check is skipped and the merge is a plain insert (the next day's file of meters with a history,
    issue #21: the check used to ask whether the meter had any reading at all, so every day after the first
    took the revision path, whose cost grew with the stored history)."""
    cur.execute(
        f"SELECT EXISTS (SELECT 1 FROM ("  # noqa: S608
        f"  SELECT m.id, min(s.start_text::timestamptz) AS lo, max(s.start_text::timestamptz) AS hi"
        f"  FROM ingest_staging s JOIN {meter_t} m ON m.meter_id = s.meter_ref GROUP BY m.id) span"
        f" CROSS JOIN LATERAL (SELECT 1 FROM {reading_t} r"
        f"  WHERE r.meter_id = span.id AND r.start >= span.lo AND r.start <= span.hi LIMIT 1) AS x)"
    )
    return cur.fetchone()[0]


_SELECT_STAGED = """
    SELECT m.id, CASE WHEN mod(extract(epoch FROM t.ts)::bigint, m.interval_minutes * 60) = 0 THEN t.ts END, s.kwh
    FROM ingest_staging s JOIN {meter_t} m ON m.meter_id = s.meter_ref,
         LATERAL (SELECT s.start_text::timestamptz AS ts) t
"""


def _revisions_record(cur, *, reading_t: str, meter_t: str, batch: ImportBatch, now: datetime) -> int:
    """Record a ``ReadingRevision`` for every staged reading whose stored value differs; returns how many.

    The stored side is read per meter of the file over the file's time span for that meter only (one index
    range scan of ``(meter_id, start)`` each, a LATERAL the planner cannot turn into a scan of the table): a
    plain join of the staged rows to the readings table was planned as a hash join over a sequential scan of the
    whole table, so a day's file cost more the more history the table held (issue #21: the day's import's
    database CPU per premise x2.8 from 1,000 to 10,000 premises; the EXPLAIN is in ADR 0044)."""
    cur.execute(
        f"""
        WITH staged AS MATERIALIZED (
            SELECT m.id AS meter_id, s.start_text::timestamptz AS start, s.kwh
            FROM ingest_staging s JOIN {meter_t} m ON m.meter_id = s.meter_ref
        ), span AS (
            SELECT meter_id, min(start) AS lo, max(start) AS hi FROM staged GROUP BY meter_id
        )
        INSERT INTO {ReadingRevision._meta.db_table} (meter_id, start, old_kwh, new_kwh, batch_id, revised_at)
        SELECT r.meter_id, r.start, r.kwh, s.kwh, %s, %s
        FROM span CROSS JOIN LATERAL (
            SELECT r.meter_id, r.start, r.kwh FROM {reading_t} r
            WHERE r.meter_id = span.meter_id AND r.start >= span.lo AND r.start <= span.hi
        ) r
        JOIN staged s ON s.meter_id = r.meter_id AND s.start = r.start
        WHERE r.kwh <> s.kwh
        """,  # noqa: S608
        [batch.pk, now],
    )
    return cur.rowcount


def _merge(cur, *, reading_t: str, meter_t: str, fresh: bool, batch: ImportBatch, now: datetime) -> tuple[int, int]:
    """Write the staged readings; returns (rows inserted or changed, revisions recorded here).

    ``fresh``: none of the file's meters has a stored reading, so a plain ``INSERT`` does (no speculative
    insertion per row, about a third faster on large files). If a concurrent import stored readings for the
    same meters in the meantime, the plain insert hits a unique violation; when the file itself has no
    repeated (meter, start), the corrections are recorded as revisions and the merge is retried as the
    general ``ON CONFLICT`` upsert.
    """
    select = _SELECT_STAGED.format(meter_t=meter_t)
    upsert = (
        f"INSERT INTO {reading_t} AS r (meter_id, start, kwh) {select} "  # noqa: S608
        "ON CONFLICT (meter_id, start) DO UPDATE SET kwh = EXCLUDED.kwh WHERE r.kwh IS DISTINCT FROM EXCLUDED.kwh"
    )
    revised = 0
    if fresh:
        try:
            with transaction.atomic():
                cur.execute(f"INSERT INTO {reading_t} (meter_id, start, kwh) {select}")  # noqa: S608
                return cur.rowcount, 0
        except IntegrityError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
                raise
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM ingest_staging GROUP BY meter_ref, start_text::timestamptz "
                "HAVING count(*) > 1)"
            )
            if cur.fetchone()[0]:
                raise
            revised = _revisions_record(cur, reading_t=reading_t, meter_t=meter_t, batch=batch, now=now)
    cur.execute(upsert)
    return cur.rowcount, revised


def _repeats(cur) -> ImportRejected:
    """The readings the file gives twice, named by line (the first three; all counted)."""
    cur.execute(
        "SELECT meter_ref, start_text::timestamptz, array_agg(line ORDER BY line), count(*) OVER () "
        "FROM ingest_staging GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY min(line) LIMIT 3"
    )
    problems = Problems()
    rows = cur.fetchall()
    for ref, start, lines, _ in rows:
        problems.add(f"line {lines[1]}", f"meter {ref} at {start.isoformat()} repeats line {lines[0]}", REPEATED)
    if rows:
        problems.counts[REPEATED] = rows[0][3]
    return ImportRejected(problems)


def _bad_records(cur) -> Problems:
    """Every line that fails a record rule, counted per rule; the first three of each explained."""
    cur.execute(
        "SELECT kind, count(*), (array_agg(line ORDER BY line))[1:3] FROM ("
        "  SELECT line, CASE WHEN start_text !~ %s THEN 'time has no UTC offset' WHEN kwh < 0 THEN 'negative energy' "
        "  ELSE 'more than 4 decimals or out of range' END AS kind FROM ingest_staging"
        "  WHERE start_text !~ %s OR kwh < 0 OR kwh >= 1e8 OR kwh <> round(kwh, 4)) x "
        "GROUP BY kind ORDER BY min(line)",
        [OFFSET_RE, OFFSET_RE],
    )
    groups = cur.fetchall()
    cur.execute(
        "SELECT line, meter_ref, start_text, kwh FROM ingest_staging WHERE line = ANY(%s) ORDER BY line",
        [[line for _, _, lines in groups for line in lines]],
    )
    explained = {row[0]: _explain(row) for row in cur.fetchall()}
    problems = Problems()
    for kind, count, lines in groups:
        for line in lines:
            problems.add(explained[line].ref, explained[line].message, kind)
        problems.counts[kind] = count
    return problems


class _Clock:
    """Seconds per phase since the previous lap (logged per import; the benchmark prints them)."""

    def __init__(self):
        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.t, 2)
        self.t = now

    def __str__(self) -> str:
        return ", ".join(f"{k} {v} s" for k, v in self.laps.items())


def _explain(row) -> RecordError:
    line, _ref, start_text, kwh = row
    ref_line = f"line {line}"
    if not re.search(OFFSET_RE, start_text or ""):
        return RecordError(ref_line, f"time {start_text!r} has no UTC offset")
    if kwh < 0:
        return RecordError(ref_line, f"negative energy {kwh} kWh")
    return RecordError(ref_line, f"{kwh} kWh: more than 4 decimals or out of range")
