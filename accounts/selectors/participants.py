"""Who a user is and what they may see: memberships, the portal role, an operator's zones, visible premises."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from ..models import GridZone, Membership, Organisation, Premise
from .participation import consents_active
from .zones import zone_with_descendant_ids

ROLE_ORDER = [
    Membership.Role.ADMIN,
    Membership.Role.AUDITOR,
    Membership.Role.GRID_OPERATOR,
    Membership.Role.AGGREGATOR,
    Membership.Role.CONSUMER,
]


def user_memberships(user) -> list[Membership]:
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_memberships_cache", None)
    if cached is None:
        cached = list(Membership.objects.filter(user=user).select_related("organisation"))
        user._memberships_cache = cached
    return cached


def user_role(user) -> str | None:
    """The user's main portal role (admin > auditor > grid operator > aggregator > consumer)."""
    if not getattr(user, "is_authenticated", False):
        return None
    roles = {m.role for m in user_memberships(user)}
    if user.is_superuser:
        roles.add(Membership.Role.ADMIN)
    for role in ROLE_ORDER:
        if role in roles:
            return role
    return None


def user_organisations(user, *, role: str | None = None) -> list[Organisation]:
    return [m.organisation for m in user_memberships(user) if role is None or m.role == role]


def operator_zone_ids(user) -> set[int]:
    zones: list[GridZone] = []
    for org in user_organisations(user, role=Membership.Role.GRID_OPERATOR):
        zones.extend(org.service_zones.all())
    return zone_with_descendant_ids(zones)


READ_ALL_ROLES = (Membership.Role.ADMIN, Membership.Role.AUDITOR)


def premises_visible_to(user) -> QuerySet[Premise]:
    """Consumers see their own premises, aggregators only premises whose consent to them is in force, operators
    their zones, admins and auditors everything."""
    qs = Premise.objects.select_related("organisation", "grid_zone", "aggregator")
    role = user_role(user)
    if role in READ_ALL_ROLES:
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        return qs.filter(grid_zone_id__in=operator_zone_ids(user))
    if role == Membership.Role.AGGREGATOR:
        orgs = user_organisations(user, role=Membership.Role.AGGREGATOR)
        return qs.filter(Exists(consents_active().filter(premise=OuterRef("pk"), aggregator__in=orgs)))
    if role == Membership.Role.CONSUMER:
        return qs.filter(organisation__in=user_organisations(user, role=Membership.Role.CONSUMER))
    return qs.none()
