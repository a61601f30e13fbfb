"""Read models for participants: who a user is, what they may see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from . import compliance
from .models import Consent, Enrolment, GridZone, Membership, Organisation, Premise, VerificationCase

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


READ_ALL_ROLES = (Membership.Role.ADMIN, Membership.Role.AUDITOR)


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


def premises_offerable_by(organisation: Organisation, *, now: datetime | None = None) -> QuerySet[Premise]:
    """Premises an organisation may offer now: an aggregator those enrolled with it under a consent in force
    whose owner's verification is in force (the owner is the one paid); a consumer its own premises that no aggregator holds an active enrolment for (no double participation)."""
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
        return Premise.objects.filter(organisation=organisation).exclude(Exists(active.filter(premise=OuterRef("pk"))))
    return Premise.objects.none()


def current_verification(organisation: Organisation, *, now: datetime | None = None) -> VerificationCase | None:
    """The organisation's verified case in force now (the one valid longest), or None."""
    now = now or timezone.now()
    return (
        VerificationCase.objects.filter(
            organisation=organisation, status=VerificationCase.Status.VERIFIED, verified_until__gt=now
        )
        .order_by("-verified_until")
        .first()
    )


def verification_cases_for_review() -> QuerySet[VerificationCase]:
    """The manual review queue, oldest submission first."""
    return (
        VerificationCase.objects.filter(status=VerificationCase.Status.IN_REVIEW)
        .select_related("organisation")
        .order_by("submitted_at", "id")
    )


def zone_jurisdiction(zone: GridZone) -> str:
    """The compliance profile code of a zone: its own or its nearest ancestor's."""
    seen: set[int] = set()
    z: GridZone | None = zone
    while z is not None and z.pk not in seen:
        if z.jurisdiction:
            return z.jurisdiction
        seen.add(z.pk)
        z = z.parent
    return ""


def premise_annual_kwh(premise: Premise, *, now: datetime | None = None) -> Decimal | None:
    """Annual consumption estimated from the last year of revenue-meter history (mean daily kWh x 365)."""
    from assessment.models import MeterReading

    now = now or timezone.now()
    rows = MeterReading.objects.filter(
        meter__premise=premise, meter__kind="ami", start__gte=now - timedelta(days=365), start__lt=now
    ).aggregate(kwh=Sum("kwh"), n=Count("id"))
    if not rows["n"]:
        return None
    interval = min(m.interval_minutes for m in premise.meters.all()) or 15
    days = Decimal(rows["n"] * interval) / Decimal(1440)
    if days < 1:
        return None
    return (rows["kwh"] / days * 365).quantize(Decimal("1"))


def premise_facts(premise: Premise, *, now: datetime | None = None) -> compliance.PremiseFacts:
    verified = current_verification(premise.organisation, now=now)
    return compliance.PremiseFacts(
        segment=premise.segment,
        meter_intervals=tuple(m.interval_minutes for m in premise.meters.all()),
        annual_kwh=premise_annual_kwh(premise, now=now),
        owner_kyc_level=verified.level if verified else None,
    )


def aggregator_facts(organisation: Organisation, *, now: datetime | None = None) -> compliance.AggregatorFacts:
    return compliance.AggregatorFacts(
        verified=current_verification(organisation, now=now) is not None,
        licence_number=organisation.licence_number,
        licence_expires_on=organisation.licence_expires_on,
    )


def enrolment_eligibility(
    *, premise: Premise, aggregator: Organisation, now: datetime | None = None
) -> list[compliance.RuleResult]:
    now = now or timezone.now()
    profile = compliance.profile(zone_jurisdiction(premise.grid_zone))
    return compliance.enrolment_eligibility(
        profile, premise_facts(premise, now=now), aggregator_facts(aggregator, now=now), now.date()
    )


def organisation_compliance(organisation: Organisation, *, now: datetime | None = None) -> list[compliance.RuleResult]:
    """Every compliance rule for a participant with its result: verification, and per jurisdiction it is active
    in the KYC level (consumers) or the licence and the eligibility of enrolled premises (aggregators)."""
    now = now or timezone.now()
    out: list[compliance.RuleResult] = []
    if organisation.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
        return out
    verified = current_verification(organisation, now=now)
    if verified is not None:
        out.append(compliance.RuleResult("verified", True, f"Verified until {verified.verified_until:%Y-%m-%d}."))
    else:
        last = VerificationCase.objects.filter(organisation=organisation).order_by("-created_at", "-id").first()
        if last is not None and (
            last.status == VerificationCase.Status.EXPIRED
            or (last.status == VerificationCase.Status.VERIFIED and last.verified_until <= now)
        ):
            detail = f"Verification expired on {last.verified_until:%Y-%m-%d}; trading is suspended until renewed."
        elif last is not None and last.status in VerificationCase.OPEN_STATUSES:
            detail = f"Verification case #{last.pk} is {last.get_status_display().lower()}."
        elif last is not None and last.status == VerificationCase.Status.REJECTED:
            detail = f"Verification case #{last.pk} was rejected."
        else:
            detail = "Not verified: complete KYC/KYB."
        out.append(compliance.RuleResult("verified", False, detail))
    if organisation.kind == Organisation.Kind.CONSUMER:
        for premise in Premise.objects.filter(organisation=organisation).select_related("grid_zone"):
            profile = compliance.profile(zone_jurisdiction(premise.grid_zone))
            if profile is None:
                continue
            required = profile.kyc_level_by_segment.get(premise.segment, compliance.BASIC)
            have = verified.level if verified else None
            ok = compliance.LEVEL_RANK[have] >= compliance.LEVEL_RANK[required]
            if verified is not None:
                out.append(
                    compliance.RuleResult(
                        "kyc_level", ok, f"{premise.name}: {profile.name} needs {required} verification (have {have})."
                    )
                )
    else:
        enrolled = (
            Premise.objects.filter(
                Exists(enrolments_active(now=now).filter(premise=OuterRef("pk"), aggregator=organisation))
            )
            .select_related("grid_zone__parent__parent", "organisation")
            .prefetch_related("meters")
        )
        agg = aggregator_facts(organisation, now=now)
        seen: set[str] = set()
        for premise in enrolled:
            profile = compliance.profile(zone_jurisdiction(premise.grid_zone))
            if profile is None:
                continue
            if profile.code not in seen:
                seen.add(profile.code)
                out.append(compliance.licence_rule(profile, agg, now.date()))
            for rule in compliance.enrolment_eligibility(profile, premise_facts(premise, now=now), agg, now.date()):
                if not rule.passed and rule.rule not in ("aggregator_licence", "aggregator_verified"):
                    # A premise's own problem keeps that premise out of offers (premises_offerable_by), not the
                    # aggregator's whole portfolio: listed, not blocking.
                    out.append(compliance.RuleResult(rule.rule, False, f"{premise.name}: {rule.detail}", False))
    return out


@dataclass(frozen=True)
class TradingStatus:
    allowed: bool
    reasons: tuple[str, ...] = ()


def organisation_trading_status(organisation: Organisation, *, now: datetime | None = None) -> TradingStatus:
    """Whether an organisation may sell flexibility now, and why not.

    The single gate the market calls before accepting an offer: only consumers and aggregators sell, only while
    their KYC/KYB verification is in force (it expires after ``KYC_VALIDITY_DAYS``), and only with no failing
    blocking compliance rule (KYC level per jurisdiction, aggregator licence). Which premises a seller may
    offer — consent and enrolment — is :func:`premises_offerable_by`.
    """
    if organisation.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
        return TradingStatus(False, ("Only consumers and aggregators sell flexibility.",))
    failing = [r for r in organisation_compliance(organisation, now=now) if not r.passed and r.blocking]
    if failing:
        return TradingStatus(False, tuple(r.detail for r in failing))
    return TradingStatus(True)


def verified_resources_for(user, *, now: datetime | None = None) -> list[dict]:
    """Premises in the operator's zones (all, for admins and auditors) that their seller may offer now: the
    aggregator holding an active consented enrolment, or else the owner; the seller's trading gate passes."""
    now = now or timezone.now()
    role = user_role(user)
    qs = Premise.objects.select_related("organisation", "grid_zone").order_by("id")
    if role == Membership.Role.GRID_OPERATOR:
        qs = qs.filter(grid_zone_id__in=operator_zone_ids(user))
    elif role not in READ_ALL_ROLES:
        return []
    enrolled = dict(enrolments_active(now=now).values_list("premise_id", "aggregator_id"))
    sellers = {o.pk: o for o in Organisation.objects.filter(pk__in=set(enrolled.values()))}
    status_cache: dict[int, bool] = {}
    out = []
    for premise in qs:
        verification = current_verification(premise.organisation, now=now)
        if verification is None:
            continue
        seller = sellers.get(enrolled.get(premise.pk)) or premise.organisation
        if seller.pk not in status_cache:
            status_cache[seller.pk] = organisation_trading_status(seller, now=now).allowed
        if not status_cache[seller.pk]:
            continue
        out.append(
            {
                "id": premise.pk,
                "name": premise.name,
                "segment": premise.segment,
                "zone": premise.grid_zone.code,
                "seller": seller.name,
                "owner_verified_until": verification.verified_until,
            }
        )
    return out
