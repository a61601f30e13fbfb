"""Cascades: a zone's target kW dispatched tier by tier, measured, escalated until met or exhausted."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts import policies
from accounts.selectors import zone_with_descendant_ids
from flexplatform.errors import ApplicationError, Conflict

from ..errors import ActivationErrorCode as Code
from ..models import Cascade, CascadeStep, DREvent, Enrollment, Program
from ..selectors import event_measured_kw
from .emergency_stop import emergency_stop_active
from .events import event_create


def _tier_enrollments(cascade: Cascade, tier: int):

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
    """Target kW in a zone: tier 1 (the fastest) is dispatched now; later tiers by :func:`cascades_evaluate`.
    A user starts one only in a zone they serve (``accounts.policies.require_zone``; a trigger rule's has no user)."""
    if user is not None:
        policies.require_zone(user, zone)
    now = now or timezone.now()
    if target_kw <= 0:
        raise ApplicationError("Target must be positive.", fields={"target_kw": ["Must be positive."]})
    if end <= start:
        raise ApplicationError("The cascade must end after it starts.", fields={"end": ["Must be after start."]})
    if emergency_stop_active() is not None:
        raise Conflict("The emergency stop is engaged: automated dispatch is halted.", code=Code.EMERGENCY_STOP)
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
