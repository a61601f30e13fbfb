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


def _with_descendants(children: dict[int | None, list[int]], ids: Iterable[int]) -> set[int]:
    out: set[int] = set()
    stack = list(ids)
    while stack:
        zid = stack.pop()
        if zid in out:
            continue
        out.add(zid)
        stack.extend(children.get(zid, []))
    return out


def zone_with_descendant_ids(zones: Iterable[GridZone]) -> set[int]:
    """The ids of the given zones and every zone below them in the grid hierarchy."""
    children: dict[int | None, list[int]] = {}
    for zid, parent in GridZone.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(zid)
    return _with_descendants(children, (z.pk for z in zones))


@dataclass(frozen=True)
class ZoneIndex:
    """Every grid zone, read in one query, for a caller that needs a zone by code and the hierarchy below it
    several times in one request (the market's order entry)."""

    by_code: dict[str, GridZone]
    children: dict[int | None, list[int]]

    def with_descendant_ids(self, zone_ids: Iterable[int]) -> set[int]:
        return _with_descendants(self.children, zone_ids)


def zone_index() -> ZoneIndex:
    by_code: dict[str, GridZone] = {}
    children: dict[int | None, list[int]] = {}
    for z in GridZone.objects.order_by():
        by_code[z.code] = z
        children.setdefault(z.parent_id, []).append(z.pk)
    return ZoneIndex(by_code=by_code, children=children)


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


def _validated_meter_premise_ids() -> QuerySet:
    from assessment.selectors import validated_meter_premise_ids

    return validated_meter_premise_ids()


def premises_offerable_by(
    organisation: Organisation, *, now: datetime | None = None, meter_validated: bool = True
) -> QuerySet[Premise]:
    """Premises an organisation may offer now: an aggregator those enrolled with it under a consent in force
    whose owner's verification is in force (the owner is the one paid); a consumer its own premises that no
    aggregator holds an active enrolment for (no double participation). Either way only premises whose revenue
    meter is validated (enough clean history to measure delivery against: ``assessment.selectors``), unless
    ``meter_validated=False`` (who may act for the premise before it sells: declare availability, link a VEN)."""
    now = now or timezone.now()
    active = enrolments_active(now=now)
    validated = Q(pk__in=_validated_meter_premise_ids()) if meter_validated else Q()
    if organisation.kind == Organisation.Kind.AGGREGATOR:
        owner_verified = VerificationCase.objects.filter(
            organisation=OuterRef("organisation"), status=VerificationCase.Status.VERIFIED, verified_until__gt=now
        )
        return Premise.objects.filter(
            Exists(active.filter(premise=OuterRef("pk"), aggregator=organisation)), Exists(owner_verified), validated
        )
    if organisation.kind == Organisation.Kind.CONSUMER:
        return Premise.objects.filter(validated, organisation=organisation).exclude(
            Exists(active.filter(premise=OuterRef("pk")))
        )
    return Premise.objects.none()


def premise_offer_refusals(
    organisation: Organisation, premises: Iterable[Premise], *, now: datetime | None = None
) -> dict[int, list[str]]:
    """Why ``organisation`` may not offer each of ``premises`` (only those it may not), in words: the reasons
    behind :func:`premises_offerable_by`, for the market's refusals. Meter details only for the owner and the
    premise's aggregator."""
    from assessment.selectors import premise_meter_validation_reasons

    now = now or timezone.now()
    premises = list(premises)
    offerable = set(
        premises_offerable_by(organisation, now=now)
        .filter(pk__in=[p.pk for p in premises])
        .values_list("pk", flat=True)
    )
    active = dict(
        enrolments_active(now=now)
        .filter(premise__in=[p.pk for p in premises])
        .values_list("premise_id", "aggregator__name")
    )
    mine = set(
        enrolments_active(now=now)
        .filter(premise__in=[p.pk for p in premises], aggregator=organisation)
        .values_list("premise_id", flat=True)
    )
    out: dict[int, list[str]] = {}
    for premise in premises:
        if premise.pk in offerable:
            continue
        reasons: list[str] = []
        related = premise.pk in mine or premise.organisation_id == organisation.pk
        # A premise the seller has no relation to is named by its id only: its name is someone else's data.
        label = premise.name if related else f"Premise {premise.pk}"
        if organisation.kind == Organisation.Kind.AGGREGATOR:
            if premise.pk not in mine:
                reasons.append(f"{label} is not enrolled with you under a consent in force.")
            elif current_verification(premise.organisation, now=now) is None:
                reasons.append(f"{label}: its owner's verification (KYC/KYB) is not in force.")
        elif organisation.kind == Organisation.Kind.CONSUMER:
            if premise.organisation_id != organisation.pk:
                reasons.append(f"{label} is not yours.")
            elif premise.pk in active:
                reasons.append(f"{label} is enrolled with {active[premise.pk]}, who offers its flexibility.")
        else:
            reasons.append("Only consumers and aggregators offer flexibility.")
        if related:
            reasons += premise_meter_validation_reasons(premise)
        out[premise.pk] = reasons or [f"{label} may not be offered by you."]
    return out


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


def organisation_compliance(
    organisation: Organisation, *, now: datetime | None = None, blocking_only: bool = False, portfolios=None
) -> list[compliance.RuleResult]:
    """Every compliance rule for a participant with its result: verification, and per jurisdiction it is active
    in the KYC level (consumers) or the licence, the eligibility of enrolled premises and the FERC Order 2222
    minimum aggregation size (aggregators); for every premise, whether its revenue meter is validated.

    ``blocking_only`` computes just the rules that can block trading (the trading gate's fast path);
    ``portfolios``: the aggregator's :func:`aggregation_portfolios` when the caller has them already."""
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
        # ISO zone -> substation -> feeder: the jurisdiction is found without a query per level.
        premises = list(Premise.objects.filter(organisation=organisation).select_related("grid_zone__parent__parent"))
        for premise in premises:
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
        if not blocking_only:
            out += _meter_rules(premises)
        return out
    enrolled = list(
        Premise.objects.filter(
            Exists(enrolments_active(now=now).filter(premise=OuterRef("pk"), aggregator=organisation))
        )
        .select_related("grid_zone__parent__parent", "organisation")
        .prefetch_related("meters")
    )
    agg = aggregator_facts(organisation, now=now)
    seen: list[compliance.JurisdictionProfile] = []
    for premise in enrolled:
        profile = compliance.profile(zone_jurisdiction(premise.grid_zone))
        if profile is None:
            continue
        if profile not in seen:
            seen.append(profile)
            out.append(compliance.licence_rule(profile, agg, now.date()))
        if blocking_only:
            continue
        for rule in compliance.enrolment_eligibility(profile, premise_facts(premise, now=now), agg, now.date()):
            if not rule.passed and rule.rule not in ("aggregator_licence", "aggregator_verified"):
                # A premise's own problem keeps that premise out of offers (premises_offerable_by), not the
                # aggregator's whole portfolio: listed, not blocking.
                out.append(compliance.RuleResult(rule.rule, False, f"{premise.name}: {rule.detail}", False))
    if not blocking_only:
        out += _meter_rules(enrolled)
        if portfolios is None:
            portfolios = aggregation_portfolios(organisation, now=now)
        sizes = {p.profile.code: p for p in portfolios}
        for profile in seen:
            portfolio = sizes.get(profile.code)
            rule = compliance.aggregation_size_rule(profile, portfolio.kw if portfolio else Decimal("0"))
            if rule is not None:
                out.append(rule)
    return out


def _meter_rules(premises: list[Premise]) -> list[compliance.RuleResult]:
    """Per premise: its revenue meter is validated, or why not (the premise cannot be offered until it is)."""
    from assessment.selectors import premise_meter_validation_reasons

    out = []
    for premise in premises:
        reasons = premise_meter_validation_reasons(premise)
        if reasons:
            detail = " ".join(reasons) + " It cannot be offered until its meter is validated."
            out.append(compliance.RuleResult("meter_validated", False, detail, blocking=False))
        else:
            out.append(compliance.RuleResult("meter_validated", True, f"{premise.name}: meter validated.", False))
    return out


def zone_jurisdiction_map() -> dict[int, str]:
    """Every zone's compliance profile code (its own or its nearest ancestor's), in one query."""
    rows = {
        zid: (parent, code) for zid, parent, code in GridZone.objects.values_list("id", "parent_id", "jurisdiction")
    }
    out: dict[int, str] = {}
    for zid in rows:
        z, seen = zid, set()
        while z is not None and z not in seen:
            seen.add(z)
            parent, code = rows[z]
            if code:
                out[zid] = code
                break
            z = parent
        out.setdefault(zid, "")
    return out


@dataclass(frozen=True)
class AggregationPortfolio:
    """An aggregator's verified resources in one ISO (jurisdiction profile) and their accredited capacity."""

    profile: compliance.JurisdictionProfile
    kw: Decimal
    premise_ids: tuple[int, ...]

    @property
    def rule(self) -> compliance.RuleResult | None:
        return compliance.aggregation_size_rule(self.profile, self.kw)


def aggregation_portfolios(
    organisation: Organisation,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    jurisdiction: str | None = None,
) -> list[AggregationPortfolio]:
    """An aggregator's portfolio per ISO with a minimum aggregation size (FERC Order No. 2222): the sum of the
    accredited capacity (``assessment.selectors.accredited_capacity_kw``) of the premises it may offer now
    (enrolled under consent, owner verified, meter validated) whose zone lies in that ISO.

    Over ``[start, end)`` when given (an order's delivery); otherwise each premise's latest assessed window
    (the compliance status). ``jurisdiction`` limits it to one profile code."""
    from assessment.selectors import accredited_capacity_kw, accredited_capacity_latest_kw

    if organisation.kind != Organisation.Kind.AGGREGATOR:
        return []
    codes = zone_jurisdiction_map()
    totals: dict[str, tuple[Decimal, list[int]]] = {}
    for premise in premises_offerable_by(organisation, now=now).order_by("pk"):
        code = codes.get(premise.grid_zone_id, "")
        profile = compliance.profile(code)
        if profile is None or profile.min_aggregation_kw is None or (jurisdiction and code != jurisdiction):
            continue
        if start is not None and end is not None:
            kw = accredited_capacity_kw(premise=premise, start=start, end=end)
        else:
            kw = accredited_capacity_latest_kw(premise=premise, now=now)
        total, ids = totals.get(code, (Decimal("0"), []))
        totals[code] = (total + (kw or Decimal("0")), [*ids, premise.pk])
    return [
        AggregationPortfolio(profile=compliance.PROFILES[code], kw=kw, premise_ids=tuple(ids))
        for code, (kw, ids) in sorted(totals.items())
    ]


def wholesale_aggregation_refusal(
    *,
    organisation: Organisation,
    zone: GridZone,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    first: Iterable[int] = (),
) -> str | None:
    """Why an aggregator may not offer into the wholesale products of the ISO that ``zone`` lies in over
    ``[start, end)`` — its portfolio there is below the ISO's FERC Order 2222 minimum aggregation size — or None.
    Consumers selling their own premises directly are not aggregations (the products' per-order minimum size
    applies to them); zones without a minimum (no profile, EU) pass. Sums premises ``first`` (the order's
    members) first and stops once the minimum is reached, so a large portfolio costs a few premises' reads."""
    from assessment.selectors import accredited_capacity_kw

    if organisation.kind != Organisation.Kind.AGGREGATOR:
        return None
    code = zone_jurisdiction(zone)
    profile = compliance.profile(code)
    if profile is None or profile.min_aggregation_kw is None:
        return None
    codes = zone_jurisdiction_map()
    premises = [p for p in premises_offerable_by(organisation, now=now) if codes.get(p.grid_zone_id) == code]
    preferred = set(first)
    premises.sort(key=lambda p: (p.pk not in preferred, p.pk))
    total = Decimal("0")
    for premise in premises:
        total += accredited_capacity_kw(premise=premise, start=start, end=end) or Decimal("0")
        if total >= profile.min_aggregation_kw:
            return None
    rule = compliance.aggregation_size_rule(profile, total)
    return None if rule is None or rule.passed else rule.detail


def compliance_status(organisation: Organisation, *, now: datetime | None = None) -> dict:
    """The participant's compliance status for the portal and the API: every rule with its result, the failing
    ones, whether it may trade (and why not), and, for an aggregator, its portfolio per ISO against the ISO's
    FERC Order 2222 minimum aggregation size."""
    now = now or timezone.now()
    portfolios = aggregation_portfolios(organisation, now=now)  # computed once: the rules and the table use it
    rules = organisation_compliance(organisation, now=now, portfolios=portfolios)
    trading = organisation_trading_status(organisation, now=now)
    aggregations = [
        {
            "jurisdiction": p.profile.code,
            "iso": p.profile.iso,
            "kw": p.kw,
            "minimum_kw": p.profile.min_aggregation_kw,
            "premises": len(p.premise_ids),
            "passed": p.rule.passed if p.rule else True,
            "source": p.profile.source,
        }
        for p in portfolios
    ]
    return {
        "organisation": organisation.pk,
        "may_trade": trading.allowed,
        "reasons": list(trading.reasons),
        "failing": [r.as_dict() for r in rules if not r.passed],
        "rules": [r.as_dict() for r in rules],
        "aggregations": aggregations,
    }


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
    failing = [
        r for r in organisation_compliance(organisation, now=now, blocking_only=True) if not r.passed and r.blocking
    ]
    if failing:
        return TradingStatus(False, tuple(r.detail for r in failing))
    return TradingStatus(True)


def verified_resources_for(user, *, now: datetime | None = None) -> list[dict]:
    """Premises in the operator's zones (all, for admins and auditors) that their seller may offer now: the
    aggregator holding an active consented enrolment, or else the owner; the owner is verified, the premise's
    revenue meter is validated and the seller's trading gate passes."""
    now = now or timezone.now()
    role = user_role(user)
    qs = (
        Premise.objects.select_related("organisation", "grid_zone")
        .filter(pk__in=_validated_meter_premise_ids())
        .order_by("id")
    )
    if role == Membership.Role.GRID_OPERATOR:
        qs = qs.filter(grid_zone_id__in=operator_zone_ids(user))
    elif role not in READ_ALL_ROLES:
        return []
    from assessment.selectors import meter_validated_since

    validated_at = meter_validated_since([p.pk for p in qs])
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
                "meter_validated_at": validated_at.get(premise.pk),
            }
        )
    return out


def grid_zones() -> QuerySet[GridZone]:
    return GridZone.objects.all()


def grid_zone_by_code(code: str) -> GridZone:
    """The zone with ``code``; raises ``GridZone.DoesNotExist``."""
    return GridZone.objects.get(code=code)
