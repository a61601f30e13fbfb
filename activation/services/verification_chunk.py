"""A chunk of events verified set-based (issue #21, ADR 0046): the rule of :func:`.verification._event_verify` and
:func:`.performance.event_performance_record`, with the reads made once per chunk and the writes in bulk.

Per chunk, one statement per kind of read: the events (locked, in id order), their verifications, their premises'
revenue meters, which events have VEN reports, the readings of the event windows, the baselines
(:func:`assessment.settlement_baselines.baselines_prepare`: programs, choices, stored baselines, the meters'
history in one statement, event days, temperatures), the dispatched device commands, the outbox commands and
their failures, the opt-outs, the performance rows, the enrollments (locked, in id order) and the penalties
stored; then the verifications, their intervals, the baselines, the performance rows, the penalties (notified
together) and the enrollments written in bulk, in one transaction.

The chunk path takes the common case: a completed, unverified event of a metered premise without VEN reports,
whose meter data is complete and whose baseline computes. Every other event, and every event of a premise that
has one such (so that one premise's events, its baseline choices and its enrollment are always handled in order
by one path), is left to the per-event path, which refuses, skips or verifies it exactly as before, after the
chunk commits. Chunks sharing a meter wait for each other (``settlement_baselines``' lock per meter); a unique
key hit all the same runs the chunk again. The numbers are the per-event path's: the same baselines, intervals, performance, penalties and
enrollment changes (``activation/tests/test_verify_chunk_path.py`` compares the two).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from accounts.models import Device, Meter
from accounts.selectors.devices import device_ref
from assessment.selectors import meters_window_readings
from assessment.services import interval_starts
from assessment.settlement_baselines import Prepared, baselines_prepare, baselines_save

from .. import notify
from ..models import (
    DataSource,
    DeviceDispatch,
    DispatchSignal,
    DREvent,
    Enrollment,
    EventPerformance,
    EventVerification,
    OadrReport,
    OptOut,
    OutboxMessage,
    Penalty,
    VerificationInterval,
)
from .penalties import penalty_amount, penalty_rate_per_mwh
from .performance import enrollment_outcome, performance_indicators, performance_threshold
from .units import KWH


def events_verify_chunk(*, event_ids: list[int], now: datetime) -> tuple[dict[int, tuple[bool, int | None]], list[int]]:
    """Verify what the chunk path takes of these events in one transaction. Returns ``{event id: (recorded now,
    shortfall penalty id)}`` for the events it verified or found verified, and the ids left to the per-event
    path (in the given order)."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                done, rest = _verify(event_ids, now)
            return done, [e for e in event_ids if e in rest]
        except IntegrityError:
            # a baseline choice or baseline of the chunk stored meanwhile by another worker (a premise's other
            # event in another chunk, its settlement's recovery baseline): again, reading what it stored
            continue
    return {}, list(event_ids)  # still racing: one by one


def _verify(event_ids: list[int], now: datetime) -> tuple[dict, set[int]]:
    events = {
        e.pk: e
        for e in DREvent.objects.select_for_update(of=("self",))
        .select_related("premise", "program", "award")
        .filter(pk__in=event_ids)
        .order_by("pk")
    }
    order = [pk for pk in event_ids if pk in events]
    done: dict[int, tuple[bool, int | None]] = {
        pk: (False, None)
        for pk in EventVerification.objects.filter(event_id__in=order).values_list("event_id", flat=True)
    }
    todo = [pk for pk in order if pk not in done]
    meters: dict[int, Meter] = {}
    for meter in Meter.objects.filter(premise_id__in={events[pk].premise_id for pk in todo}).order_by(
        "premise_id", "id"
    ):
        meters.setdefault(meter.premise_id, meter)
    reported = set(
        OadrReport.objects.filter(event_id__in=todo, ven__isnull=False).values_list("event_id", flat=True).distinct()
    )
    away = {  # premises left to the per-event path, with all their events
        events[pk].premise_id
        for pk in todo
        if events[pk].status != DREvent.Status.COMPLETED or events[pk].premise_id not in meters or pk in reported
    }
    todo = [pk for pk in todo if events[pk].premise_id not in away]
    for pk in todo:
        meters[events[pk].premise_id].premise = events[pk].premise
    starts = {pk: interval_starts(events[pk].start, events[pk].end, meters[events[pk].premise_id].interval_minutes)
              for pk in todo}  # fmt: skip
    actual = meters_window_readings(
        windows={pk: (meters[events[pk].premise_id].pk, events[pk].start, events[pk].end) for pk in todo}
    )
    away |= {events[pk].premise_id for pk in todo if any(s not in actual[pk] for s in starts[pk])}
    todo = [pk for pk in todo if events[pk].premise_id not in away]
    batch = baselines_prepare(
        items=[(meters[events[pk].premise_id], events[pk].start, events[pk].end) for pk in todo], now=now
    )
    away |= {events[pk].premise_id for pk, r in zip(todo, batch.results, strict=True) if not isinstance(r, Prepared)}
    keep = [i for i, pk in enumerate(todo) if events[pk].premise_id not in away]
    baselines_save(batch=batch, keep=keep)
    todo = [todo[i] for i in keep]
    prepared = {todo[n]: batch.results[i] for n, i in enumerate(keep)}
    rest = {pk for pk in order if pk not in done and pk not in prepared}
    rest |= set(event_ids) - set(events)  # unknown ids: the per-event path raises as before
    if not todo:
        return done, rest

    verifications, intervals, rows_of = [], [], {}
    for pk in todo:
        event, p = events[pk], prepared[pk]
        base, act = p.values, actual[pk]
        rows = [(s, base[s], act[s], base[s] - act[s]) for s in starts[pk]]
        rows_of[pk] = rows
        delivered = sum((r[3] for r in rows), Decimal("0"))
        if not (event.program_id and event.program.allows_negative_credit):
            delivered = max(delivered, Decimal("0"))
        hours = Decimal((event.end - event.start).total_seconds()) / Decimal(3600)
        v = EventVerification(
            event=event,
            baseline=p.baseline,
            baseline_source=DataSource.METER,
            actual_source=DataSource.METER,
            baseline_kwh=sum((r[1] for r in rows), Decimal("0")),
            actual_kwh=sum((r[2] for r in rows), Decimal("0")),
            delivered_kwh=delivered,
            committed_kwh=(event.target_kw * hours).quantize(KWH),
            verified_at=now,
        )
        verifications.append(v)
    EventVerification.objects.bulk_create(verifications)
    for v in verifications:
        intervals += [
            VerificationInterval(
                verification=v, start=s, baseline_kwh=b, actual_kwh=a, delivered_kwh=d, actual_source=DataSource.METER
            )
            for s, b, a, d in rows_of[v.event_id]
        ]
    VerificationInterval.objects.bulk_create(intervals)
    penalties = _performance(events, verifications, rows_of, now)
    for v in verifications:
        done[v.event_id] = (True, penalties.get(v.event_id))
    return done, rest


def _accountable_kw(events, ids) -> dict[int, Decimal | None]:
    """``selectors.event_accountable_kw`` of each event, in four reads for the chunk."""
    dispatches: dict[int, list] = {}
    for event_id, device_id, shed in DeviceDispatch.objects.filter(event_id__in=ids).values_list(
        "event_id", "device_id", "shed_kw"
    ):
        dispatches.setdefault(event_id, []).append((device_id, shed))
    bare = [pk for pk in ids if pk not in dispatches]
    signalled = set(DispatchSignal.objects.filter(event_id__in=bare).values_list("event_id", flat=True))
    with_devices = set(
        Device.objects.filter(premise_id__in={events[pk].premise_id for pk in signalled}, active=True).values_list(
            "premise_id", flat=True
        )
    )
    failed: dict[int, set[str]] = {}
    for event_id, destination in (
        OutboxMessage.objects.filter(
            event_id__in=list(dispatches),
            channel__in=[OutboxMessage.Channel.MQTT, OutboxMessage.Channel.OCPP, OutboxMessage.Channel.S2],
            status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED, OutboxMessage.Status.CANCELLED],
        )
        .exclude(last_error__startswith="station rejected")
        .exclude(last_error__startswith="CEM rejected")
        .exclude(destination__contains="#")
        .values_list("event_id", "destination")
    ):
        failed.setdefault(event_id, set()).add(destination)
    out: dict[int, Decimal | None] = {}
    for pk in ids:
        if pk not in dispatches:
            has = pk in signalled and events[pk].premise_id in with_devices
            out[pk] = Decimal("0.000") if has else None
            continue
        refs = failed.get(pk, set())
        total = sum((shed for device_id, shed in dispatches[pk] if device_ref(device_id) not in refs), Decimal("0.000"))
        out[pk] = min(total, events[pk].target_kw)
    return out


def _performance(events, verifications, rows_of, now) -> dict[int, int]:
    """Indicators, penalties and enrollment changes of the verified events, in event order (an enrollment's
    failures count event after event, as one by one); returns the shortfall penalty id per event."""
    ids = [v.event_id for v in verifications]
    accountable = _accountable_kw(events, ids)
    commands = {
        r["event_id"]: r
        for r in OutboxMessage.objects.filter(event_id__in=ids, channel=OutboxMessage.Channel.MQTT)
        .exclude(destination__endswith="#restore")
        .values("event_id")
        .annotate(sent=Count("id"), acked=Count("id", filter=Q(status=OutboxMessage.Status.ACKNOWLEDGED)))
        .order_by()
    }
    opted = set(OptOut.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
    existing = {p.event_id: p for p in EventPerformance.objects.filter(event_id__in=ids)}
    enrollments = {
        (e.program_id, e.premise_id): e
        for e in Enrollment.objects.select_for_update()
        .filter(
            program_id__in={events[pk].program_id for pk in ids}, premise_id__in={events[pk].premise_id for pk in ids}
        )
        .order_by("pk")
    }
    stored_penalties = {
        p.event_id: p for p in Penalty.objects.filter(event_id__in=ids, reason=Penalty.Reason.SHORTFALL)
    }
    new_rows, updated, new_penalties, changed = [], [], [], {}
    penalty_of: dict[int, Penalty] = {}
    for v in verifications:
        event = events[v.event_id]
        c = commands.get(event.pk, {"sent": 0, "acked": 0})
        indicators, magnitude, committed = performance_indicators(
            event=event,
            verification=v,
            rows=rows_of[event.pk],
            accountable_kw=accountable[event.pk],
            sent=c["sent"],
            acked=c["acked"],
            opted_out=event.pk in opted,
            now=now,
        )
        if event.pk in existing:
            row = existing[event.pk]
            for k, value in indicators.items():
                setattr(row, k, value)
            updated.append(row)
        else:
            new_rows.append(EventPerformance(event=event, **indicators))
        program = event.program
        if program is None:
            continue
        met = magnitude >= performance_threshold(program)
        if not met:
            shortfall = (committed - v.delivered_kwh).quantize(KWH)
            rate = penalty_rate_per_mwh(event=event, program=program)
            if rate > 0 and shortfall > 0:
                if event.pk in stored_penalties:  # ``penalty_record``'s get_or_create: the stored one
                    penalty_of[event.pk] = stored_penalties[event.pk]
                else:
                    penalty = Penalty(
                        event=event,
                        reason=Penalty.Reason.SHORTFALL,
                        premise=event.premise,
                        payer_id=event.premise.organisation_id,
                        shortfall_kwh=shortfall,
                        rate_per_mwh=rate,
                        amount=penalty_amount(shortfall_kwh=shortfall, rate_per_mwh=rate),
                        delivery_start=event.start,
                        created_at=now,
                    )
                    new_penalties.append(penalty)
                    penalty_of[event.pk] = penalty
        enrollment = enrollments.get((program.pk, event.premise_id))
        fields = enrollment_outcome(enrollment=enrollment, program=program, met=met)
        if fields:
            changed[enrollment.pk] = enrollment
    EventPerformance.objects.bulk_create(new_rows)
    if updated:
        EventPerformance.objects.bulk_update(updated, list(indicators))
    Penalty.objects.bulk_create(new_penalties)
    notify.penalties_recorded(new_penalties, now=now)  # in the fact's transaction (ADR 0030)
    if changed:
        Enrollment.objects.bulk_update(list(changed.values()), ["consecutive_failures", "status", "derate"])
    return {pk: p.pk for pk, p in penalty_of.items()}
