"""Read models for participants: who a user is, what they may see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import GridZone, Membership, Organisation, Premise

ROLE_ORDER = [
    Membership.Role.ADMIN,
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
    """The user's main portal role (admin > grid operator > aggregator > consumer)."""
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


def zone_with_descendant_ids(zones: Iterable[GridZone]) -> set[int]:
    """The ids of the given zones and every zone below them in the grid hierarchy."""
    children: dict[int | None, list[int]] = {}
    for zid, parent in GridZone.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(zid)
    out: set[int] = set()
    stack = [z.pk for z in zones]
    while stack:
        zid = stack.pop()
        if zid in out:
            continue
        out.add(zid)
        stack.extend(children.get(zid, []))
    return out


def operator_zone_ids(user) -> set[int]:
    zones: list[GridZone] = []
    for org in user_organisations(user, role=Membership.Role.GRID_OPERATOR):
        zones.extend(org.service_zones.all())
    return zone_with_descendant_ids(zones)


def premises_visible_to(user) -> QuerySet[Premise]:
    """Consumers see their own premises, aggregators their enrolled portfolio, operators their zones."""
    qs = Premise.objects.select_related("organisation", "grid_zone", "aggregator")
    role = user_role(user)
    if role == Membership.Role.ADMIN:
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        return qs.filter(grid_zone_id__in=operator_zone_ids(user))
    if role == Membership.Role.AGGREGATOR:
        return qs.filter(aggregator__in=user_organisations(user, role=Membership.Role.AGGREGATOR))
    if role == Membership.Role.CONSUMER:
        return qs.filter(organisation__in=user_organisations(user, role=Membership.Role.CONSUMER))
    return qs.none()


def premises_offerable_by(organisation: Organisation) -> QuerySet[Premise]:
    """Premises an organisation may offer: its own (consumer) or those enrolled with it (aggregator)."""
    if organisation.kind == Organisation.Kind.AGGREGATOR:
        return Premise.objects.filter(aggregator=organisation)
    if organisation.kind == Organisation.Kind.CONSUMER:
        return Premise.objects.filter(organisation=organisation)
    return Premise.objects.none()


@dataclass(frozen=True)
class TradingStatus:
    allowed: bool
    reasons: tuple[str, ...] = ()


def organisation_trading_status(organisation: Organisation) -> TradingStatus:
    """Whether an organisation may sell flexibility now, and why not.

    The single gate the market calls before accepting an offer. Today: only consumers and aggregators sell.
    (Consumer verification — KYC, consent, compliance — adds its reasons here.)
    """
    if organisation.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
        return TradingStatus(False, ("Only consumers and aggregators sell flexibility.",))
    return TradingStatus(True)
