"""The emergency stop: while engaged, no automated dispatch, the outbox holds every unsent message, running
cascades halt. Engaged by an operator or admin, lifted by an admin."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.selectors import user_role
from flexplatform.errors import ApplicationError, NotPermitted

from ..errors import ActivationErrorCode as Code
from ..models import Cascade, CascadeStep, EmergencyStop
from .outbox import outbox_flush_on_commit


def emergency_stop_active() -> EmergencyStop | None:
    return EmergencyStop.objects.filter(engaged=True).first()


def emergency_stop_engage(*, user, reason: str, now: datetime | None = None) -> EmergencyStop:
    """Halt all automated dispatch now: no new dispatch, the outbox holds every unsent command, running cascades
    are halted. Any operator or admin may engage; the row is the audit record. Engaging twice returns the first."""
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
    if user_role(user) != Membership.Role.ADMIN:
        raise NotPermitted("Only a platform admin may lift the emergency stop.")
    now = now or timezone.now()
    with transaction.atomic():
        stop = EmergencyStop.objects.select_for_update().filter(engaged=True).first()
        if stop is None:
            raise ApplicationError("The emergency stop is not engaged.", code=Code.INVALID_STATE)
        stop.lifted_by = user
        stop.lifted_at = now
        stop.lift_reason = reason[:300]
        stop.engaged = None
        stop.save(update_fields=["lifted_by", "lifted_at", "lift_reason", "engaged"])
        outbox_flush_on_commit()
    return stop
