"""Read models for the market."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership, Organisation
from accounts.selectors import operator_zone_ids, premises_visible_to, user_organisations, user_role

from .models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest


def offers_for_seller(*, seller: Organisation | None) -> QuerySet[FlexibilityOffer]:
    return FlexibilityOffer.objects.filter(seller=seller).select_related("zone", "premise")


def requests_for_operator(*, operator: Organisation | None) -> QuerySet[FlexibilityRequest]:
    return FlexibilityRequest.objects.filter(operator=operator).select_related("zone")


def awards_visible_to(user) -> QuerySet[Award]:
    qs = Award.objects.select_related("premise", "request", "offer")
    role = user_role(user)
    if role in (Membership.Role.ADMIN, Membership.Role.AUDITOR):
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        return qs.filter(request__operator__in=user_organisations(user, role=role))
    if role in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR):
        return qs.filter(premise__in=premises_visible_to(user))
    return qs.none()


def clearing_runs_for_zones(user) -> QuerySet[ClearingRun]:
    return ClearingRun.objects.filter(request__zone_id__in=operator_zone_ids(user)).select_related("request__zone")
