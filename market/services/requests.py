"""The request market: flexibility offers and an operator's requests, cleared in merit order
(``market.clearing``) once a request is posted."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import GridZone, Organisation, Premise
from accounts.selectors import organisation_trading_status, zone_with_descendant_ids
from assessment.selectors import accredited_capacity_kw
from flexplatform.errors import ApplicationError, NotPermitted

from .. import hooks
from ..clearing import OfferIn, clear_merit_order
from ..errors import MarketError
from ..models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest
from .capacity import lock_premises, premise_committed_kw
from .gates import premise_offer_refusals, premises_offerable_by


def _check_window(window_start: datetime, window_end: datetime) -> None:
    fields: dict[str, list[str]] = {}
    if timezone.is_naive(window_start):
        fields["window_start"] = ["Give a timezone (e.g. 2026-11-24T17:00:00Z)."]
    if timezone.is_naive(window_end):
        fields["window_end"] = ["Give a timezone (e.g. 2026-11-24T19:00:00Z)."]
    if not fields and window_end <= window_start:
        fields["window_end"] = ["The window must end after it starts."]
    if fields:
        raise ApplicationError("The delivery window is invalid.", fields=fields)


def _check_positive(name: str, value: Decimal, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ApplicationError(f"{name} must be positive.", fields={name: ["Must be greater than zero."]})


def offer_checks(*, kw: Decimal, price_per_mwh: Decimal, window_start: datetime, window_end: datetime) -> None:
    """An offer's own values: kW positive, price not negative, an aware window that ends after it starts."""
    _check_positive("kw", kw)
    _check_positive("price_per_mwh", price_per_mwh, allow_zero=True)
    _check_window(window_start, window_end)


@transaction.atomic
def offer_submit(
    *,
    seller: Organisation,
    premise: Premise,
    zone: GridZone,
    kw: Decimal,
    price_per_mwh: Decimal,
    window_start: datetime,
    window_end: datetime,
    created_by=None,
) -> FlexibilityOffer:
    """List a premise's flexibility. Refused unless the seller may offer the premise, the premise lies in the
    zone (or below it), and the offered kW fit within the premise's assessed capacity for the window (many at
    once: :func:`market.services.offers_bulk.offers_submit_many`)."""
    offer_checks(kw=kw, price_per_mwh=price_per_mwh, window_start=window_start, window_end=window_end)
    status = organisation_trading_status(seller)
    if not status.allowed:
        raise NotPermitted(
            "This participant may not trade: " + " ".join(status.reasons), code=MarketError.TRADING_SUSPENDED
        )
    if not premises_offerable_by(seller).filter(pk=premise.pk).exists():
        reasons = premise_offer_refusals(seller, [premise]).get(premise.pk, [])
        raise NotPermitted(
            " ".join(["This seller may not offer this premise:", *reasons]),
            fields={"premise": ["Not yours to offer.", *reasons]},
        )
    if premise.grid_zone_id not in zone_with_descendant_ids([zone]):
        raise ApplicationError(
            f"Premise is in zone {premise.grid_zone.code}, not in {zone.code} or below it.",
            fields={"zone": ["The premise is not in this zone."]},
        )
    # Lock the premise so concurrent offers and orders cannot together exceed its capacity.
    lock_premises([premise.pk])
    capacity_kw = accredited_capacity_kw(premise=premise, start=window_start, end=window_end)
    if capacity_kw is None:
        raise ApplicationError(
            "The premise has no flexibility assessment for this window.",
            code=MarketError.NOT_ASSESSED,
            fields={"window_start": ["No assessed capacity for this window."]},
        )
    # Everything committed across all products and markets (open offers and orders, awards), per instant.
    available = capacity_kw - premise_committed_kw(premise_id=premise.pk, start=window_start, end=window_end)
    if kw > available:
        raise ApplicationError(
            f"Offer of {kw} kW exceeds the premise's available capacity of {max(available, Decimal(0))} kW.",
            code=MarketError.OVER_CAPACITY,
            fields={"kw": [f"At most {max(available, Decimal(0))} kW is available for this window."]},
        )
    return FlexibilityOffer.objects.create(
        seller=seller,
        premise=premise,
        zone=zone,
        kw=kw,
        price_per_mwh=price_per_mwh,
        window_start=window_start,
        window_end=window_end,
        created_by=created_by,
    )


@transaction.atomic
def offer_cancel(*, offer: FlexibilityOffer, by: Organisation) -> FlexibilityOffer:
    offer = FlexibilityOffer.objects.select_for_update().get(pk=offer.pk)
    if offer.seller_id != by.pk:
        raise NotPermitted("Only the seller may cancel this offer.")
    if offer.status != FlexibilityOffer.Status.OPEN:
        raise ApplicationError(f"An offer that is {offer.status} cannot be cancelled.", code=MarketError.INVALID_STATE)
    offer.status = FlexibilityOffer.Status.CANCELLED
    offer.save(update_fields=["status"])
    return offer


@transaction.atomic
def request_submit(
    *,
    operator: Organisation,
    zone: GridZone,
    kw: Decimal,
    max_price_per_mwh: Decimal,
    window_start: datetime,
    window_end: datetime,
    created_by=None,
) -> FlexibilityRequest:
    """A grid operator asks for flexibility in a zone of its service area."""
    _check_positive("kw", kw)
    _check_positive("max_price_per_mwh", max_price_per_mwh, allow_zero=True)
    _check_window(window_start, window_end)
    if operator.kind != Organisation.Kind.GRID_OPERATOR:
        raise NotPermitted("Only grid operators post flexibility requests.")
    if zone.pk not in zone_with_descendant_ids(operator.service_zones.all()):
        raise NotPermitted(f"Zone {zone.code} is outside the operator's service area.", fields={"zone": ["Not yours."]})
    request = FlexibilityRequest.objects.create(
        operator=operator,
        zone=zone,
        kw=kw,
        max_price_per_mwh=max_price_per_mwh,
        window_start=window_start,
        window_end=window_end,
        created_by=created_by,
    )
    hooks.on_commit_send(hooks.request_submitted, request_id=request.pk)
    return request


def request_clear(*, request_id: int, now: datetime | None = None) -> ClearingRun:
    """Clear a request against the eligible open offers in merit order (see :mod:`market.clearing`).

    Idempotent: a request is cleared once; clearing it again returns the stored run.
    """
    now = now or timezone.now()
    with transaction.atomic():
        request = FlexibilityRequest.objects.select_for_update().get(pk=request_id)
        if request.status == FlexibilityRequest.Status.CLEARED:
            return request.clearing_run
        if request.status != FlexibilityRequest.Status.OPEN:
            raise ApplicationError(f"A {request.status} request cannot be cleared.", code=MarketError.INVALID_STATE)
        zone_ids = zone_with_descendant_ids([request.zone])
        offers = list(
            FlexibilityOffer.objects.select_for_update(of=("self",))
            .filter(
                status=FlexibilityOffer.Status.OPEN,
                premise__grid_zone_id__in=zone_ids,
                window_start__lte=request.window_start,
                window_end__gte=request.window_end,
                price_per_mwh__lte=request.max_price_per_mwh,
            )
            .order_by("pk")
        )
        # What the operator will ask about when little or nothing clears: open offers in the zone left out, by why.
        left_out = FlexibilityOffer.objects.filter(
            status=FlexibilityOffer.Status.OPEN, premise__grid_zone_id__in=zone_ids
        ).aggregate(
            above_price_cap=Count("pk", filter=Q(price_per_mwh__gt=request.max_price_per_mwh)),
            window_not_covered=Count(
                "pk",
                filter=Q(price_per_mwh__lte=request.max_price_per_mwh)
                & (Q(window_start__gt=request.window_start) | Q(window_end__lt=request.window_end)),
            ),
        )
        result = clear_merit_order(
            request_kw=request.kw,
            max_price_per_mwh=request.max_price_per_mwh,
            offers=[OfferIn(o.pk, o.kw, o.price_per_mwh, o.created_at) for o in offers],
        )
        run = ClearingRun.objects.create(
            request=request,
            rule_version=result.rule_version,
            clearing_price_per_mwh=result.clearing_price_per_mwh,
            awarded_kw=result.awarded_kw,
            inputs={
                "request": {
                    "id": request.pk,
                    "kw": str(request.kw),
                    "max_price_per_mwh": str(request.max_price_per_mwh),
                },
                "offers": [
                    {
                        "id": o.pk,
                        "kw": str(o.kw),
                        "price_per_mwh": str(o.price_per_mwh),
                        "submitted_at": o.created_at.isoformat(),
                    }
                    for o in offers
                ],
                "excluded": left_out,
            },
            outputs={
                "clearing_price_per_mwh": None
                if result.clearing_price_per_mwh is None
                else str(result.clearing_price_per_mwh),
                "awards": [{"offer_id": a.offer_id, "kw": str(a.kw)} for a in result.awards],
            },
            cleared_at=now,
        )
        by_id = {o.pk: o for o in offers}
        awards = []
        for a in result.awards:
            offer = by_id[a.offer_id]
            awards.append(
                Award(
                    clearing_run=run,
                    request=request,
                    offer=offer,
                    premise_id=offer.premise_id,
                    seller_id=offer.seller_id,
                    buyer_id=request.operator_id,
                    market="request",
                    kw=a.kw,
                    clearing_price_per_mwh=result.clearing_price_per_mwh,
                    window_start=request.window_start,
                    window_end=request.window_end,
                )
            )
            offer.status = (
                FlexibilityOffer.Status.AWARDED if a.kw == offer.kw else FlexibilityOffer.Status.PARTIALLY_AWARDED
            )
            offer.save(update_fields=["status"])
        Award.objects.bulk_create(awards)
        request.status = FlexibilityRequest.Status.CLEARED
        request.save(update_fields=["status"])
        award_ids = list(Award.objects.filter(clearing_run=run).values_list("pk", flat=True))
        hooks.awards_committed_on_commit(award_ids)
    return run
