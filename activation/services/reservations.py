"""Reservations: capacity and ancillary awards held for their buyer, and the buyer's calls of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.selectors import user_organisations, user_role, zone_with_descendant_ids
from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from market.engine.products import PRODUCTS
from market.models import Award

from ..errors import ActivationErrorCode as Code
from ..models import DREvent, Enrollment, Reservation
from ..selectors import reservation_called_kw, resource_suspended
from .emergency_stop import emergency_stop_active
from .events import event_dispatch
from .programs import market_program


def reservation_create_for_award(*, award_id: int) -> Reservation:
    """Hold the awarded kW of a capacity or ancillary award available for its buyer over the award's window.
    Availability is paid at the award's clearing price (per MW and hour held); a call's energy at the market
    program's energy rate when the reservation was made."""
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

    The market program's per-day / per-month caps do not refuse a call (ADR 0031): the reservation's own terms
    (window, notice, kW), sold and paid for at clearing, govern its calls. The call counts towards the caps of
    the resource's later events, and the owner's limits per device apply at dispatch as for every event.
    """
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
                code=Code.NOTICE_TOO_SHORT,
                fields={"start": [f"At least {reservation.notice_minutes} minutes from now."]},
            )
        available = reservation.reserved_kw - reservation_called_kw(reservation=reservation, start=start, end=end)
        if target_kw > available:
            raise ApplicationError(
                f"{target_kw} kW is more than the {max(available, Decimal(0))} kW still reserved for that time.",
                code=Code.ABOVE_RESERVED,
                fields={"target_kw": [f"At most {max(available, Decimal(0))} kW."]},
            )
        if resource_suspended(reservation.premise):
            raise Conflict(f"{reservation.premise} is suspended.", code=Code.RESOURCE_SUSPENDED)
        if emergency_stop_active() is not None:
            raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code=Code.EMERGENCY_STOP)
        program = market_program()
        if (
            DREvent.objects.filter(reservation=reservation, start=start)
            .exclude(status=DREvent.Status.CANCELLED)
            .exists()
        ):
            raise Conflict("The reservation is already called from that time.", code=Code.ALREADY_CALLED)
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
