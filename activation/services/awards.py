"""Market outcomes into activation: every award becomes an event (energy products) or a reservation."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from market.engine.products import PRODUCTS
from market.models import Award

from ..models import DREvent, Enrollment
from .emergency_stop import emergency_stop_active
from .event_rules import event_caps_refusal
from .events import event_dispatch
from .lifecycle import event_move
from .programs import market_enrol, market_program
from .reservations import reservation_create_for_award

NOT_DISPATCHED = "not dispatched"


@transaction.atomic
def event_create_for_award(*, award_id: int, now: datetime | None = None) -> DREvent:
    """Each award becomes one event for its resource in the day-ahead market program; created once, then
    dispatched. The market's gate closure is the award's notice, so the program notice check does not apply;
    an engaged emergency stop leaves the event scheduled (dispatched when it is lifted).

    The program's caps apply as to any event (``event_rules``, the one rule; a consecutive award continues the
    event before it): an award for a resource that already has the program's maximum events that day or month
    is not dispatched; its event is recorded cancelled, the reason in ``cancel_reason`` ("not dispatched
    (cap_per_day): ..."). Nothing was commanded, so nothing is verified or charged to the consumer and the
    award's collateral is released unslashed. The owner's limits per device apply at dispatch (the device
    selector), as for every event."""
    now = now or timezone.now()
    award = Award.objects.select_related("premise", "request").get(pk=award_id)
    existing = DREvent.objects.filter(award=award).first()
    if existing is not None:
        return existing
    program = market_program()
    market_enrol(premise=award.premise, committed_kw=award.kw)
    # The enrollment row is the resource's lock (as event_create): two awards of a premise are checked in turn.
    Enrollment.objects.select_for_update().filter(program=program, premise=award.premise).first()
    refusal = event_caps_refusal(program=program, premise=award.premise, start=award.window_start, end=award.window_end)
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
    if not created:
        return event
    if refusal is not None:
        reason = f"{NOT_DISPATCHED} ({refusal.code}): {refusal.detail}"
        event_move(event, to=DREvent.Status.CANCELLED, now=now, cancel_reason=reason[:200])
    elif emergency_stop_active() is None:
        event_dispatch(event=event, now=now)
        event.refresh_from_db()
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
