"""Convert ``assessment_meterreading`` into a table range-partitioned by month of ``start`` (Postgres), or add
partitions ahead. The code that reads and writes readings does not change (see docs/adr/0005-meter-readings-partitioning-and-bulk-import.md).

    manage.py partition_meter_readings [--months-ahead 3]

Converting (when the table is not yet partitioned), in one transaction holding an exclusive lock:
a new table partitioned ``BY RANGE (start)`` with one partition per calendar month (UTC) from the oldest
reading to ``--months-ahead`` months from now and a DEFAULT partition for anything outside; the rows copied;
the old table dropped; the same names for the table, its constraints and indexes, except that the primary
key becomes ``(id, start)`` (a partitioned table's unique keys must contain the partition column; ``id``
stays unique, from its sequence). On an already partitioned table, only the missing months are added.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

TABLE = "assessment_meterreading"


def _month(d: date) -> date:
    return date(d.year, d.month, 1)


def _next(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def is_partitioned(cur) -> bool:
    cur.execute("SELECT relkind FROM pg_class WHERE relname = %s AND relnamespace = 'public'::regnamespace", [TABLE])
    row = cur.fetchone()
    return bool(row) and row[0] == "p"


def add_partitions(cur, first: date, last: date) -> list[str]:
    """Monthly partitions for ``[first, last]`` months that do not exist yet."""
    made, month = [], _month(first)
    while month <= last:
        name = f"{TABLE}_y{month.year}m{month.month:02d}"
        cur.execute("SELECT to_regclass(%s)", [name])
        if cur.fetchone()[0] is None:
            lo = datetime(month.year, month.month, 1, tzinfo=UTC)
            nxt = _next(month)
            hi = datetime(nxt.year, nxt.month, 1, tzinfo=UTC)
            # Bounds as literals: DDL takes no bind parameters (server-side binding would refuse them).
            cur.execute(
                f'CREATE TABLE "{name}" PARTITION OF {TABLE} '  # noqa: S608 - our names and our own timestamps
                f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
            )
            made.append(name)
        month = _next(month)
    return made


class Command(BaseCommand):
    help = "Range-partition assessment_meterreading by month of start (Postgres), or add months ahead."

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3)

    def handle(self, *args, months_ahead: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Partitioning is a PostgreSQL feature; SQLite keeps one table.")
        now = timezone.now().date()
        last = _month(now)
        for _ in range(months_ahead):
            last = _next(last)
        with transaction.atomic(), connection.cursor() as cur:
            if is_partitioned(cur):
                made = add_partitions(cur, _month(now), last)
                self.stdout.write(f"Already partitioned; added {len(made)} partition(s).")
                return
            made = self._convert(cur, last)
        self.stdout.write(f"Partitioned {TABLE} by month of start: {len(made)} monthly partitions and a default.")

    def _convert(self, cur, last: date) -> list[str]:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending on the old table
        cur.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")  # noqa: S608
        cur.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s AND indexname <> %s",
            [TABLE, "%(meter_id)", "reading_unique_meter_start"],
        )
        fk_index = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [TABLE])
        fk_names = [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT min(start), coalesce(max(id), 0) FROM {TABLE}")  # noqa: S608
        oldest, max_id = cur.fetchone()
        first = _month(oldest.astimezone(UTC).date()) if oldest else _month(timezone.now().date())
        cur.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_unpartitioned")
        for name in [f"{TABLE}_pkey", "reading_unique_meter_start", *fk_index]:
            cur.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_old"')
        cur.execute(f"CREATE SEQUENCE {TABLE}_id_seq_p START WITH {int(max_id) + 1}")
        cur.execute(
            f"CREATE TABLE {TABLE} (id bigint NOT NULL DEFAULT nextval('{TABLE}_id_seq_p'), "
            "meter_id bigint NOT NULL, start timestamptz NOT NULL, kwh numeric(12, 4) NOT NULL) "
            "PARTITION BY RANGE (start)"
        )
        cur.execute(f"ALTER SEQUENCE {TABLE}_id_seq_p OWNED BY {TABLE}.id")
        made = add_partitions(cur, first, last)
        cur.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        cur.execute(
            f"INSERT INTO {TABLE} (id, meter_id, start, kwh) "  # noqa: S608
            f"SELECT id, meter_id, start, kwh FROM {TABLE}_unpartitioned"
        )
        cur.execute(f"DROP TABLE {TABLE}_unpartitioned")
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, start)")
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT reading_unique_meter_start UNIQUE (meter_id, start)")
        cur.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT reading_kwh_non_negative CHECK (kwh >= 0)")
        for name in fk_names or [f"{TABLE}_meter_id_fk_accounts_meter_id"]:
            cur.execute(
                f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" FOREIGN KEY (meter_id) '
                "REFERENCES accounts_meter (id) DEFERRABLE INITIALLY DEFERRED"
            )
        for name in fk_index:
            cur.execute(f'CREATE INDEX "{name}" ON {TABLE} (meter_id)')
        return made
