"""Reads of the consumer's data pages: meters, consents, availability declarations, devices (bounded lists)."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Consent, Device
from accounts.policies import premises_visible_to
from assessment.models import AvailabilityDeclaration
from assessment.selectors import meters_readable_by


def consumer_premises(user) -> list:
    return list(premises_visible_to(user).select_related("organisation").order_by("name"))


def consumer_meters(user) -> list:
    return list(meters_readable_by(user).select_related("premise").order_by("meter_id"))


def consents_of(premises, limit: int = 100) -> list[Consent]:
    return list(
        Consent.objects.filter(premise__in=premises)
        .select_related("premise", "aggregator")
        .order_by("-granted_at", "-pk")[:limit]
    )


def consent_of(user, pk: int) -> Consent | None:
    return (
        Consent.objects.filter(pk=pk, premise__in=premises_visible_to(user))
        .select_related("premise", "aggregator")
        .first()
    )


def declarations_of(premises, limit: int = 20) -> list[AvailabilityDeclaration]:
    return list(
        AvailabilityDeclaration.objects.filter(premise__in=premises, valid_until__gt=timezone.now())
        .select_related("premise")
        .order_by("-created_at", "-pk")[:limit]
    )


def devices_of(premises) -> list[Device]:
    return list(Device.objects.filter(premise__in=premises).select_related("premise").order_by("premise_id", "name"))
