"""Write services for activation: events from awards, dispatch, lifecycle, verification of delivery."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from assessment.services import baseline_compute, interval_starts
from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from market.models import Award

from .dispatch import openadr_event_payload as _openadr_event_payload  # noqa: F401 - used by openadr_services
from .models import (
    Cascade,
    CascadeStep,
    DispatchSignal,
    DREvent,
    EmergencyStop,
    Enrollment,
    EventPerformance,
    EventVerification,
    OptOut,
    OutboxMessage,
    Penalty,
    Program,
    Reservation,
    VerificationInterval,
    WebhookEndpoint,
)
from .protocols import mqtt as mqtt_protocol

KWH = Decimal("0.0001")


@transaction.atomic
def event_create_for_award(*, award_id: int, now: datetime | None = None) -> DREvent:
    """Each award becomes one event for its resource in the day-ahead market program; created once, then
    dispatched. The market's gate closure is the award's notice, so the program notice check does not apply;
    a suspended resource or an engaged emergency stop leaves the event scheduled (not dispatched)."""
    award = Award.objects.select_related("premise", "request").get(pk=award_id)
    program = market_program()
    event, created = DREvent.objects.get_or_create(
        award=award,
        defaults={
            "premise": award.premise,
            "zone": award.premise.grid_zone,
            "target_kw": award.kw,
            "start": award.window_start,
            "end": award.window_end,
            "program": program,
            "source": DREvent.Source.AWARD,
            # settled at the award's price (uniform clearing price, or the trade's price), paid by its buyer
            "price_per_mwh": award.clearing_price_per_mwh,
            "buyer_id": award.buyer_id,
        },
    )
    if created:
        Enrollment.objects.get_or_create(
            program=program,
            premise=award.premise,
            defaults={"committed_kw": award.kw, "safety_max_kw": award.kw, "tier": 1},
        )
        if emergency_stop_active() is None:
            event_dispatch(event=event, now=now)
    return event


def event_dispatch(*, event: DREvent, now: datetime | None = None) -> DispatchSignal:
    """Notify the resource: the OpenADR dispatch signal, one outbox command per device (comfort and safety limits
    applied), one signed webhook per aggregator endpoint; scheduled -> notified. Refused under an emergency stop
    and for a cancelled or finished event. Idempotent: unique keys per signal, device and endpoint. The writing
    is ``activation.dispatch.events_dispatch_locked``, shared with the emergency call's bulk dispatch."""
    from .dispatch import events_dispatch_locked

    now = now or timezone.now()
    with transaction.atomic():
        event = (
            DREvent.objects.select_for_update(of=("self",))
            .select_related("zone", "program", "premise")
            .get(pk=event.pk)
        )
        if event.status in (DREvent.Status.CANCELLED, DREvent.Status.COMPLETED):
            raise ApplicationError(
                f"Event {event.pk} is {event.status}; it cannot be dispatched.", code="invalid_state"
            )
        stop = emergency_stop_active()
        if stop is not None:
            raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code="emergency_stop")
        events_dispatch_locked(events=[event], now=now)
        signal = DispatchSignal.objects.get(event=event, premise_id=event.premise_id)
    return signal


def _subscription_notifications(*, event: DREvent, now: datetime, operation: str = "CREATE") -> None:
    """OpenADR 3 subscriptions to the event's operation: notifications through the outbox
    (``activation.openadr_services.notify_event``)."""
    from .openadr_services import notify_event

    notify_event(event=event, operation=operation, now=now)


def _enqueue_flush() -> None:
    from . import tasks

    if not getattr(settings, "OUTBOX_FLUSH_ON_COMMIT", True):
        return
    tasks.flush_outbox.delay()


def _outbox_put(*, event, channel, destination, topic, payload, now, ack_by) -> OutboxMessage:
    message_id = uuid.uuid4()
    row, created = OutboxMessage.objects.get_or_create(
        event=event,
        channel=channel,
        destination=destination,
        defaults={
            "message_id": message_id,
            "topic": topic,
            "payload": {**payload, "message_id": str(message_id)},
            "next_attempt_at": now,
            "ack_deadline": ack_by,
        },
    )
    return row


def events_advance(*, now: datetime | None = None) -> int:
    """Move events along their lifecycle by the clock: notified -> active -> completed."""
    now = now or timezone.now()
    changed = 0
    with transaction.atomic():
        changed += DREvent.objects.filter(status=DREvent.Status.NOTIFIED, start__lte=now, end__gt=now).update(
            status=DREvent.Status.ACTIVE, activated_at=now
        )
        changed += DREvent.objects.filter(
            status__in=[DREvent.Status.NOTIFIED, DREvent.Status.ACTIVE], end__lte=now
        ).update(status=DREvent.Status.COMPLETED, completed_at=now)
    return changed


def event_verify(*, event_id: int, now: datetime | None = None) -> EventVerification:
    """Delivered energy per interval = baseline - actual, never below zero; stored once per event.

    The actual per interval is the meter reading, else the usage the resource's VEN reported over OpenADR 3 for
    that interval (meter data takes precedence); a resource without a meter is verified from its VEN's reports
    alone, against the BASELINE it reported. The record says which source was used (``actual_source``,
    ``baseline_source``, and per interval). Refused until the event has completed and every interval has data.
    """
    from .models import DataSource
    from .selectors import ven_reported_energy

    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update(of=("self",)).select_related("premise", "program").get(pk=event_id)
        existing = EventVerification.objects.filter(event=event).first()
        if existing is not None:
            return existing
        if event.status != DREvent.Status.COMPLETED:
            raise ApplicationError(f"Event {event.pk} is {event.status}, not completed.", code="invalid_state")
        meter = event.premise.meters.order_by("id").first()
        minutes, reported = ven_reported_energy(event=event, minutes=meter.interval_minutes if meter else None)
        if meter is not None:
            from assessment.selectors import meter_readings

            baseline = baseline_compute(meter=meter, window_start=event.start, window_end=event.end, now=now)
            base = dict(baseline.intervals.values_list("start", "kwh"))
            actual = dict(meter_readings(meter=meter, start=event.start, end=event.end).values_list("start", "kwh"))
            baseline_source = DataSource.METER
        elif reported:
            baseline, baseline_source = None, DataSource.VEN_REPORT
            base = {s: v.baseline_kwh for s, v in reported.items() if v.baseline_kwh is not None}
            actual = {}
        else:
            raise ApplicationError("The premise has no meter and its VEN has reported nothing.", code="no_meter")
        starts = interval_starts(event.start, event.end, minutes)
        sources = {s: DataSource.METER for s in actual}
        for s, v in reported.items():
            if s not in actual and v.usage_kwh is not None:
                actual[s], sources[s] = v.usage_kwh, DataSource.VEN_REPORT
        missing = [s for s in starts if s not in actual or s not in base]
        if missing:
            raise ApplicationError(
                f"Event {event.pk}: {len(missing)} interval(s) without meter data or a VEN report, "
                f"first {missing[0].isoformat()}.",
                code="meter_data_incomplete",
            )
        used = {sources[s] for s in starts}
        actual_source = used.pop() if len(used) == 1 else DataSource.MIXED
        rows = []
        for s in starts:
            delivered = base[s] - actual[s]
            if not (event.program_id and event.program.allows_negative_credit):
                delivered = max(delivered, Decimal("0"))
            rows.append((s, base[s], actual[s], delivered))
        hours = Decimal((event.end - event.start).total_seconds()) / Decimal(3600)
        verification = EventVerification.objects.create(
            event=event,
            baseline=baseline,
            baseline_source=baseline_source,
            actual_source=actual_source,
            baseline_kwh=sum((r[1] for r in rows), Decimal("0")),
            actual_kwh=sum((r[2] for r in rows), Decimal("0")),
            delivered_kwh=sum((r[3] for r in rows), Decimal("0")),
            committed_kwh=(event.target_kw * hours).quantize(KWH),
            verified_at=now,
        )
        VerificationInterval.objects.bulk_create(
            [
                VerificationInterval(
                    verification=verification,
                    start=s,
                    baseline_kwh=b,
                    actual_kwh=a,
                    delivered_kwh=d,
                    actual_source=sources[s],
                )
                for s, b, a, d in rows
            ]
        )
        _performance_and_compliance(event=event, verification=verification, rows=rows, now=now)
        # Payment follows in the settlement run of the event's window (settlement.services.runs: daily beat
        # ``settle-day`` and on demand); penalties are charged at once (``_penalty_to_settlement``).
    return verification


def events_verify_due(*, now: datetime | None = None) -> list[int]:
    """Verify every completed event without a verification whose meter data is complete."""
    verified = []
    for event_id in DREvent.objects.filter(status=DREvent.Status.COMPLETED, verification__isnull=True).values_list(
        "pk", flat=True
    ):
        try:
            event_verify(event_id=event_id, now=now)
        except ApplicationError as exc:
            if exc.code != "meter_data_incomplete":
                raise
            continue
        verified.append(event_id)
    return verified


# --- Programs, enrollments ------------------------------------------------------------------------------------

MARKET_PROGRAM_CODE = "day-ahead-market"
EMERGENCY_PROGRAM_CODE = "emergency"
MONEY = Decimal("0.01")


def market_program() -> Program:
    """The program market awards run under (the day-ahead market's performance and penalty rules)."""
    program, _ = Program.objects.get_or_create(
        code=MARKET_PROGRAM_CODE,
        defaults={
            "name": "Day-ahead flexibility market",
            "notice_minutes": 0,
            "max_events_per_day": 2,
            "max_events_per_month": 31,
            "penalty_rate_per_mwh": Decimal("100.00"),
            "opt_out_consequence": Program.OptOutConsequence.PENALTY,
        },
    )
    return program


def program_create(**fields) -> Program:
    program = Program(**fields)
    program.full_clean()
    program.save()
    return program


def enrollment_create(
    *,
    program: Program,
    premise,
    committed_kw: Decimal,
    safety_max_kw: Decimal | None = None,
    tier: int = 1,
    response_minutes: int = 10,
) -> Enrollment:
    if committed_kw <= 0:
        raise ApplicationError("Committed kW must be positive.", fields={"committed_kw": ["Must be positive."]})
    enrollment, _ = Enrollment.objects.get_or_create(
        program=program,
        premise=premise,
        defaults={
            "committed_kw": committed_kw,
            "safety_max_kw": safety_max_kw or committed_kw,
            "tier": tier,
            "response_minutes": response_minutes,
        },
    )
    return enrollment


# --- Emergency stop -------------------------------------------------------------------------------------------


def emergency_stop_active() -> EmergencyStop | None:
    return EmergencyStop.objects.filter(engaged=True).first()


def emergency_stop_engage(*, user, reason: str, now: datetime | None = None) -> EmergencyStop:
    """Halt all automated dispatch now: no new dispatch, the outbox holds every unsent command, running cascades
    are halted. Any operator or admin may engage; the row is the audit record. Engaging twice returns the first."""
    from accounts.models import Membership
    from accounts.selectors import user_role

    if user_role(user) not in (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN):
        raise NotPermitted("Only grid operators and admins may engage the emergency stop.")
    if not reason.strip():
        raise ApplicationError("Give a reason.", fields={"reason": ["This field is required."]})
    now = now or timezone.now()
    with transaction.atomic():
        existing = EmergencyStop.objects.select_for_update().filter(engaged=True).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                stop = EmergencyStop.objects.create(engaged_by=user, engaged_at=now, reason=reason[:300])
        except IntegrityError:  # engaged concurrently by someone else
            return EmergencyStop.objects.get(engaged=True)
        for cascade in Cascade.objects.select_for_update().filter(status=Cascade.Status.RUNNING):
            cascade.status = Cascade.Status.HALTED
            cascade.save(update_fields=["status"])
            CascadeStep.objects.create(
                cascade=cascade,
                tier=cascade.current_tier,
                action=CascadeStep.Action.HALTED,
                at=now,
                detail=f"Emergency stop {stop.pk}: {reason[:200]}",
            )
    return stop


def emergency_stop_lift(*, user, reason: str = "", now: datetime | None = None) -> EmergencyStop:
    """Lift the engaged stop: admins only. Held outbox messages go out on the next flush."""
    from accounts.models import Membership
    from accounts.selectors import user_role

    if user_role(user) != Membership.Role.ADMIN:
        raise NotPermitted("Only a platform admin may lift the emergency stop.")
    now = now or timezone.now()
    with transaction.atomic():
        stop = EmergencyStop.objects.select_for_update().filter(engaged=True).first()
        if stop is None:
            raise ApplicationError("The emergency stop is not engaged.", code="invalid_state")
        stop.lifted_by = user
        stop.lifted_at = now
        stop.lift_reason = reason[:300]
        stop.engaged = None
        stop.save(update_fields=["lifted_by", "lifted_at", "lift_reason", "engaged"])
        transaction.on_commit(_enqueue_flush)
    return stop


# --- Events: creation with notice and caps, lifecycle, opt-out ------------------------------------------------


def _check_caps(*, program: Program, premise, start: datetime) -> None:
    """Max events per local day and per local month for the premise (every non-cancelled event counts)."""
    from .dispatch import premises_over_caps

    over = premises_over_caps(program=program, premises=[premise], start=start).get(premise.pk)
    if over is None:
        return
    code, n = over
    if code == "cap_per_day":
        raise Conflict(
            f"{premise} already has {n} event(s) that day (program max {program.max_events_per_day}).", code=code
        )
    raise Conflict(
        f"{premise} already has {n} event(s) that month (program max {program.max_events_per_month}).", code=code
    )


def _check_window(*, program: Program, start: datetime, end: datetime, now: datetime) -> None:
    """The event window is ordered and not over, and it respects the program's notice."""
    if end <= start:
        raise ApplicationError("The event must end after it starts.", fields={"end": ["Must be after start."]})
    if end <= now:
        raise ApplicationError("The event window is over.", fields={"end": ["Must be in the future."]})
    if start - now < timedelta(minutes=program.notice_minutes):
        raise ApplicationError(
            f"The program needs {program.notice_minutes} minutes' notice; the event starts in "
            f"{max(int((start - now).total_seconds() // 60), 0)}.",
            code="notice_too_short",
            fields={"start": [f"At least {program.notice_minutes} minutes from now."]},
        )


def event_create(
    *,
    program: Program,
    premise,
    target_kw: Decimal,
    start: datetime,
    end: datetime,
    source: str = DREvent.Source.OPERATOR,
    created_by=None,
    cascade: Cascade | None = None,
    tier: int | None = None,
    now: datetime | None = None,
    dispatch: bool = True,
    buyer=None,
) -> DREvent:
    """An event for one enrolled resource. Refused: window reversed or past, notice shorter than the program's,
    resource not enrolled or suspended, target above its available (derated) kW or safety limit, caps reached,
    emergency stop engaged. Its energy is settled at the program's energy rate, paid by ``buyer`` (default: the
    creator's operator organisation serving the zone, else the zone's operator)."""
    now = now or timezone.now()
    if target_kw <= 0:
        raise ApplicationError("Target must be positive.", fields={"target_kw": ["Must be positive."]})
    _check_window(program=program, start=start, end=end, now=now)
    if emergency_stop_active() is not None:
        raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code="emergency_stop")
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().filter(program=program, premise=premise).first()
        if enrollment is None:
            raise ApplicationError(f"{premise} is not enrolled in {program}.", code="not_enrolled")
        if enrollment.status == Enrollment.Status.SUSPENDED:
            raise Conflict(f"{premise} is suspended from {program}.", code="resource_suspended")
        available = (enrollment.committed_kw * enrollment.derate).quantize(Decimal("0.001"))
        limit = min(available, enrollment.safety_max_kw)
        if target_kw > limit:
            raise ApplicationError(
                f"Target {target_kw} kW is above the resource's available {limit} kW.",
                code="above_capacity",
                fields={"target_kw": [f"At most {limit} kW."]},
            )
        _check_caps(program=program, premise=premise, start=start)
        if buyer is None:
            from .selectors import zone_operator

            buyer = zone_operator(zone=premise.grid_zone, user=created_by)
        event = DREvent.objects.create(
            premise=premise,
            zone=premise.grid_zone,
            target_kw=target_kw,
            start=start,
            end=end,
            program=program,
            source=source,
            created_by=created_by,
            cascade=cascade,
            tier=tier,
            price_per_mwh=program.energy_rate_per_mwh,
            buyer=buyer,
        )
        if dispatch:
            event_dispatch(event=event, now=now)
            event.refresh_from_db()
    return event


def event_activate(*, event_id: int, now: datetime | None = None) -> DREvent:
    """notified -> active, once the window has started."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        if event.status == DREvent.Status.ACTIVE:
            return event
        if event.status != DREvent.Status.NOTIFIED:
            raise ApplicationError(f"Event {event.pk} is {event.status}, not notified.", code="invalid_state")
        if now < event.start:
            raise ApplicationError(f"Event {event.pk} starts at {event.start.isoformat()}.", code="not_started")
        event.status = DREvent.Status.ACTIVE
        event.activated_at = now
        event.save(update_fields=["status", "activated_at"])
    return event


def event_complete(*, event_id: int, now: datetime | None = None) -> DREvent:
    """active -> completed, once the window has ended."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        if event.status == DREvent.Status.COMPLETED:
            return event
        if event.status != DREvent.Status.ACTIVE:
            raise ApplicationError(f"Event {event.pk} is {event.status}, not active.", code="invalid_state")
        if now < event.end:
            raise ApplicationError(f"Event {event.pk} ends at {event.end.isoformat()}.", code="not_ended")
        event.status = DREvent.Status.COMPLETED
        event.completed_at = now
        event.save(update_fields=["status", "completed_at"])
    return event


def _cancel(event: DREvent, *, reason: str, now: datetime) -> None:
    event.status = DREvent.Status.CANCELLED
    event.cancelled_at = now
    event.cancel_reason = reason[:200]
    event.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    OutboxMessage.objects.filter(event=event, status=OutboxMessage.Status.PENDING).update(
        status=OutboxMessage.Status.CANCELLED
    )
    _subscription_notifications(event=event, now=now, operation="DELETE")  # OpenADR 3: the event is gone
    # Devices that already have the command get a restore command (through the outbox too).
    for row in OutboxMessage.objects.filter(
        event=event,
        channel=OutboxMessage.Channel.MQTT,
        status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.ACKNOWLEDGED, OutboxMessage.Status.NO_ACK],
    ).exclude(destination__contains="#"):  # one restore per device: not per revision, not of a restore
        _outbox_put(
            event=event,
            channel=OutboxMessage.Channel.MQTT,
            destination=f"{row.destination}#restore",
            topic=row.topic,
            payload={"event_id": event.pk, "device_id": row.destination, "command": "RESTORE"},
            now=now,
            ack_by=None,
        )
    transaction.on_commit(_enqueue_flush)


def event_cancel(*, event_id: int, user=None, reason: str = "", now: datetime | None = None) -> DREvent:
    """scheduled/notified/active -> cancelled (by the operator); devices are told to restore."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        if event.status == DREvent.Status.CANCELLED:
            return event
        if event.status == DREvent.Status.COMPLETED:
            raise ApplicationError(f"Event {event.pk} has completed.", code="invalid_state")
        _cancel(event, reason=reason or "cancelled by the operator", now=now)
    return event


def event_opt_out(*, event_id: int, user, now: datetime | None = None) -> OptOut:
    """The consumer opts the premise out, before or during the event; the program's consequence is recorded
    (forfeit: no payment; penalty: the remaining committed energy charged at the penalty rate)."""
    from accounts.selectors import premises_visible_to

    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update(of=("self",)).select_related("program", "premise").get(pk=event_id)
        if not premises_visible_to(user).filter(pk=event.premise_id).exists():
            raise NotPermitted("This event is not for one of your premises.")
        existing = OptOut.objects.filter(event=event).first()
        if existing is not None:
            return existing
        if event.status in (DREvent.Status.COMPLETED, DREvent.Status.CANCELLED) or now >= event.end:
            raise ApplicationError(f"Event {event.pk} is over; it can no longer be opted out of.", code="invalid_state")
        phase = OptOut.Phase.DURING if now >= event.start else OptOut.Phase.BEFORE
        program = event.program or market_program()
        opt = OptOut.objects.create(
            event=event, user=user, phase=phase, consequence=program.opt_out_consequence, at=now
        )
        rate = penalty_rate_per_mwh(event=event, program=program)
        if program.opt_out_consequence == Program.OptOutConsequence.PENALTY and rate > 0:
            remaining_h = Decimal((event.end - max(now, event.start)).total_seconds()) / Decimal(3600)
            shortfall = (event.target_kw * remaining_h).quantize(KWH)
            penalty = Penalty.objects.create(
                event=event,
                premise=event.premise,
                payer=event.premise.organisation,
                reason=Penalty.Reason.OPT_OUT,
                shortfall_kwh=shortfall,
                rate_per_mwh=rate,
                amount=(shortfall * rate / 1000).quantize(MONEY, rounding=ROUND_HALF_UP),
                delivery_start=event.start,
                created_at=now,
            )
            _penalty_to_settlement(penalty)
        _cancel(event, reason=f"opted out ({phase})", now=now)
    return opt


# --- Emergency events -----------------------------------------------------------------------------------------


EMERGENCY_CHUNK = 500  # resources per transaction of an emergency call (2,000 residential devices)


def emergency_event_create(
    *, program: Program, zone, start: datetime, end: datetime, user, now: datetime | None = None
) -> list[DREvent]:
    """Dispatch every resource enrolled in the emergency program in the zone at once, whatever its market
    position, each at its committed (derated) kW and never past its safety limit. Caps of the emergency
    program still apply (a capped resource is skipped, not the whole event; so is one with nothing available).
    Each event is settled at the program's energy rate, paid by the caller's operator serving its zone (as
    ``event_create``).

    Set-based and committed in chunks of ``EMERGENCY_CHUNK`` resources: each chunk locks its enrollments with
    one statement, counts the caps per time zone, inserts its events and dispatches them through
    ``activation.dispatch.events_dispatch_locked`` (every device command in the outbox before its commit), so
    the first devices are commanded (the on-commit flush) while the next chunk is written. Idempotent: a
    resource that already has this program's emergency event for the same window is skipped, so calling
    again after a failure part-way completes the dispatch without commanding anyone twice."""
    from accounts.models import Membership
    from accounts.selectors import user_role, zone_with_descendant_ids

    from .dispatch import events_dispatch_locked, insert_instances, premises_over_caps
    from .selectors import zone_operator

    if program.kind != Program.Kind.EMERGENCY:
        raise ApplicationError(
            f"{program} is not an emergency program.", fields={"program": ["Not an emergency program."]}
        )
    if user_role(user) not in (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN):
        raise NotPermitted("Only grid operators may call emergency events.")
    now = now or timezone.now()
    _check_window(program=program, start=start, end=end, now=now)
    zone_ids = zone_with_descendant_ids([zone])
    enrollment_ids = list(
        Enrollment.objects.filter(program=program, premise__grid_zone_id__in=zone_ids)
        .exclude(status=Enrollment.Status.SUSPENDED)
        .order_by("premise_id")
        .values_list("pk", flat=True)
    )
    events: list[DREvent] = []
    buyers: dict = {}
    for i in range(0, max(len(enrollment_ids), 1), EMERGENCY_CHUNK):
        with transaction.atomic():
            if emergency_stop_active() is not None:
                raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code="emergency_stop")
            enrollments = list(
                Enrollment.objects.select_for_update(of=("self",))
                .filter(pk__in=enrollment_ids[i : i + EMERGENCY_CHUNK])
                .exclude(status=Enrollment.Status.SUSPENDED)
                .select_related("premise__grid_zone")
                .order_by("premise_id")
            )
            done = set(
                DREvent.objects.filter(
                    program=program,
                    source=DREvent.Source.EMERGENCY,
                    start=start,
                    end=end,
                    premise_id__in=[e.premise_id for e in enrollments],
                )
                .exclude(status=DREvent.Status.CANCELLED)
                .values_list("premise_id", flat=True)
            )
            targets = [
                (e, min((e.committed_kw * e.derate).quantize(Decimal("0.001")), e.safety_max_kw))
                for e in enrollments
                if e.premise_id not in done
            ]
            targets = [(e, kw) for e, kw in targets if kw > 0]
            over = premises_over_caps(program=program, premises=[e.premise for e, _ in targets], start=start)
            for e, _ in targets:  # who pays: as event_create, the caller's operator serving the zone (per zone)
                if e.premise.grid_zone_id not in buyers:
                    buyers[e.premise.grid_zone_id] = zone_operator(zone=e.premise.grid_zone, user=user)
            chunk = [
                DREvent(
                    premise=e.premise,
                    zone=e.premise.grid_zone,
                    target_kw=kw,
                    start=start,
                    end=end,
                    program=program,
                    source=DREvent.Source.EMERGENCY,
                    created_by=user,
                    price_per_mwh=program.energy_rate_per_mwh,
                    buyer=buyers[e.premise.grid_zone_id],
                )
                for e, kw in targets
                if e.premise_id not in over
            ]
            insert_instances(chunk, now=now)
            events_dispatch_locked(events=chunk, now=now, fresh=True)
        events.extend(chunk)
    return events


# --- Cascades -------------------------------------------------------------------------------------------------


def _tier_enrollments(cascade: Cascade, tier: int):
    from accounts.selectors import zone_with_descendant_ids

    zone_ids = zone_with_descendant_ids([cascade.zone])
    return (
        Enrollment.objects.filter(program=cascade.program, tier=tier, premise__grid_zone_id__in=zone_ids)
        .exclude(status=Enrollment.Status.SUSPENDED)
        .select_related("premise")
        .order_by("premise_id")
    )


def _dispatch_tier(cascade: Cascade, tier: int, need_kw: Decimal, now: datetime) -> Decimal:
    dispatched = Decimal("0")
    max_response = 0
    for e in _tier_enrollments(cascade, tier):
        if dispatched >= need_kw:
            break
        kw = min((e.committed_kw * e.derate).quantize(Decimal("0.001")), e.safety_max_kw, need_kw - dispatched)
        if kw <= 0:
            continue
        try:
            with transaction.atomic():
                event_create(
                    program=cascade.program,
                    premise=e.premise,
                    target_kw=kw,
                    start=max(cascade.start, now),
                    end=cascade.end,
                    source=DREvent.Source.CASCADE,
                    cascade=cascade,
                    tier=tier,
                    now=now,
                    created_by=cascade.created_by,
                )
        except (Conflict, ApplicationError) as exc:
            CascadeStep.objects.create(
                cascade=cascade,
                tier=tier,
                action=CascadeStep.Action.DISPATCH,
                at=now,
                detail=f"{e.premise} skipped: {exc.detail}"[:300],
            )
            continue
        dispatched += kw
        max_response = max(max_response, e.response_minutes)
    cascade.current_tier = tier
    cascade.next_check_at = max(cascade.start, now) + timedelta(minutes=max_response or 1)
    cascade.save(update_fields=["current_tier", "next_check_at"])
    CascadeStep.objects.create(
        cascade=cascade,
        tier=tier,
        action=CascadeStep.Action.DISPATCH,
        at=now,
        dispatched_kw=dispatched,
        detail=f"Tier {tier}: {dispatched} kW of {need_kw} kW needed",
    )
    return dispatched


def _tiers(cascade: Cascade) -> list[int]:
    from accounts.selectors import zone_with_descendant_ids

    return sorted(
        set(
            Enrollment.objects.filter(
                program=cascade.program, premise__grid_zone_id__in=zone_with_descendant_ids([cascade.zone])
            ).values_list("tier", flat=True)
        )
    )


def cascade_start(
    *,
    program: Program,
    zone,
    target_kw: Decimal,
    start: datetime,
    end: datetime,
    user=None,
    source: str = DREvent.Source.OPERATOR,
    now: datetime | None = None,
) -> Cascade:
    """Target kW in a zone: tier 1 (the fastest) is dispatched now; later tiers by :func:`cascades_evaluate`."""
    now = now or timezone.now()
    if target_kw <= 0:
        raise ApplicationError("Target must be positive.", fields={"target_kw": ["Must be positive."]})
    if end <= start:
        raise ApplicationError("The cascade must end after it starts.", fields={"end": ["Must be after start."]})
    if emergency_stop_active() is not None:
        raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code="emergency_stop")
    with transaction.atomic():
        cascade = Cascade.objects.create(
            program=program, zone=zone, target_kw=target_kw, start=start, end=end, created_by=user, source=source
        )
        tiers = _tiers(cascade)
        if not tiers:
            cascade.status = Cascade.Status.EXHAUSTED
            cascade.save(update_fields=["status"])
            CascadeStep.objects.create(
                cascade=cascade,
                tier=0,
                action=CascadeStep.Action.EXHAUSTED,
                at=now,
                detail="No enrolled resources in the zone.",
            )
            return cascade
        _dispatch_tier(cascade, tiers[0], target_kw, now)
    return cascade


def cascade_evaluate(*, cascade_id: int, now: datetime | None = None) -> Cascade:
    """After the current tier's response time: measure; met -> done; short -> dispatch the next tier for the
    shortfall; no tier left -> exhausted. Every step is recorded."""
    from .selectors import event_measured_kw

    now = now or timezone.now()
    with transaction.atomic():
        cascade = Cascade.objects.select_for_update().get(pk=cascade_id)
        if cascade.status != Cascade.Status.RUNNING:
            return cascade
        if emergency_stop_active() is not None:
            cascade.status = Cascade.Status.HALTED
            cascade.save(update_fields=["status"])
            CascadeStep.objects.create(
                cascade=cascade, tier=cascade.current_tier, action=CascadeStep.Action.HALTED, at=now
            )
            return cascade
        measured = sum(
            (event_measured_kw(event=e, now=now) for e in cascade.events.exclude(status=DREvent.Status.CANCELLED)),
            Decimal("0"),
        ).quantize(Decimal("0.001"))
        CascadeStep.objects.create(
            cascade=cascade,
            tier=cascade.current_tier,
            action=CascadeStep.Action.MEASURE,
            at=now,
            measured_kw=measured,
            detail=f"{measured} kW of {cascade.target_kw} kW",
        )
        if measured >= cascade.target_kw:
            cascade.status = Cascade.Status.MET
            cascade.save(update_fields=["status"])
            CascadeStep.objects.create(
                cascade=cascade, tier=cascade.current_tier, action=CascadeStep.Action.MET, at=now, measured_kw=measured
            )
            return cascade
        later = [t for t in _tiers(cascade) if t > cascade.current_tier]
        if not later or now >= cascade.end:
            cascade.status = Cascade.Status.EXHAUSTED
            cascade.save(update_fields=["status"])
            CascadeStep.objects.create(
                cascade=cascade,
                tier=cascade.current_tier,
                action=CascadeStep.Action.EXHAUSTED,
                at=now,
                measured_kw=measured,
                detail=f"Short by {cascade.target_kw - measured} kW",
            )
            return cascade
        CascadeStep.objects.create(
            cascade=cascade,
            tier=later[0],
            action=CascadeStep.Action.ESCALATE,
            at=now,
            measured_kw=measured,
            detail=f"Short by {cascade.target_kw - measured} kW",
        )
        _dispatch_tier(cascade, later[0], cascade.target_kw - measured, now)
    return cascade


def cascades_evaluate_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    ids = list(
        Cascade.objects.filter(status=Cascade.Status.RUNNING, next_check_at__lte=now).values_list("pk", flat=True)
    )
    for pk in ids:
        cascade_evaluate(cascade_id=pk, now=now)
    return ids


# --- Grid signals and trigger rules ---------------------------------------------------------------------------


def grid_signal_post(
    *, operator, zone, kind: str, at: datetime, value: Decimal, user=None, now: datetime | None = None
):
    """Record one value of the operator's grid-signal feed, then fire every active rule it crosses (once)."""
    from .models import GridSignal, TriggerFiring, TriggerRule

    now = now or timezone.now()
    if kind not in GridSignal.Kind.values:
        raise ApplicationError(
            "Unknown signal kind.", fields={"kind": [f"One of {', '.join(GridSignal.Kind.values)}."]}
        )
    with transaction.atomic():
        signal, _ = GridSignal.objects.get_or_create(
            zone=zone, kind=kind, at=at, defaults={"operator": operator, "value": value}
        )
        fired = []
        for rule in TriggerRule.objects.filter(kind=kind, zone=zone, active=True).select_related("program"):
            if not rule.crossed(signal.value) or TriggerFiring.objects.filter(rule=rule, signal=signal).exists():
                continue
            start = max(signal.at + timedelta(minutes=rule.lead_minutes), now)
            try:
                with transaction.atomic():
                    cascade = cascade_start(
                        program=rule.program,
                        zone=rule.zone,
                        target_kw=rule.target_kw,
                        start=start,
                        end=start + timedelta(minutes=rule.duration_minutes),
                        user=user,
                        source=DREvent.Source.TRIGGER,
                        now=now,
                    )
                detail = f"{kind} {signal.value} crossed {rule.threshold}"
            except ApplicationError as exc:
                cascade, detail = None, f"not dispatched: {exc.detail}"
            fired.append(
                TriggerFiring.objects.create(rule=rule, signal=signal, cascade=cascade, at=now, detail=detail[:300])
            )
    return signal, fired


# --- Outbox delivery, acknowledgements, telemetry -------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(settings.OUTBOX_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), settings.OUTBOX_BACKOFF_MAX_SECONDS)
    )


def outbox_flush(*, now: datetime | None = None, limit: int = 20000, publisher=None) -> dict:
    """Send what is due. Held entirely while the emergency stop is engaged. A row is marked sent only after the
    broker's PUBACK (or the endpoint's 2xx); on failure it stays pending with exponential backoff. MQTT rows are
    never given up (never lost); webhooks after WEBHOOK_MAX_ATTEMPTS."""
    from .dispatch import in_values
    from .protocols import webhooks

    now = now or timezone.now()
    result = {"sent": 0, "failed": 0, "held": 0}
    if emergency_stop_active() is not None:
        result["held"] = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).count()
        return result
    own = publisher is None
    with transaction.atomic():
        # Due: pending rows, and MQTT commands sent but not acknowledged yet, again every OUTBOX_RESEND_SECONDS until
        # their deadline (a broker restarted empty acknowledges commands nobody receives; devices drop repeats).
        unacked = Q(status=OutboxMessage.Status.SENT, channel=OutboxMessage.Channel.MQTT, ack_deadline__gt=now)
        qs = OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING) | unacked, next_attempt_at__lte=now
        ).order_by("id")
        # MQTT rows as plain tuples with the payload as stored JSON text: published as is, no model instances
        # and no decode/re-encode for 10,000 commands.
        mqtt_rows = list(
            qs.filter(channel=OutboxMessage.Channel.MQTT)
            .select_for_update(skip_locked=True)
            .annotate(body=Cast("payload", output_field=TextField()))
            .values_list("id", "topic", "body", "attempts", "event_id")[:limit]
        )
        hook_rows = list(
            qs.filter(channel=OutboxMessage.Channel.WEBHOOK).select_for_update(skip_locked=True)[
                : max(limit - len(mqtt_rows), 0)
            ]
        )
        sent_events: set[int] = set()
        if mqtt_rows:
            ok: list[bool]
            error = ""
            try:
                publisher = publisher or mqtt_protocol.MqttPublisher()
                ok = publisher.publish_many([(topic, body) for _, topic, body, _, _ in mqtt_rows])
            except mqtt_protocol.BrokerUnavailable as exc:
                ok, error = [False] * len(mqtt_rows), str(exc)[:500]
            finally:
                if own and publisher is not None:
                    publisher.close()
            sent_at = timezone.now()
            _mark_mqtt_results(mqtt_rows, ok, sent_at=sent_at, now=now, error=error)
            sent_events = {row[4] for row, good in zip(mqtt_rows, ok, strict=True) if good}
            result["sent"] += sum(ok)
            result["failed"] += len(ok) - sum(ok)
        for row in hook_rows:
            row.attempts += 1
            if row.destination.startswith("subscription-"):
                body = {k: v for k, v in row.payload.items() if k not in ("bearerToken", "message_id")}
                res = webhooks.deliver_notification(url=row.topic, bearer=row.payload.get("bearerToken"), payload=body)
                endpoint = True
            else:
                endpoint = WebhookEndpoint.objects.filter(pk=int(row.destination.split("-")[1])).first()
                if endpoint is not None and endpoint.active:
                    res = webhooks.deliver(
                        url=endpoint.url, secret=endpoint.secret, message_id=str(row.message_id), payload=row.payload
                    )
            if endpoint is None or endpoint is not True and not endpoint.active:
                row.status, row.last_error = OutboxMessage.Status.CANCELLED, "endpoint removed"
            else:
                if res.ok:
                    row.status, row.sent_at, row.acked_at = (
                        OutboxMessage.Status.ACKNOWLEDGED,
                        timezone.now(),
                        timezone.now(),
                    )
                    result["sent"] += 1
                else:
                    row.last_error = (res.error or f"HTTP {res.status}")[:500]
                    result["failed"] += 1
                    if row.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                        row.status = OutboxMessage.Status.FAILED
                    else:
                        row.next_attempt_at = now + _backoff(row.attempts)
            row.save(update_fields=["attempts", "status", "sent_at", "acked_at", "last_error", "next_attempt_at"])
        event_ids = sorted(sent_events)
        for i in range(0, len(event_ids), 5000):
            DispatchSignal.objects.filter(
                event_id__in=in_values(event_ids[i : i + 5000]), status=DispatchSignal.Status.PENDING
            ).update(status=DispatchSignal.Status.SENT, sent_at=timezone.now())
    return result


def _mark_mqtt_results(rows, ok, *, sent_at: datetime, now: datetime, error: str) -> None:
    """Record publish outcomes of (id, topic, body, attempts, event_id) rows with a few set-based UPDATEs:
    sent rows in chunks (only while still pending: an ack that overtook us stays), failed ones grouped by
    attempt count with their backoff."""
    from django.db.models import Case, DateTimeField, F, Value, When

    from .dispatch import in_values

    ack_by = sent_at + timedelta(seconds=settings.DEVICE_ACK_SECONDS)
    resend_at = now + timedelta(seconds=settings.OUTBOX_RESEND_SECONDS)
    good = [r[0] for r, g in zip(rows, ok, strict=True) if g]
    for i in range(0, len(good), 5000):
        # Re-sent commands (still unacknowledged) keep their deadline; first sends are marked sent below.
        OutboxMessage.objects.filter(pk__in=in_values(good[i : i + 5000]), status=OutboxMessage.Status.SENT).update(
            attempts=F("attempts") + 1, next_attempt_at=resend_at, last_error=""
        )
        OutboxMessage.objects.filter(pk__in=in_values(good[i : i + 5000]), status=OutboxMessage.Status.PENDING).update(
            status=OutboxMessage.Status.SENT,
            sent_at=sent_at,
            attempts=F("attempts") + 1,
            next_attempt_at=resend_at,
            last_error="",
            # Commands wait for the device's ack from now on; notifications have no deadline.
            ack_deadline=Case(
                When(ack_deadline__isnull=False, then=Value(ack_by, output_field=DateTimeField())),
                default=None,
                output_field=DateTimeField(),
            ),
        )
    by_attempts: dict[int, list[int]] = {}
    for r, g in zip(rows, ok, strict=True):
        if not g:
            by_attempts.setdefault(r[3] + 1, []).append(r[0])
    for attempts, pks in by_attempts.items():
        for i in range(0, len(pks), 2000):
            OutboxMessage.objects.filter(pk__in=pks[i : i + 2000]).update(
                attempts=attempts,
                next_attempt_at=now + _backoff(attempts),
                last_error=error or "not acknowledged by the broker",
            )


def device_ack_record(*, message_id: str, device_id: str, now: datetime | None = None) -> bool:
    """A device acknowledged a command. Idempotent; an ack after the deadline still counts as received."""
    now = now or timezone.now()
    try:
        mid = uuid.UUID(str(message_id))
    except ValueError:
        return False
    updated = OutboxMessage.objects.filter(
        message_id=mid, destination=device_id, status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    ).update(status=OutboxMessage.Status.ACKNOWLEDGED, acked_at=now)
    return bool(updated)


def device_acks_record(*, acks: list[tuple[str, str, datetime]]) -> int:
    """Batch of (message_id, device_id, at) acknowledgements (the MQTT listener's path): one transaction, a
    lookup and one UPDATE per 5,000 acks. An ack counts only for the device the message was sent to (its
    command, its restore or a revision) and only once; one that overtakes the flush's "sent" mark (pending)
    counts too."""
    from collections import defaultdict

    from django.db.models import DateTimeField, Value
    from django.db.models.functions import Coalesce

    parsed: dict[uuid.UUID, tuple[str, datetime]] = {}
    for message_id, device_id, at in acks:
        try:
            parsed[uuid.UUID(str(message_id))] = (device_id, at)
        except ValueError:
            continue
    from .dispatch import in_values

    live = [OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    n = 0
    ids = list(parsed)
    with transaction.atomic():
        for i in range(0, len(ids), 5000):
            by_at: dict[datetime, list[int]] = defaultdict(list)
            # Locked and looked up by the unique message id alone (status and channel checked here), then
            # updated by primary key alone: the planner walks those two indexes even on a table whose
            # statistics predate the burst of rows.
            for pk, message_id, destination, channel, status in (
                OutboxMessage.objects.select_for_update()
                .filter(message_id__in=in_values(ids[i : i + 5000], db_type="uuid"))
                .values_list("id", "message_id", "destination", "channel", "status")
            ):
                device_id, at = parsed[message_id]
                if (  # the device's command, or a later one for it (``#restore``, ``#rev-...``)
                    channel == OutboxMessage.Channel.MQTT
                    and status in live
                    and destination.split("#", 1)[0] == device_id
                ):
                    by_at[at].append(pk)
            for at, pks in by_at.items():
                n += OutboxMessage.objects.filter(pk__in=in_values(pks)).update(
                    status=OutboxMessage.Status.ACKNOWLEDGED,
                    acked_at=at,
                    sent_at=Coalesce("sent_at", Value(at, output_field=DateTimeField())),
                )
    return n


def acks_overdue_mark(*, now: datetime | None = None) -> list[int]:
    """Mark commands not acknowledged by their deadline; running cascades with such devices are evaluated now
    (the device counts as delivering nothing, so the cascade escalates)."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = OutboxMessage.objects.filter(
            status=OutboxMessage.Status.SENT, channel=OutboxMessage.Channel.MQTT, ack_deadline__lte=now
        )
        event_ids = set(overdue.values_list("event_id", flat=True))
        overdue.update(status=OutboxMessage.Status.NO_ACK)
        cascades = set(
            Cascade.objects.filter(events__in=event_ids, status=Cascade.Status.RUNNING).values_list("pk", flat=True)
        )
        Cascade.objects.filter(pk__in=cascades).update(next_check_at=now)
    for pk in cascades:
        cascade_evaluate(cascade_id=pk, now=now)
    return sorted(event_ids)


def telemetry_record(*, device_id: str, data: dict, now: datetime | None = None) -> bool:
    """One telemetry message from a device: {"premise_id", "kw", "baseline_kw"?, "event_id"?, "at"?}."""
    from accounts.models import Premise

    from .models import Telemetry

    try:
        premise_id = int(data["premise_id"])
        kw = Decimal(str(data["kw"])).quantize(Decimal("0.001"))
        base = data.get("baseline_kw")
        base = Decimal(str(base)).quantize(Decimal("0.001")) if base is not None else None
        at = datetime.fromisoformat(data["at"]) if data.get("at") else (now or timezone.now())
        event_id = int(data["event_id"]) if data.get("event_id") else None
    except (KeyError, ValueError, TypeError, ArithmeticError):
        return False
    if at.tzinfo is None or not Premise.objects.filter(pk=premise_id).exists():
        return False
    if event_id and not DREvent.objects.filter(pk=event_id, premise_id=premise_id).exists():
        event_id = None
    _, created = Telemetry.objects.get_or_create(
        device_id=device_id,
        at=at,
        defaults={"premise_id": premise_id, "kw": kw, "baseline_kw": base, "event_id": event_id},
    )
    return created


def webhook_endpoint_create(*, organisation, url: str, secret: str) -> WebhookEndpoint:
    if len(secret) < 16:
        raise ApplicationError(
            "The secret must be at least 16 characters.", fields={"secret": ["At least 16 characters."]}
        )
    return WebhookEndpoint.objects.create(organisation=organisation, url=url, secret=secret)


# --- Performance, penalties, derating and suspension ----------------------------------------------------------


def penalty_rate_per_mwh(*, event: DREvent, program: Program) -> Decimal:
    """The rate (currency per MWh) a shortfall of ``event`` is charged at, read when the penalty is recorded.

    * A market event (from an award or a called reservation, priced by the market): the governed
      ``penalty_rate`` (a multiple of the market price, ``settlement.selectors.market_parameter``, changed only
      by an executed governance proposal) x the event's price (``DREvent.price_per_mwh``; the award's cleared
      price for events created before events carried one), rounded half-up to the cent; the penalty is then
      shortfall kWh x that rate / 1000, rounded half-up to the cent (reproducible from the stored rate).
    * Any other event (operator programs, emergencies, cascades, trigger rules: nothing was cleared): the
      program's own contracted ``penalty_rate_per_mwh``.
    """
    from settlement.selectors import market_parameter

    price = None
    if event.award_id or event.reservation_id:
        price = event.price_per_mwh or (event.award.clearing_price_per_mwh if event.award_id else None)
    if price:
        return (market_parameter("penalty_rate") * price).quantize(MONEY, rounding=ROUND_HALF_UP)
    return program.penalty_rate_per_mwh


def _performance_and_compliance(*, event: DREvent, verification: EventVerification, rows, now: datetime) -> None:
    """Reliability indicators of the event, then the program's compliance rules.

    * magnitude achievement = delivered / committed kWh
    * duration compliance = share of intervals delivering >= threshold x the interval's committed kWh
    * response time = from the event start to the first such interval's end
    * available = not opted out and, if the resource has devices, at least one acknowledged command
    * activated (success) = available and magnitude >= program threshold
    Below the threshold: a penalty of (committed - delivered) kWh x penalty rate, and a failure on the
    enrollment; ``derate_after_failures`` consecutive failures derate it, ``suspend_after_failures`` suspend it.
    """
    program = event.program
    threshold = program.performance_threshold if program else Decimal("0.75")
    committed = verification.committed_kwh
    magnitude = (verification.delivered_kwh / committed).quantize(Decimal("0.0001")) if committed else Decimal("0")
    per_interval = committed / len(rows) if rows else Decimal("0")
    ok_rows = [r for r in rows if r[3] >= threshold * per_interval]
    duration = (Decimal(len(ok_rows)) / len(rows)).quantize(Decimal("0.0001")) if rows else Decimal("0")
    response = None
    if ok_rows:
        interval = (rows[1][0] - rows[0][0]) if len(rows) > 1 else (event.end - event.start)
        response = int((ok_rows[0][0] + interval - event.start).total_seconds())
    mqtt_rows = OutboxMessage.objects.filter(event=event, channel=OutboxMessage.Channel.MQTT).exclude(
        destination__endswith="#restore"
    )
    acked = not mqtt_rows.exists() or mqtt_rows.filter(status=OutboxMessage.Status.ACKNOWLEDGED).exists()
    available = acked and not OptOut.objects.filter(event=event).exists()
    EventPerformance.objects.update_or_create(
        event=event,
        defaults={
            "activated": available and magnitude >= threshold,
            "response_seconds": response,
            "duration_compliance": duration,
            "magnitude_achievement": min(magnitude, Decimal("99")),
            "available": available,
            "computed_at": now,
        },
    )
    if program is None:
        return
    enrollment = Enrollment.objects.select_for_update().filter(program=program, premise_id=event.premise_id).first()
    if magnitude >= threshold:
        if enrollment and enrollment.consecutive_failures:
            enrollment.consecutive_failures = 0
            enrollment.save(update_fields=["consecutive_failures"])
        return
    shortfall = (committed - verification.delivered_kwh).quantize(KWH)
    rate = penalty_rate_per_mwh(event=event, program=program)
    if rate > 0 and shortfall > 0:
        penalty, _ = Penalty.objects.get_or_create(
            event=event,
            reason=Penalty.Reason.SHORTFALL,
            defaults={
                "premise": event.premise,
                "payer": event.premise.organisation,
                "shortfall_kwh": shortfall,
                "rate_per_mwh": rate,
                "amount": (shortfall * rate / 1000).quantize(MONEY, rounding=ROUND_HALF_UP),
                "delivery_start": event.start,
                "created_at": now,
            },
        )
        _penalty_to_settlement(penalty)
    if enrollment is not None:
        enrollment.consecutive_failures += 1
        if enrollment.consecutive_failures >= program.suspend_after_failures:
            enrollment.status = Enrollment.Status.SUSPENDED
        elif enrollment.consecutive_failures >= program.derate_after_failures:
            enrollment.status = Enrollment.Status.DERATED
            enrollment.derate = program.derate_factor
        enrollment.save(update_fields=["consecutive_failures", "status", "derate"])


def events_dispatch_pending(*, now: datetime | None = None) -> list[int]:
    """Dispatch events left scheduled (e.g. awards created while the emergency stop was engaged), once it is
    lifted; events whose window is over are left as they are."""
    now = now or timezone.now()
    if emergency_stop_active() is not None:
        return []
    done = []
    for pk in DREvent.objects.filter(status=DREvent.Status.SCHEDULED, end__gt=now).values_list("pk", flat=True):
        event_dispatch(event=DREvent(pk=pk), now=now)
        done.append(pk)
    return done


def _penalty_to_settlement(penalty: Penalty) -> None:
    """Charge a recorded penalty in the ledger once it is committed (settlement's ``settle_penalty`` task,
    idempotent per penalty)."""
    from settlement import tasks as settlement_tasks

    transaction.on_commit(lambda pk=penalty.pk: settlement_tasks.settle_penalty.delay(pk))


# --- Market outcomes: awards of every market become events or reservations --------------------------------------


def award_activate(*, award_id: int, now: datetime | None = None):
    """The one path from a market outcome to activation, for every market (request clearing, real-time trades,
    day-ahead and seasonal auctions): an award is one member resource's share for one delivery interval.
    Energy-type products (energy, congestion management, forwards) become an event at once
    (:func:`event_create_for_award`); capacity-reservation and ancillary awards become a :class:`Reservation`
    the buyer calls later. Idempotent: one event or reservation per award (unique on the award)."""
    from market.engine.products import PRODUCTS

    product = Award.objects.values_list("product", flat=True).get(pk=award_id)
    spec = PRODUCTS.get(product)
    if spec is not None and spec.reserved:
        return reservation_create_for_award(award_id=award_id)
    return event_create_for_award(award_id=award_id, now=now)


def reservation_create_for_award(*, award_id: int) -> Reservation:
    """Hold the awarded kW of a capacity or ancillary award available for its buyer over the award's window.
    Availability is paid at the award's clearing price (per MW and hour held); a call's energy at the market
    program's energy rate when the reservation was made."""
    from market.engine.products import PRODUCTS

    award = Award.objects.select_related("premise", "request").get(pk=award_id)
    spec = PRODUCTS[award.product]
    buyer_id = award.buyer_id
    reservation, _ = Reservation.objects.get_or_create(
        award=award,
        defaults={
            "product": award.product,
            "premise": award.premise,
            "zone": award.premise.grid_zone,
            "seller_id": award.seller_id,
            "buyer_id": buyer_id,
            "reserved_kw": award.kw,
            "window_start": award.window_start,
            "window_end": award.window_end,
            "availability_price_per_mwh": award.clearing_price_per_mwh,
            "energy_price_per_mwh": market_program().energy_rate_per_mwh,
            "notice_minutes": spec.notice_minutes,
        },
    )
    return reservation


def awards_activate_pending(*, now: datetime | None = None) -> list[int]:
    """Catch-up sweep (beat): awards still to be delivered that have neither an event nor a reservation (a task
    lost between the clearing's commit and the worker) go through :func:`award_activate`. Running it twice
    creates nothing new."""
    now = now or timezone.now()
    pending = list(
        Award.objects.filter(window_end__gt=now, event__isnull=True, reservation__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in pending:
        award_activate(award_id=pk, now=now)
    return pending


def reservation_call(
    *,
    reservation_id: int,
    user,
    target_kw: Decimal,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> DREvent:
    """The buyer calls (activates) a reservation: an event for the reserved resource inside the reservation,
    dispatched at once and settled at the reservation's energy price.

    Refused: a caller that is not a grid operator serving the reservation's zone (admins may call any), an
    operator other than the buyer, a window outside the reservation or already over, notice shorter than the
    reservation's, more kW than reserved (counting the calls already made for the same time), a suspended
    resource, the emergency stop. The reservation row is locked, so concurrent calls cannot exceed it.
    """
    from accounts.models import Membership
    from accounts.selectors import user_organisations, user_role, zone_with_descendant_ids

    from .selectors import reservation_called_kw, resource_suspended

    now = now or timezone.now()
    role = user_role(user)
    if role not in (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN):
        raise NotPermitted("Only grid operators call reservations.")
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().select_related("premise", "zone").get(pk=reservation_id)
        if role == Membership.Role.GRID_OPERATOR:
            orgs = [
                o
                for o in user_organisations(user, role=Membership.Role.GRID_OPERATOR)
                if reservation.zone_id in zone_with_descendant_ids(o.service_zones.all())
            ]
            if not orgs:
                raise NotPermitted("The reservation is outside your service area.")
            if reservation.buyer_id not in {o.pk for o in orgs}:
                raise NotPermitted("Only the operator that bought the reservation may call it.")
        fields: dict[str, list[str]] = {}
        if target_kw <= 0:
            fields["target_kw"] = ["Must be positive."]
        if end <= start:
            fields["end"] = ["Must be after start."]
        elif start < reservation.window_start or end > reservation.window_end:
            fields["start"] = [
                f"Inside the reservation: {reservation.window_start.isoformat()} to {reservation.window_end.isoformat()}."
            ]
        elif end <= now:
            fields["end"] = ["Must be in the future."]
        if fields:
            raise ApplicationError("The call is invalid.", fields=fields)
        if start - now < timedelta(minutes=reservation.notice_minutes):
            raise ApplicationError(
                f"The reservation needs {reservation.notice_minutes} minutes' notice.",
                code="notice_too_short",
                fields={"start": [f"At least {reservation.notice_minutes} minutes from now."]},
            )
        available = reservation.reserved_kw - reservation_called_kw(reservation=reservation, start=start, end=end)
        if target_kw > available:
            raise ApplicationError(
                f"{target_kw} kW is more than the {max(available, Decimal(0))} kW still reserved for that time.",
                code="above_reserved",
                fields={"target_kw": [f"At most {max(available, Decimal(0))} kW."]},
            )
        if resource_suspended(reservation.premise):
            raise Conflict(f"{reservation.premise} is suspended.", code="resource_suspended")
        if emergency_stop_active() is not None:
            raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code="emergency_stop")
        program = market_program()
        if (
            DREvent.objects.filter(reservation=reservation, start=start)
            .exclude(status=DREvent.Status.CANCELLED)
            .exists()
        ):
            raise Conflict("The reservation is already called from that time.", code="already_called")
        event = DREvent.objects.create(
            reservation=reservation,
            premise=reservation.premise,
            zone=reservation.zone,
            target_kw=target_kw,
            start=start,
            end=end,
            program=program,
            source=DREvent.Source.RESERVATION,
            created_by=user,
            price_per_mwh=reservation.energy_price_per_mwh,
            buyer_id=reservation.buyer_id,
        )
        Enrollment.objects.get_or_create(
            program=program,
            premise=reservation.premise,
            defaults={"committed_kw": reservation.reserved_kw, "safety_max_kw": reservation.reserved_kw, "tier": 1},
        )
        event_dispatch(event=event, now=now)
        event.refresh_from_db()
    return event
