"""Events: creation (notice, caps, capacity), dispatch, the lifecycle by the clock and by hand, cancellation and
opt-out. Every status change goes through :mod:`activation.services.lifecycle`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.selectors import premises_visible_to
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from .. import notify
from ..errors import ActivationErrorCode as Code
from ..models import Cascade, DispatchSignal, DREvent, Enrollment, OptOut, OutboxMessage, Penalty, Program
from ..selectors import zone_operator
from .dispatch import events_dispatch_locked
from .emergency_stop import emergency_stop_active
from .event_rules import event_caps_check, event_window_check
from .lifecycle import EVENT_TRANSITIONS, event_move, events_move
from .openadr_notifications import notify_event
from .outbox import outbox_flush_on_commit, outbox_put
from .penalties import opt_out_terms, penalty_record
from .programs import market_program


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
    oadr_spec: dict | None = None,
) -> DREvent:
    """An event for one enrolled resource (``oadr_spec``: the OpenADR 3 event object it was created from). Refused: window reversed or past, notice shorter than the program's,
    resource not enrolled or suspended, target above its available (derated) kW or safety limit, caps reached,
    emergency stop engaged. Its energy is settled at the program's energy rate, paid by ``buyer`` (default: the
    creator's operator organisation serving the zone, else the zone's operator)."""
    now = now or timezone.now()
    if target_kw <= 0:
        raise ApplicationError("Target must be positive.", fields={"target_kw": ["Must be positive."]})
    event_window_check(program=program, start=start, end=end, now=now)
    if emergency_stop_active() is not None:
        raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code=Code.EMERGENCY_STOP)
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().filter(program=program, premise=premise).first()
        if enrollment is None:
            raise ApplicationError(f"{premise} is not enrolled in {program}.", code=Code.NOT_ENROLLED)
        if enrollment.status == Enrollment.Status.SUSPENDED:
            raise Conflict(f"{premise} is suspended from {program}.", code=Code.RESOURCE_SUSPENDED)
        available = (enrollment.committed_kw * enrollment.derate).quantize(Decimal("0.001"))
        limit = min(available, enrollment.safety_max_kw)
        if target_kw > limit:
            raise ApplicationError(
                f"Target {target_kw} kW is above the resource's available {limit} kW.",
                code=Code.ABOVE_CAPACITY,
                fields={"target_kw": [f"At most {limit} kW."]},
            )
        event_caps_check(program=program, premise=premise, start=start, end=end)
        if buyer is None:
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
            oadr_spec=oadr_spec,
        )
        if dispatch:
            event_dispatch(event=event, now=now)
            event.refresh_from_db()
    return event


def event_dispatch(*, event: DREvent, now: datetime | None = None) -> DispatchSignal:
    """Notify the resource: the OpenADR dispatch signal, one outbox command per device (comfort and safety limits
    applied), one signed webhook per aggregator endpoint; scheduled -> notified. Refused under an emergency stop
    and for a cancelled or finished event. Idempotent: unique keys per signal, device and endpoint. The writing
    is ``activation.services.dispatch.events_dispatch_locked``, shared with the emergency call's bulk dispatch."""
    now = now or timezone.now()
    with transaction.atomic():
        event = (
            DREvent.objects.select_for_update(of=("self",))
            .select_related("zone", "program", "premise")
            .get(pk=event.pk)
        )
        if event.status in (DREvent.Status.CANCELLED, DREvent.Status.COMPLETED):
            raise ApplicationError(
                f"Event {event.pk} is {event.status}; it cannot be dispatched.", code=Code.INVALID_STATE
            )
        stop = emergency_stop_active()
        if stop is not None:
            raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code=Code.EMERGENCY_STOP)
        events_dispatch_locked(events=[event], now=now)
        signal = DispatchSignal.objects.get(event=event, premise_id=event.premise_id)
    return signal


def event_activate(*, event_id: int, now: datetime | None = None) -> DREvent:
    """notified -> active, once the window has started."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        if event.status == DREvent.Status.ACTIVE:
            return event
        if now < event.start and event.status in EVENT_TRANSITIONS[DREvent.Status.ACTIVE]:
            raise ApplicationError(f"Event {event.pk} starts at {event.start.isoformat()}.", code=Code.NOT_STARTED)
        event_move(event, to=DREvent.Status.ACTIVE, now=now)
    return event


def event_complete(*, event_id: int, now: datetime | None = None) -> DREvent:
    """active -> completed, once the window has ended."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        if event.status == DREvent.Status.COMPLETED:
            return event
        if now < event.end and event.status in EVENT_TRANSITIONS[DREvent.Status.COMPLETED]:
            raise ApplicationError(f"Event {event.pk} ends at {event.end.isoformat()}.", code=Code.NOT_ENDED)
        event_move(event, to=DREvent.Status.COMPLETED, now=now)
    return event


def _cancel(event: DREvent, *, reason: str, now: datetime) -> None:
    """Cancel a locked event (refused unless scheduled, notified or active): pending messages are withdrawn,
    subscribers told, devices that have the command told to restore."""
    event_move(event, to=DREvent.Status.CANCELLED, now=now, cancel_reason=reason[:200])
    OutboxMessage.objects.filter(event=event, status=OutboxMessage.Status.PENDING).update(
        status=OutboxMessage.Status.CANCELLED
    )
    notify_event(event=event, operation="DELETE", now=now)  # OpenADR 3: the event is gone
    notify.event_cancelled(event, reason=reason, now=now)  # the consumer's inbox and email (ADR 0030)
    # Devices that already have the command get a restore command (through the outbox too).
    for row in OutboxMessage.objects.filter(
        event=event,
        channel=OutboxMessage.Channel.MQTT,
        status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.ACKNOWLEDGED, OutboxMessage.Status.NO_ACK],
    ).exclude(destination__contains="#"):  # one restore per device: not per revision, not of a restore
        outbox_put(
            event=event,
            channel=OutboxMessage.Channel.MQTT,
            destination=f"{row.destination}#restore",
            topic=row.topic,
            payload={"event_id": event.pk, "device_id": row.destination, "command": "RESTORE"},
            now=now,
            ack_by=None,
        )
    outbox_flush_on_commit()


def event_cancel(*, event_id: int, user=None, reason: str = "", now: datetime | None = None) -> DREvent:
    """scheduled/notified/active -> cancelled (by the operator); devices are told to restore."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        if event.status == DREvent.Status.CANCELLED:
            return event
        _cancel(event, reason=reason or "cancelled by the operator", now=now)
    return event


def event_opt_out(*, event_id: int, user, now: datetime | None = None) -> OptOut:
    """The consumer opts the premise out, before or during the event; the program's consequence is recorded
    (forfeit: no payment; penalty: the remaining committed energy charged at the penalty rate)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update(of=("self",)).select_related("program", "premise").get(pk=event_id)
        if not premises_visible_to(user).filter(pk=event.premise_id).exists():
            raise NotPermitted("This event is not for one of your premises.")
        existing = OptOut.objects.filter(event=event).first()
        if existing is not None:
            return existing
        if event.status in (DREvent.Status.COMPLETED, DREvent.Status.CANCELLED) or now >= event.end:
            raise ApplicationError(
                f"Event {event.pk} is over; it can no longer be opted out of.", code=Code.INVALID_STATE
            )
        program = event.program or market_program()
        terms = opt_out_terms(event=event, program=program, now=now)  # the same numbers the preview showed
        phase = terms["phase"]
        opt = OptOut.objects.create(event=event, user=user, phase=phase, consequence=terms["consequence"], at=now)
        if terms["penalty"] is not None:
            penalty_record(
                event=event,
                reason=Penalty.Reason.OPT_OUT,
                shortfall_kwh=terms["shortfall_kwh"],
                rate_per_mwh=terms["rate_per_mwh"],
                now=now,
            )
        _cancel(event, reason=f"opted out ({phase})", now=now)
    return opt


def events_advance(*, now: datetime | None = None) -> int:
    """Move events along their lifecycle by the clock (the ``advance-events`` beat, every minute), in bulk through
    the same guarded transitions as :func:`event_activate` and :func:`event_complete`: notified events whose
    window has started become active, then active events whose window has ended become completed (so an event
    whose whole window passed between two runs is activated, then completed, at ``now``). Returns how many
    transitions were made. Running it twice changes nothing more."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = events_move(events=DREvent.objects.filter(start__lte=now), to=DREvent.Status.ACTIVE, now=now)
        changed += events_move(events=DREvent.objects.filter(end__lte=now), to=DREvent.Status.COMPLETED, now=now)
    return changed


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
