"""Anchor alerts: a person resolves one, with a reason, through this service (the admin action and the console
call it); the resolution is written to the settlement audit trail in the same transaction.

An alert is never deleted and never re-opened by hand: if the problem comes back, the audit raises a new one
(the partial unique constraint allows one open alert per anchor and kind).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts import policies
from flexplatform.errors import ApplicationError, Conflict, NotFound, NotPermitted

from ..models import AnchorAlert
from .audit_trail import audit


@transaction.atomic
def anchor_alert_resolve(*, alert_id: int, by, reason: str) -> AnchorAlert:
    """Marks one open alert resolved by an admin, with the reason kept in the audit trail; a second resolve of the
    same alert is refused (so two admins clicking at once record one resolution)."""
    if not policies.is_admin(by):
        raise NotPermitted("Only a platform admin resolves anchor alerts.")
    if not (reason or "").strip():
        raise ApplicationError("Say how the alert was resolved.", fields={"reason": ["Required."]})
    alert = AnchorAlert.objects.select_for_update(of=("self",)).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"No anchor alert {alert_id}.")
    if alert.resolved_at is not None:
        raise Conflict(f"Alert {alert.pk} was already resolved at {alert.resolved_at:%Y-%m-%d %H:%M} UTC.")
    alert.resolved_at = timezone.now()
    alert.save(update_fields=["resolved_at"])
    audit(action="anchor_alert_resolved", obj=alert, actor=by, kind=alert.kind, reason=reason.strip())
    return alert


def anchor_alerts_resolve(*, alert_ids: list[int], by, reason: str) -> tuple[int, list[str]]:
    """Resolves several alerts one by one (each in its own transaction); returns how many were resolved and the
    refusals, so a bulk action reports what it did not do."""
    done, refused = 0, []
    for alert_id in sorted(alert_ids):
        try:
            anchor_alert_resolve(alert_id=alert_id, by=by, reason=reason)
        except ApplicationError as exc:
            refused.append(f"alert {alert_id}: {exc.detail}")
        else:
            done += 1
    return done, refused
