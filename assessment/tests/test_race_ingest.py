"""Two imports of the same new reading at the same time: one stores it, the other is refused or sees it.

Never two rows, never a silent overwrite: the loser either gets a Conflict (retry) or, if it started after
the winner committed, records its different value as a revision."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from assessment.ingest.csvfile import parse_csv
from assessment.ingest.services import readings_import
from assessment.models import ImportBatch, MeterReading, ReadingRevision
from flexplatform.errors import Conflict


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_one_new_reading(meter_world):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def send(value: str) -> None:
        try:
            barrier.wait()
            readings_import(
                user=None, source="csv", parsed=parse_csv(f"meter_id,start,kwh\nA-1,2026-01-05T05:00Z,{value}\n")
            )
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(v,)) for v in ("1.0", "2.0")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert MeterReading.objects.count() == 1
    stored = MeterReading.objects.get().kwh
    revisions = list(ReadingRevision.objects.all())
    if sorted(outcomes) == ["conflict", "stored"]:
        assert ImportBatch.objects.count() == 1 and not revisions
    else:  # the second started after the first committed: its value is a recorded correction
        assert outcomes == ["stored", "stored"] and len(revisions) == 1
        assert {revisions[0].old_kwh, revisions[0].new_kwh} == {Decimal("1.0"), Decimal("2.0")}
        assert stored == revisions[0].new_kwh
