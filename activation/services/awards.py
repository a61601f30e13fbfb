"""Market outcomes into activation: every award becomes an event (energy products) or a reservation."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from market.engine.products import PRODUCTS
from market.models import Award

from ..bulk import in_values, insert_instances
from ..models import DREvent, Enrollment
from .dispatch import events_dispatch_locked
from .emergency_stop import emergency_stop_active
from .event_rules import caps_refusal, premises_over_caps
from .programs import market_enrol_many, market_program
from .reservations import reservation_create_for_award

NOT_DISPATCHED = "not dispatched"
AWARD_CHUNK = 250  # awards per chunk task (a premise's awards never split over two chunks)


def event_create_for_award(*, award_id: int, now: datetime | None = None) -> DREvent:
    """One award's event: :func:`events_create_for_awards` for one award (the one path), then its event."""
    events_create_for_awards(award_ids=[award_id], now=now)
    return DREvent.objects.select_related("premise", "zone", "program").get(award_id=award_id)


@transaction.atomic
def events_create_for_awards(*, award_ids: list[int], now: datetime | None = None) -> list[DREvent]:
    """Each award becomes one event for its resource in the day-ahead market program; created once, then
    dispatched. The market's gate closure is the award's notice, so the program notice check does not apply;
    an engaged emergency stop leaves the events scheduled (dispatched when it is lifted).

    The program's caps apply as to any event (``event_rules``, the one rule; a consecutive award continues the
    event before it): an award for a resource that already has the program's maximum events that day or month
    is not dispatched; its event is recorded cancelled, the reason in ``cancel_reason`` ("not dispatched
    (cap_per_day): ..."). Nothing was commanded, so nothing is verified or charged to the consumer and the
    award's collateral is released unslashed. The owner's limits per device apply at dispatch (the device
    selector), as for every event.

    Set-based for a chunk of awards (ADR 0043), with the result of taking them one by one in id order: the
    resources are enrolled in one go (:func:`~.programs.market_enrol_many`: a new enrollment commits the kW of the
    resource's first award), their enrollment rows locked with one statement in premise order (the resource's
    lock, as ``event_create`` takes it), then the awards go in rounds, the n-th award of each resource in round
    n, each round per window: one caps query set (``premises_over_caps``) over its resources, one insert of
    its events and one bulk dispatch (``dispatch.events_dispatch_locked``, as the emergency call writes), so a
    resource's later award sees its earlier events and device commands. Idempotent: an award that has its event
    (unique on the award) is skipped after the locks are held, so a chunk delivered twice, or two chunks sharing
    awards, create and command nothing twice. Returns the events created."""
    now = now or timezone.now()
    awards = list(
        Award.objects.filter(pk__in=in_values(sorted(set(award_ids))))
        .select_related("premise__grid_zone")
        .order_by("pk")
    )
    if not awards:
        return []
    program = market_program()
    first_kw: dict[int, object] = {}
    for a in awards:
        first_kw.setdefault(a.premise_id, a.kw)
    market_enrol_many(program=program, committed_kw=first_kw)
    # The enrollment rows are the resources' locks (as event_create): one statement, in premise order.
    list(
        Enrollment.objects.select_for_update(of=("self",))
        .filter(program=program, premise_id__in=in_values(sorted(first_kw)))
        .order_by("premise_id")
        .values_list("pk", flat=True)
    )
    done = set(
        DREvent.objects.filter(award_id__in=in_values([a.pk for a in awards])).values_list("award_id", flat=True)
    )
    rounds: dict[tuple, list[Award]] = defaultdict(list)
    seen: dict[int, int] = defaultdict(int)
    for a in awards:
        if a.pk in done:
            continue
        rounds[(seen[a.premise_id], a.window_start, a.window_end)].append(a)
        seen[a.premise_id] += 1
    dispatching = emergency_stop_active() is None if rounds else False
    created: list[DREvent] = []
    for (_, start, end), batch in sorted(rounds.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        over = premises_over_caps(program=program, premises=[a.premise for a in batch], start=start, end=end)
        events = [_award_event(a, program=program, now=now, over=over.get(a.premise_id)) for a in batch]
        insert_instances(events, now=timezone.now())  # created_at: when written, as a save stamps it
        live = [e for e in events if e.status == DREvent.Status.SCHEDULED]
        if dispatching:
            events_dispatch_locked(events=live, now=now, fresh=True)
        created += events
    return created


def _award_event(award: Award, *, program, now: datetime, over: tuple[str, int] | None) -> DREvent:
    """The award's event (not saved): scheduled, or cancelled "not dispatched (<cap>): ..." when over a cap;
    the premise, zone and program cached on it (what the dispatch reads)."""
    refusal = caps_refusal(program=program, premise=award.premise, over=over)
    cancelled = {}
    if refusal is not None:
        cancelled = {
            "status": DREvent.Status.CANCELLED,
            "cancelled_at": now,
            "cancel_reason": f"{NOT_DISPATCHED} ({refusal.code}): {refusal.detail}"[:200],
        }
    event = DREvent(
        award_id=award.pk,
        premise_id=award.premise_id,
        zone_id=award.premise.grid_zone_id,
        target_kw=award.kw,
        start=award.window_start,
        end=award.window_end,
        program_id=program.pk,
        source=DREvent.Source.AWARD,
        # settled at the award's price (uniform clearing price, or the trade's price), paid by its buyer
        price_per_mwh=award.clearing_price_per_mwh,
        buyer_id=award.buyer_id,
        **cancelled,
    )
    for name, value in (("premise", award.premise), ("zone", award.premise.grid_zone), ("program", program)):
        DREvent._meta.get_field(name).set_cached_value(event, value)
    return event


def award_activate(*, award_id: int, now: datetime | None = None):
    """The one path from a market outcome to activation, for every market (request clearing, real-time trades,
    day-ahead and seasonal auctions): an award is one member resource's share for one delivery interval.
    Energy-type products (energy, congestion management, forwards) become an event at once
    (:func:`event_create_for_award`); capacity-reservation and ancillary awards become a :class:`Reservation`
    the buyer calls later. Idempotent: one event or reservation per award (unique on the award)."""
    product = Award.objects.values_list("product", flat=True).get(pk=award_id)
    spec = PRODUCTS.get(product)
    if spec is not None and spec.reserved:
        return reservation_create_for_award(award_id=award_id)
    return event_create_for_award(award_id=award_id, now=now)


def awards_activate(*, award_ids: list[int], now: datetime | None = None) -> None:
    """:func:`award_activate` for a chunk of awards (the chunk task's service): the energy-type awards' events in
    one set-based pass (:func:`events_create_for_awards`), the reserved products' reservations one by one (rare:
    capacity and ancillary awards). Idempotent, as each of them."""
    products = dict(Award.objects.filter(pk__in=in_values(list(award_ids))).values_list("pk", "product"))
    reserved = sorted(pk for pk, p in products.items() if PRODUCTS.get(p) is not None and PRODUCTS[p].reserved)
    for pk in reserved:
        reservation_create_for_award(award_id=pk)
    energy = sorted(set(products) - set(reserved))
    if energy:
        events_create_for_awards(award_ids=energy, now=now)


def award_chunks(award_ids: list[int], *, size: int = AWARD_CHUNK) -> list[list[int]]:
    """The awards in chunks of about ``size`` for the chunk tasks, a premise's awards always in the same chunk
    (taken in id order, so its later awards see its earlier events: the caps rule, the enrollment's first kW),
    in premise order (one query)."""
    rows = sorted(Award.objects.filter(pk__in=in_values(list(award_ids))).values_list("premise_id", "pk"))
    out: list[list[int]] = []
    current: list[int] = []
    last = None
    for premise_id, pk in rows:
        if len(current) >= size and premise_id != last:
            out.append(current)
            current = []
        current.append(pk)
        last = premise_id
    if current:
        out.append(current)
    return out


def awards_activate_pending(*, now: datetime | None = None) -> list[int]:
    """Catch-up sweep (beat): awards still to be delivered that have neither an event nor a reservation (a task
    lost between the clearing's commit and the worker) go through :func:`awards_activate`, a chunk at a time.
    Running it twice creates nothing new."""
    now = now or timezone.now()
    pending = list(
        Award.objects.filter(window_end__gt=now, event__isnull=True, reservation__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in award_chunks(pending):
        awards_activate(award_ids=chunk, now=now)
    return pending
