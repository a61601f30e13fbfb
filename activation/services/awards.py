"""Market outcomes into activation: every award becomes an event (energy products) or a reservation."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from market.engine.products import PRODUCTS
from market.models import Award

from ..models import DREvent
from .emergency_stop import emergency_stop_active
from .events import event_dispatch
from .programs import market_enrol, market_program
from .reservations import reservation_create_for_award


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
        market_enrol(premise=award.premise, committed_kw=award.kw)
        if emergency_stop_active() is None:
            event_dispatch(event=event, now=now)
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
