"""Read models for activation."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Membership
from accounts.selectors import premises_visible_to, user_organisations, user_role

from .models import DREvent


def events_visible_to(user) -> QuerySet[DREvent]:
    qs = DREvent.objects.select_related("premise", "zone", "verification", "award")
    role = user_role(user)
    if role == Membership.Role.ADMIN:
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        orgs = user_organisations(user, role=role)
        # market awards name their paying operator as ``buyer``; request awards also through the request
        return qs.filter(Q(award__buyer__in=orgs) | Q(award__request__operator__in=orgs))
    if role in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR):
        return qs.filter(premise__in=premises_visible_to(user))
    return qs.none()


def event_days_for_premise(*, premise_id: int, tz: str) -> set:
    """Local dates on which the premise had an event (excluded from its baselines)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    days = set()
    for start, end in DREvent.objects.filter(premise_id=premise_id).exclude(
        status=DREvent.Status.CANCELLED
    ).values_list("start", "end"):
        days.add(start.astimezone(zone).date())
        days.add(end.astimezone(zone).date())
    return days
