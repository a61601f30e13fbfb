"""The participant's compliance: every rule with its result, the trading gate, enrolment eligibility, and the
grid operator's list of verified resources.

The rules themselves are ``accounts.compliance`` (pure). Facts owned by higher layers (a premise's metering,
an aggregator's portfolio against the minimum aggregation size) come from the providers those layers register
at start-up (``accounts.hooks``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from flexplatform import snapshots

from .. import compliance, hooks
from ..models import GridZone, Membership, Organisation, Premise, VerificationCase
from .compliance_sets import (
    eligibility_failures,
    enrolled_premises,
    failing_rules_by_premise,
    meter_rule,
)
from .participants import READ_ALL_ROLES, operator_zone_ids, user_role
from .participation import enrolments_active
from .verification import current_verification
from .zones import zone_jurisdiction

_UNSET = object()


def premise_facts(
    premise: Premise, *, now: datetime | None = None, verified=_UNSET, annual_kwh=_UNSET
) -> compliance.PremiseFacts:
    """The facts a premise's eligibility rules read; ``verified`` (the owner's case in force, or None) and
    ``annual_kwh`` when the caller read them for many premises at once."""
    if verified is _UNSET:
        verified = current_verification(premise.organisation, now=now)
    if annual_kwh is _UNSET:
        annual_kwh = hooks.metering().annual_kwh(premise, now=now or timezone.now())
    return compliance.PremiseFacts(
        segment=premise.segment,
        meter_intervals=tuple(m.interval_minutes for m in premise.meters.all()),
        annual_kwh=annual_kwh,
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


def _verified_rule(organisation: Organisation, verified, *, now: datetime) -> compliance.RuleResult:
    """The organisation's own verification (KYC/KYB) in force, or why not."""
    if verified is not None:
        return compliance.RuleResult("verified", True, f"Verified until {verified.verified_until:%Y-%m-%d}.")
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
    return compliance.RuleResult("verified", False, detail)


def organisation_compliance(
    organisation: Organisation, *, now: datetime | None = None, blocking_only: bool = False, portfolios=None
) -> list[compliance.RuleResult]:
    """Every compliance rule for a participant with its result: verification, and per jurisdiction it is active
    in the KYC level (consumers) or the licence, the eligibility of enrolled premises and the FERC Order 2222
    minimum aggregation size (aggregators); for every premise, whether its revenue meter is validated.

    ``blocking_only`` computes just the rules that can block trading (the trading gate's fast path);
    ``portfolios``: the aggregator's ``accounts.hooks.aggregation().portfolios`` when the caller has them already."""
    now = now or timezone.now()
    out: list[compliance.RuleResult] = []
    if organisation.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
        return out
    verified = current_verification(organisation, now=now)
    out.append(_verified_rule(organisation, verified, now=now))
    if organisation.kind == Organisation.Kind.CONSUMER:
        # ISO zone -> substation -> feeder: the jurisdiction is found without a query per level.
        premises = list(
            Premise.objects.filter(organisation=organisation)
            .select_related("grid_zone__parent__parent")
            .prefetch_related("meters")
        )
        out += _kyc_level_rules(premises, verified)
        if not blocking_only:
            out += _meter_rules(premises)
        return out
    enrolled_qs = Premise.objects.filter(
        Exists(enrolments_active(now=now).filter(premise=OuterRef("pk"), aggregator=organisation))
    )
    agg = aggregator_facts(organisation, now=now)
    if blocking_only:  # the trading gate: the licence per jurisdiction of the zones it is active in, not per premise
        zones = GridZone.objects.filter(pk__in=enrolled_qs.values("grid_zone_id")).select_related("parent__parent")
        seen_codes: list[compliance.JurisdictionProfile] = []
        for zone in zones.order_by("pk"):
            profile = compliance.profile(zone_jurisdiction(zone))
            if profile is not None and profile not in seen_codes:
                seen_codes.append(profile)
                out.append(compliance.licence_rule(profile, agg, now.date()))
        return out
    # The premises' facts read for all at once from plain rows: constant queries, no instance per premise.
    enrolled = enrolled_premises(organisation, now=now)
    seen: list[compliance.JurisdictionProfile] = []
    for premise in enrolled:
        if premise.profile is not None and premise.profile not in seen:
            seen.append(premise.profile)
            out.append(compliance.licence_rule(premise.profile, agg, now.date()))
    for premise in enrolled:
        out += eligibility_failures(premise, agg, now.date())
    reasons = hooks.metering().validation_reasons_by_name({p.pk: p.name for p in enrolled if not p.meter_validated})
    out += [meter_rule(premise, reasons.get(premise.pk, [])) for premise in enrolled]
    if portfolios is None:
        portfolios = hooks.aggregation().portfolios(organisation, now=now)
    out += _aggregation_rules(seen, portfolios)
    return out


def _kyc_level_rules(premises: list[Premise], verified: VerificationCase | None) -> list[compliance.RuleResult]:
    """A consumer's KYC level against what each of its premises' jurisdiction requires for its segment (none
    without a verification in force: the verification rule fails then)."""
    out = []
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
    return out


def _aggregation_rules(seen, portfolios) -> list[compliance.RuleResult]:
    """Per jurisdiction the aggregator is active in: its portfolio against the FERC Order 2222 minimum size."""
    sizes = {p.profile.code: p for p in portfolios}
    out = []
    for profile in seen:
        portfolio = sizes.get(profile.code)
        rule = compliance.aggregation_size_rule(profile, portfolio.kw if portfolio else Decimal("0"))
        if rule is not None:
            out.append(rule)
    return out


def _meter_rules(premises: list[Premise]) -> list[compliance.RuleResult]:
    """Per premise: its revenue meter is validated, or why not (the premise cannot be offered until it is)."""
    reasons_by_premise = hooks.metering().validation_reasons_many(premises)
    out = []
    for premise in premises:
        reasons = reasons_by_premise[premise.pk]
        if reasons:
            detail = " ".join(reasons) + " It cannot be offered until its meter is validated."
            out.append(compliance.RuleResult("meter_validated", False, detail, blocking=False))
        else:
            out.append(compliance.RuleResult("meter_validated", True, f"{premise.name}: meter validated.", False))
    return out


def compliance_status(organisation: Organisation, *, now: datetime | None = None) -> dict:
    """The participant's compliance status for the portal and the API: every rule with its result, the failing
    ones, whether it may trade (and why not), and, for an aggregator, its portfolio per ISO against the ISO's
    FERC Order 2222 minimum aggregation size."""
    now = now or timezone.now()
    portfolios = hooks.aggregation().portfolios(organisation, now=now)  # computed once: the rules and the table use it
    rules = organisation_compliance(organisation, now=now, portfolios=portfolios)
    trading = organisation_trading_status(organisation, now=now)
    aggregations = _aggregation_rows(portfolios)
    return {
        "organisation": organisation.pk,
        "may_trade": trading.allowed,
        "reasons": list(trading.reasons),
        "failing": [r.as_dict() for r in rules if not r.passed],
        "rules": [r.as_dict() for r in rules],
        "aggregations": aggregations,
    }


FAILING_PAGE_SIZE = 25


def aggregator_compliance_summary(
    organisation: Organisation, *, now: datetime | None = None, rule: str = "", page=None
) -> dict:
    """An aggregator's compliance status summarised for its page, in a constant number of queries whatever the
    size of its portfolio: its own rules (verification, licence per jurisdiction, FERC Order 2222 minimum
    aggregation size per ISO), per premise rule how many enrolled premises pass and fail it, and the premises
    failing a rule (``rule``: one of them) with their details, ``FAILING_PAGE_SIZE`` a page, by name."""
    from django.core.paginator import Paginator

    now = now or timezone.now()
    today = now.date()
    agg = aggregator_facts(organisation, now=now)
    (portfolio,) = _portfolio_copies.get(
        [
            snapshots.Request(
                ("compliance-portfolio", organisation.pk, today),
                (snapshots.PARTIES,),
                lambda: (_portfolio_compliance(organisation, agg, now), None),
            )
        ]
    )
    portfolios, seen, counts, failing, listed_all = (
        portfolio.portfolios, portfolio.profiles, portfolio.counts, portfolio.failing, portfolio.listed
    )  # fmt: skip
    own = [
        _verified_rule(organisation, current_verification(organisation, now=now), now=now),
        *(compliance.licence_rule(profile, agg, today) for profile in seen),
        *_aggregation_rules(seen, portfolios),
    ]
    listed = [p for p in listed_all if not rule or rule in failing[p.pk]]
    page_obj = Paginator(listed, FAILING_PAGE_SIZE).get_page(page)
    shown = list(page_obj.object_list)
    reasons = hooks.metering().validation_reasons_by_name({p.pk: p.name for p in shown if not p.meter_validated})
    rows = [
        {
            "premise": p,
            "failures": eligibility_failures(p, agg, today)
            + ([] if p.meter_validated else [meter_rule(p, reasons.get(p.pk, []))]),
        }
        for p in shown
    ]
    trading = organisation_trading_status(organisation, now=now)
    return {
        "organisation": organisation.pk,
        "may_trade": trading.allowed,
        "reasons": list(trading.reasons),
        "own_rules": [r.as_dict() for r in own],
        "failing": [r.as_dict() for r in own if not r.passed],
        "rule_counts": counts,
        "premises": portfolio.premises,
        "premises_failing": len(failing),
        "computed_at": portfolio.computed_at,
        "kept_seconds": int(_portfolio_copies.ttl),
        "rule": rule,
        "failing_page": page_obj,
        "failing_rows": rows,
        "aggregations": _aggregation_rows(portfolios),
    }


@dataclass(frozen=True)
class PortfolioCompliance:
    """The part of an aggregator's compliance read over its whole portfolio (the FERC Order 2222 sums per ISO, the
    per-premise rules counted, the failing premises by name), as computed at ``computed_at``."""

    portfolios: list
    profiles: list
    counts: list
    failing: dict
    listed: list
    premises: int
    computed_at: datetime


#: A portfolio's compliance is read over every enrolled premise (~0.5 s at 10,000): each process keeps what it
#: computed for ``PORTFOLIO_KEPT_SECONDS`` (the page says when it was computed) and computes again at once
#: when the parties change (the ``parties`` token: an enrolment, a consent, a premise, a verification, a
#: membership; ``flexplatform.snapshots``). Assessments, meter validation and deliveries change in the nightly
#: and hourly sweeps, within that time.
_portfolio_copies = snapshots.Snapshots(ttl_seconds=settings.PORTFOLIO_KEPT_SECONDS, max_copies=200)


def _portfolio_compliance(organisation: Organisation, agg, now: datetime) -> PortfolioCompliance:
    today = now.date()
    portfolios = hooks.aggregation().portfolios(organisation, now=now)
    enrolled = enrolled_premises(organisation, now=now)
    seen: list[compliance.JurisdictionProfile] = []
    for premise in enrolled:
        if premise.profile is not None and premise.profile not in seen:
            seen.append(premise.profile)
    counts, failing = failing_rules_by_premise(enrolled, agg, today)
    listed = sorted((p for p in enrolled if p.pk in failing), key=lambda p: (p.name, p.pk))
    return PortfolioCompliance(portfolios, seen, counts, failing, listed, len(enrolled), now)


def portfolio_copies_clear() -> None:
    """Forget this process's kept portfolio compliance (tests start from nothing)."""
    _portfolio_copies.clear()


def _aggregation_rows(portfolios) -> list[dict]:
    return [
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


@dataclass(frozen=True)
class TradingStatus:
    allowed: bool
    reasons: tuple[str, ...] = ()


def organisation_trading_status(organisation: Organisation, *, now: datetime | None = None) -> TradingStatus:
    """Whether an organisation may sell flexibility now, and why not.

    The single gate the market calls before accepting an offer: only consumers and aggregators sell, only while
    their KYC/KYB verification is in force (it expires after ``KYC_VALIDITY_DAYS``), and only with no failing
    blocking compliance rule (KYC level per jurisdiction, aggregator licence). Which premises a seller may
    offer is the market's offer gate (``market.services.gates.premises_offerable_by``).
    """
    if organisation.kind not in (Organisation.Kind.CONSUMER, Organisation.Kind.AGGREGATOR):
        return TradingStatus(False, ("Only consumers and aggregators sell flexibility.",))
    failing = [
        r for r in organisation_compliance(organisation, now=now, blocking_only=True) if not r.passed and r.blocking
    ]
    if failing:
        return TradingStatus(False, tuple(r.detail for r in failing))
    return TradingStatus(True)


def organisations_trading_status(
    organisations: Sequence[Organisation], *, now: datetime | None = None
) -> dict[int, TradingStatus]:
    """:func:`organisation_trading_status` of each organisation (by pk), the consumers' facts read for all at once:
    their verified cases in force in one query, their premises (with the zones above them) in one. Aggregators,
    few, are read one by one."""
    now = now or timezone.now()
    out: dict[int, TradingStatus] = {}
    consumers = {o.pk: o for o in organisations if o.kind == Organisation.Kind.CONSUMER}
    for organisation in organisations:
        if organisation.pk not in consumers:
            out[organisation.pk] = organisation_trading_status(organisation, now=now)
    if not consumers:
        return out
    verified: dict[int, VerificationCase] = {}
    for case in VerificationCase.objects.filter(
        organisation_id__in=list(consumers), status=VerificationCase.Status.VERIFIED, verified_until__gt=now
    ).order_by("organisation_id", "-verified_until"):
        verified.setdefault(case.organisation_id, case)  # the one valid longest, as current_verification
    premises: dict[int, list[Premise]] = {}
    for premise in (
        Premise.objects.filter(organisation_id__in=list(consumers))
        .select_related("grid_zone__parent__parent")
        .order_by("organisation_id", *Premise._meta.ordering)
    ):
        premises.setdefault(premise.organisation_id, []).append(premise)
    for pk, organisation in consumers.items():
        case = verified.get(pk)
        rules = [_verified_rule(organisation, case, now=now), *_kyc_level_rules(premises.get(pk, []), case)]
        failing = [r for r in rules if not r.passed and r.blocking]
        out[pk] = TradingStatus(False, tuple(r.detail for r in failing)) if failing else TradingStatus(True)
    return out


def verified_resources_for(user, *, now: datetime | None = None) -> list[dict]:
    """Premises in the operator's zones (all, for admins and auditors) that their seller may offer now: the
    aggregator holding an active consented enrolment, or else the owner; the owner is verified, the premise's
    revenue meter is validated and the seller's trading gate passes."""
    now = now or timezone.now()
    role = user_role(user)
    qs = (
        Premise.objects.select_related("organisation", "grid_zone")
        .filter(pk__in=hooks.metering().validated_premise_ids())
        .order_by("id")
    )
    if role == Membership.Role.GRID_OPERATOR:
        qs = qs.filter(grid_zone_id__in=operator_zone_ids(user))
    elif role not in READ_ALL_ROLES:
        return []
    validated_at = hooks.metering().validated_since([p.pk for p in qs])
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
