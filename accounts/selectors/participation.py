"""Who takes part for which premise: consents and enrolments in force, and the premises an organisation
represents (may act for) because of them.

Whether a premise may be *offered* adds the market's offer gate on top (a validated revenue meter, accredited
capacity, the aggregation minimum): ``market.services.gates.premises_offerable_by``."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ..models import Consent, Enrolment, Organisation, Premise, VerificationCase


def consents_active(*, now: datetime | None = None) -> QuerySet[Consent]:
    """Consents in force: not revoked and not past their expiry (even before the expiry task has run)."""
    now = now or timezone.now()
    return Consent.objects.filter(status=Consent.Status.ACTIVE, granted_at__lte=now, expires_at__gt=now)


def enrolments_active(*, now: datetime | None = None) -> QuerySet[Enrolment]:
    """Enrolments in force now, under a consent in force now."""
    now = now or timezone.now()
    return Enrolment.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        status=Enrolment.Status.ACTIVE,
        starts_at__lte=now,
        consent__in=consents_active(now=now),
    )


def premises_represented_by(organisation: Organisation, *, now: datetime | None = None) -> QuerySet[Premise]:
    """Premises an organisation may act for now: an aggregator those enrolled with it under a consent in force
    whose owner's verification is in force (the owner is the one paid); a consumer its own premises that no
    aggregator holds an active enrolment for (no double participation). Who may declare availability or link a
    VEN for a premise; selling it also needs the market's offer gate (``market.services.gates``)."""
    now = now or timezone.now()
    active = enrolments_active(now=now)
    if organisation.kind == Organisation.Kind.AGGREGATOR:
        owner_verified = VerificationCase.objects.filter(
            organisation=OuterRef("organisation"), status=VerificationCase.Status.VERIFIED, verified_until__gt=now
        )
        return Premise.objects.filter(
            Exists(active.filter(premise=OuterRef("pk"), aggregator=organisation)), Exists(owner_verified)
        )
    if organisation.kind == Organisation.Kind.CONSUMER:
        return premises_represented_by_consumers([organisation.pk], now=now)
    return Premise.objects.none()


def premises_represented_by_consumers(organisation_ids: list[int], *, now: datetime | None = None) -> QuerySet[Premise]:
    """What :func:`premises_represented_by` answers for each of these consumers, together: each one's own premises
    that no aggregator holds an active enrolment for (``organisation_id`` says whose)."""
    active = enrolments_active(now=now or timezone.now())
    return Premise.objects.filter(organisation_id__in=organisation_ids).exclude(
        Exists(active.filter(premise=OuterRef("pk")))
    )
