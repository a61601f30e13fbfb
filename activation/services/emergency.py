"""Emergency events: every resource enrolled in an emergency program in a zone dispatched at once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import policies
from accounts.models import GridZone, Membership, Premise
from accounts.selectors import user_role, zone_with_descendant_ids
from flexplatform.collector import collection_paused
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from ..bulk import in_values, insert_instances
from ..errors import ActivationErrorCode as Code
from ..models import DREvent, Enrollment, Program
from ..selectors import zone_operator
from .awards import NOT_DISPATCHED
from .dispatch import events_dispatch_locked
from .emergency_stop import emergency_stop_active
from .event_rules import event_window_check, premises_over_caps
from .lifecycle import created_as

EMERGENCY_CHUNK = 500  # resources per transaction of an emergency call (2,000 residential devices), at most
EMERGENCY_FIRST_CHUNK = 50  # the first transaction's resources: the first commands leave while the rest is written


def _chunk_bounds(n: int) -> list[tuple[int, int]]:
    """``[start, end)`` slices of ``n`` resources: a first chunk of ``EMERGENCY_FIRST_CHUNK``, each next one twice
    the last, up to ``EMERGENCY_CHUNK`` (a stream: the first devices are commanded and acknowledge while the
    next chunks are written, and the bulk still goes in large transactions)."""
    bounds, start, size = [], 0, max(min(EMERGENCY_FIRST_CHUNK, EMERGENCY_CHUNK), 1)
    while start < n or not bounds:
        bounds.append((start, min(start + size, n)))
        start += size
        size = min(size * 2, EMERGENCY_CHUNK)
    return bounds


@collection_paused()  # its chunks build tens of thousands of short-lived objects (ADR 0053)
def emergency_event_create(
    *, program: Program, zone, start: datetime, end: datetime, user, now: datetime | None = None
) -> list[DREvent]:
    """Dispatch every resource enrolled in the emergency program in the zone at once, whatever its market
    position, each at its committed (derated) kW and never past its safety limit. Caps of the emergency
    program still apply (a capped resource is skipped, not the whole event; so is one with nothing available):
    a capped resource's event is recorded cancelled, "not dispatched (cap_per_day): ...", as an award over its cap
    is (``activation.services.awards``), so the operator and the owner see why it was not called.
    Each event is settled at the program's energy rate, paid by the caller's operator serving its zone (as
    ``event_create``).

    Set-based and committed in chunks of growing size (``EMERGENCY_FIRST_CHUNK`` resources first, doubling up to
    ``EMERGENCY_CHUNK``): each chunk locks its enrollments with
    one statement, counts the caps per time zone, inserts its events and dispatches them through
    ``activation.services.dispatch.events_dispatch_locked`` (every device command in the outbox before its commit), so
    the first devices are commanded (the on-commit flush) while the next chunk is written. Idempotent: a
    resource that already has this program's emergency event for the same window is skipped, so calling
    again after a failure part-way completes the dispatch without commanding anyone twice."""
    if program.kind != Program.Kind.EMERGENCY:
        raise ApplicationError(
            f"{program} is not an emergency program.", fields={"program": ["Not an emergency program."]}
        )
    if user_role(user) not in (Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN):
        raise NotPermitted("Only grid operators may call emergency events.")
    policies.require_zone(user, zone)  # accounts.policies: only in a zone the caller serves
    now = now or timezone.now()
    event_window_check(program=program, start=start, end=end, now=now)
    zone_ids = zone_with_descendant_ids([zone])
    enrollment_ids = list(
        Enrollment.objects.filter(program=program, premise__grid_zone_id__in=zone_ids)
        .exclude(status=Enrollment.Status.SUSPENDED)
        .order_by("premise_id")
        .values_list("pk", flat=True)
    )
    events: list[DREvent] = []
    buyers: dict = {}
    event_attnames = [f.attname for f in DREvent._meta.concrete_fields]
    event_defaults = {f.attname: f.get_default() for f in DREvent._meta.concrete_fields}
    zones_by_id: dict = {}  # the premises' zones, read once for the call (one instance per zone)
    for i, j in _chunk_bounds(len(enrollment_ids)):
        with transaction.atomic():
            if emergency_stop_active() is not None:
                raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code=Code.EMERGENCY_STOP)
            enrollments = list(
                Enrollment.objects.select_for_update(of=("self",))
                .filter(pk__in=in_values(enrollment_ids[i:j]))
                .exclude(status=Enrollment.Status.SUSPENDED)
                .select_related("premise")
                .order_by("premise_id")
            )
            # The premises' zones, one instance per zone (not one per premise), read once for the whole call (a
            # zone's code and name are all the dispatch reads of it): cached on each premise.
            zone_field = Premise._meta.get_field("grid_zone")
            missing = {e.premise.grid_zone_id for e in enrollments} - zones_by_id.keys()
            if missing:
                zones_by_id.update((z.pk, z) for z in GridZone.objects.filter(pk__in=missing))
            for e in enrollments:
                zone_field.set_cached_value(e.premise, zones_by_id[e.premise.grid_zone_id])
            done = set(
                DREvent.objects.filter(
                    program=program,
                    source=DREvent.Source.EMERGENCY,
                    start=start,
                    end=end,
                    premise_id__in=in_values([e.premise_id for e in enrollments]),
                )
                .exclude(Q(status=DREvent.Status.CANCELLED) & ~Q(cancel_reason__startswith=NOT_DISPATCHED))
                .values_list("premise_id", flat=True)
            )
            targets = [
                (e, min((e.committed_kw * e.derate).quantize(Decimal("0.001")), e.safety_max_kw))
                for e in enrollments
                if e.premise_id not in done
            ]
            targets = [(e, kw) for e, kw in targets if kw > 0]
            over = premises_over_caps(program=program, premises=[e.premise for e, _ in targets], start=start, end=end)
            for e, _ in targets:  # who pays: as event_create, the caller's operator serving the zone (per zone)
                if e.premise.grid_zone_id not in buyers:
                    buyers[e.premise.grid_zone_id] = zone_operator(zone=e.premise.grid_zone, user=user)

            def event_of(e, kw, **status) -> DREvent:
                # Built positionally from the model's defaults (Django's fast path, as rows read from the database
                # are), foreign keys by id, the loaded premise, zone and program cached on the event (what the
                # dispatch reads): keyword construction through the ORM's descriptors cost a third of a chunk.
                buyer = buyers[e.premise.grid_zone_id]
                values = {
                    **event_defaults,
                    "premise_id": e.premise_id,
                    "zone_id": e.premise.grid_zone_id,
                    "target_kw": kw,
                    "start": start,
                    "end": end,
                    "program_id": program.pk,
                    "source": DREvent.Source.EMERGENCY,
                    "created_by_id": user.pk,
                    "price_per_mwh": program.energy_rate_per_mwh,
                    "buyer_id": buyer.pk if buyer is not None else None,
                    **status,
                }
                event = DREvent(*[values[a] for a in event_attnames])
                for name, value in (("premise", e.premise), ("zone", e.premise.grid_zone), ("program", program)):
                    DREvent._meta.get_field(name).set_cached_value(event, value)
                return event

            # Dispatched events are created notified (stamped now), as the dispatch would move them in this
            # transaction: one UPDATE of every event of the chunk less (``events_dispatch_locked``, ``fresh``).
            chunk = [
                event_of(e, kw, **created_as(DREvent.Status.NOTIFIED, now=now))
                for e, kw in targets
                if e.premise_id not in over
            ]
            skipped = [  # over the caps: recorded, never commanded
                event_of(
                    e,
                    kw,
                    status=DREvent.Status.CANCELLED,
                    cancelled_at=now,
                    cancel_reason=(
                        f"{NOT_DISPATCHED} ({over[e.premise_id][0]}): {over[e.premise_id][1]} events already "
                        f"counted against {program.code}'s cap"
                    )[:200],
                )
                for e, kw in targets
                if e.premise_id in over
            ]
            insert_instances(chunk + skipped, now=now)
            # The enrollments' safety limits as locked above (not read again by the dispatch).
            safety = {(program.pk, e.premise_id): e.safety_max_kw for e, _ in targets}
            events_dispatch_locked(events=chunk, now=now, fresh=True, safety=safety)
        events.extend(chunk)
    return events
