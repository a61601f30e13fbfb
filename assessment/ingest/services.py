"""Import services: a whole file (or JSON batch) of readings is stored all-or-nothing.

Re-sending a stored reading with the same value changes nothing (counted as unchanged); a different value
for a stored ``(meter, start)`` is a correction: the reading takes the new value and a
:class:`~assessment.models.ReadingRevision` keeps the old one, the new one, the import and the time.
Each accepted import leaves an :class:`~assessment.models.ImportBatch` (who, file, counts).

Checks, each reported with the line or element of the record: the meter is registered and the caller may
write it; the file's utility account (when it names one) is the premise's; the start lies on the meter's
interval boundary (and an ESPI interval's duration is the meter's interval); energy is not negative and
has at most 4 decimals; no ``(meter, start)`` appears twice in one file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Meter
from flexplatform import plausible
from flexplatform.errors import ApplicationError, Conflict, NotFound, NotPermitted

from ..errors import AssessmentError
from ..models import ImportBatch, MeterReading, MeterStatus, ReadingRevision
from ..selectors import meters_writable_by
from .types import ParsedReading, ParseResult, Problems, RecordError

KWH_MAX = Decimal("1e8")
KWH_STEP = Decimal("0.0001")  # the precision readings are stored with


class ImportRejected(ApplicationError):
    """Nothing was imported. ``fields["records"]`` names the first records of each distinct problem,
    ``fields["problems"]`` gives each distinct problem once with its count and first positions."""

    code = AssessmentError.IMPORT_REJECTED

    def __init__(self, errors: Sequence[RecordError] | Problems):
        if isinstance(errors, Problems):
            problems = errors
        else:
            problems = Problems()
            problems.extend(errors)
        examples = problems.examples
        if problems.total == 1:
            detail = f"Nothing imported: {examples[0]}"
        else:
            detail = (
                f"Nothing imported: {problems.total:,} bad records, {len(problems.counts)} distinct "
                f"problem{'s' if len(problems.counts) > 1 else ''}: " + "; ".join(problems.summary())
            )
        super().__init__(detail, fields={"records": [str(e) for e in examples], "problems": problems.summary()})
        self.errors = examples
        self.problems = problems


def meters_resolve(*, user, meter_ids: dict[str, str]) -> dict[str, Meter]:
    """``meter_ids``: meter id -> the first record naming it.

    A meter that is not registered and a meter the caller may not write are refused alike (403, "not registered
    or not yours"), so that a file cannot probe which meter ids exist. ``user`` None: a trusted internal caller.
    """
    found = {m.meter_id: m for m in Meter.objects.filter(meter_id__in=meter_ids).select_related("premise")}
    writable = set(found)
    if user is not None:
        writable = set(
            meters_writable_by(user).filter(pk__in=[m.pk for m in found.values()]).values_list("meter_id", flat=True)
        )
    refused = sorted(mid for mid in meter_ids if mid not in writable)
    if refused:
        if user is None:
            raise ImportRejected([RecordError(meter_ids[mid], f"meter {mid!r} is not registered") for mid in refused])
        raise NotPermitted(
            f"You may not send readings for meter(s) {', '.join(refused)}: not registered, or not yours.",
            fields={"records": [f"{meter_ids[mid]}: meter {mid!r} is not registered or not yours" for mid in refused]},
        )
    return found


def meter_for_upload(*, user, meter_id: str) -> Meter:
    """The meter a single-meter upload (Green Button) targets, if the caller may write it; checked before the
    body is read. A meter that does not exist and one that is not the caller's get the same 404."""
    meter = meters_writable_by(user).filter(meter_id=meter_id).first()
    if meter is None:
        raise NotFound(f"No meter {meter_id!r} among the meters you may send readings for.")
    return meter


def account_problems(*, meters: dict[str, Meter], account_number: str, ref: str) -> list[RecordError]:
    errors = []
    for m in meters.values():
        on_file = m.premise.utility_account_number
        if not on_file:
            errors.append(RecordError(ref, f"premise of meter {m.meter_id} has no utility account number on file"))
        elif on_file != account_number:
            errors.append(
                RecordError(
                    ref, f"utility account {account_number!r} is not the account of meter {m.meter_id}'s premise"
                )
            )
    return errors


def tz_offset_problems(*, meters: dict[str, Meter], offset_seconds: int, at: datetime) -> list[RecordError]:
    errors = []
    for m in meters.values():
        tz = m.local_timezone
        local = at.astimezone(ZoneInfo(tz))
        standard = (local.utcoffset() or timedelta(0)) - (local.dst() or timedelta(0))
        if int(standard.total_seconds()) != offset_seconds:
            errors.append(
                RecordError(
                    "LocalTimeParameters",
                    f"tzOffset {offset_seconds} s is not the standard offset of {tz} "
                    f"({int(standard.total_seconds())} s)",
                )
            )
    return errors


def validate_rows(rows: Sequence[ParsedReading], meters: dict[str, Meter]) -> Problems:
    """Record-level checks against the meters; pure apart from reading the meters' interval.

    Every record is checked (the counts are exact); each distinct problem keeps its first few records."""
    problems = Problems()
    seen: dict[tuple[str, datetime], str] = {}
    for row in rows:
        meter = meters[row.meter_id]
        step = meter.interval_minutes * 60
        if not plausible.is_plausible(row.start):  # whatever the format: 0001 or 9999 poisons every later read
            problems.add(row.ref, f"{row.start.isoformat()}: {plausible.window_message()}", "date outside the window")
            continue
        if int(row.start.timestamp()) % step:
            problems.add(
                row.ref,
                f"{row.start.isoformat()} is not on a {meter.interval_minutes}-minute boundary",
                f"start not on the meter's {meter.interval_minutes}-minute boundary",
            )
        if row.duration_seconds is not None and row.duration_seconds != step:
            problems.add(
                row.ref,
                f"duration {row.duration_seconds} s is not the meter's interval ({step} s)",
                f"duration is not the meter's interval ({step} s)",
            )
        if row.kwh < 0:
            problems.add(row.ref, f"negative energy {row.kwh} kWh", "negative energy")
        elif row.kwh >= KWH_MAX or row.kwh != row.kwh.quantize(KWH_STEP):
            problems.add(
                row.ref, f"{row.kwh} kWh: more than 4 decimals or out of range", "more than 4 decimals or out of range"
            )
        key = (row.meter_id, row.start)
        if key in seen:
            problems.add(
                row.ref, f"meter {row.meter_id} at {row.start.isoformat()} repeats {seen[key]}", "reading repeated"
            )
        else:
            seen[key] = row.ref
    return problems


def readings_import(
    *,
    user,
    source: str,
    parsed: ParseResult,
    filename: str = "",
    account_number: str = "",
    now: datetime | None = None,
) -> ImportBatch:
    """Store a parsed file or batch all-or-nothing and return its :class:`ImportBatch`.

    ``user`` None means a trusted internal caller (no permission check). ``account_number`` overrides the
    one the file names. Raises :class:`ImportRejected` (400) naming the bad records, NotPermitted (403).
    """
    now = now or timezone.now()
    rows = parsed.rows
    if not rows:
        raise ImportRejected(parsed.problems or [RecordError("file", "no readings")])
    first_ref: dict[str, str] = {}
    for row in rows:
        first_ref.setdefault(row.meter_id, row.ref)
    meters = meters_resolve(user=user, meter_ids=first_ref)
    account_number = (account_number or parsed.account_number).strip()
    errors = Problems()
    errors.merge(parsed.problems)  # the records that did not parse, then the rules on those that did
    if account_number:
        errors.extend(account_problems(meters=meters, account_number=account_number, ref="account_number"))
    if parsed.meta.get("tz_offset_seconds") is not None:
        errors.extend(
            tz_offset_problems(meters=meters, offset_seconds=parsed.meta["tz_offset_seconds"], at=rows[0].start)
        )
    errors.merge(validate_rows(rows, meters))
    if errors:
        raise ImportRejected(errors)
    try:
        return _store(
            user=user,
            source=source,
            rows=rows,
            meters=meters,
            filename=filename,
            account_number=account_number,
            skipped=parsed.skipped,
            now=now,
        )
    except IntegrityError as exc:
        raise Conflict("Another import stored some of these readings at the same time; send the file again.") from exc


@transaction.atomic
def _store(*, user, source, rows, meters, filename, account_number, skipped, now) -> ImportBatch:
    by_meter: dict[int, list[ParsedReading]] = {}
    for row in rows:
        by_meter.setdefault(meters[row.meter_id].pk, []).append(row)
    new: list[MeterReading] = []
    changed: list[tuple[MeterReading, Decimal]] = []
    unchanged = 0
    for meter_pk, meter_rows in sorted(by_meter.items()):
        starts = [r.start for r in meter_rows]
        existing = {
            r.start: r
            for r in MeterReading.objects.select_for_update()
            .filter(meter_id=meter_pk, start__gte=min(starts), start__lte=max(starts))
            .only("id", "start", "kwh")
        }
        for row in meter_rows:
            stored = existing.get(row.start)
            if stored is None:
                new.append(MeterReading(meter_id=meter_pk, start=row.start, kwh=row.kwh))
            elif stored.kwh == row.kwh:
                unchanged += 1
            else:
                changed.append((stored, row.kwh))
    batch = ImportBatch.objects.create(
        source=source,
        filename=filename[:255],
        uploaded_by=user if getattr(user, "is_authenticated", False) else None,
        account_number=account_number,
        created_at=now,
        rows_skipped=skipped,
    )
    batch.meters.set(sorted({m.pk for m in meters.values()}))
    MeterReading.objects.bulk_create(new, batch_size=5000)
    revisions = []
    for reading, new_kwh in changed:
        revisions.append(
            ReadingRevision(
                meter_id=reading.meter_id,
                start=reading.start,
                old_kwh=reading.kwh,
                new_kwh=new_kwh,
                batch=batch,
                revised_at=now,
            )
        )
        reading.kwh = new_kwh
    MeterReading.objects.bulk_update([r for r, _ in changed], ["kwh"], batch_size=5000)
    ReadingRevision.objects.bulk_create(revisions, batch_size=5000)
    batch.rows_total, batch.rows_new, batch.rows_unchanged, batch.rows_revised = (
        len(rows),
        len(new),
        unchanged,
        len(changed),
    )
    batch.save(update_fields=["rows_total", "rows_new", "rows_unchanged", "rows_revised"])
    if account_number:
        ownership_confirm(meters=list(meters.values()), batch=batch, now=now)
    statuses_refresh_on_commit([m.pk for m in meters.values()])
    return batch


def statuses_refresh_on_commit(meter_ids: list[int]) -> None:
    """New data may validate a meter (or show it back online): re-assess it once the import is committed."""
    from .. import tasks

    ids = sorted(set(meter_ids))
    for i in range(0, len(ids), tasks.STATUS_REFRESH_CHUNK):
        chunk = ids[i : i + tasks.STATUS_REFRESH_CHUNK]
        transaction.on_commit(lambda chunk=chunk: tasks.refresh_meter_statuses_for.delay(chunk))


def ownership_confirm(*, meters: Sequence[Meter], batch: ImportBatch, now: datetime) -> None:
    """Record that a file carrying the premise's utility account was accepted for these meters."""
    for meter in meters:
        status, _ = MeterStatus.objects.get_or_create(meter=meter)
        if status.ownership_verified_at is None:
            status.ownership_verified_at = now
            status.ownership_batch = batch
            status.save(update_fields=["ownership_verified_at", "ownership_batch"])
