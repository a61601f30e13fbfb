"""The per-premise compliance rules of an aggregator's portfolio, read set-based: the facts of every premise
enrolled with it (segment, meters' intervals, the owner's verification, annual consumption, meter validation)
in a constant number of queries from plain rows (no model instance per premise), the rules evaluated once per
kind of premise (``accounts.compliance.eligibility_key``), counted per rule, and the failing premises listed
with their details a page at a time. The rules are ``accounts.compliance`` (pure); the metering facts come
from assessment through ``accounts.hooks``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q

from .. import compliance, hooks
from ..models import Meter, Organisation, Premise, VerificationCase
from .participation import enrolments_active
from .zones import zone_jurisdiction_map

#: the aggregator's own rules, listed once for the organisation, not per premise
AGGREGATOR_RULES = ("aggregator_licence", "aggregator_verified")
METER_RULE = "meter_validated"


@dataclass(frozen=True)
class EnrolledPremise:
    pk: int
    name: str
    profile: compliance.JurisdictionProfile | None
    facts: compliance.PremiseFacts
    meter_validated: bool


def enrolled_premises(organisation: Organisation, *, now: datetime) -> list[EnrolledPremise]:
    """The premises enrolled with the aggregator now (by id) with the facts their rules read (whether the revenue
    meter is validated read with the premises), in five queries whatever their number."""
    enrolled = Premise.objects.filter(
        Exists(enrolments_active(now=now).filter(premise=OuterRef("pk"), aggregator=organisation))
    )
    metering = hooks.metering()
    # IN, not a correlated EXISTS: the database hashes the validated premises once, not a probe per row
    validated = ExpressionWrapper(Q(pk__in=metering.validated_premise_ids()), output_field=BooleanField())
    rows = list(
        enrolled.order_by("pk").values_list("pk", "name", "segment", "organisation_id", "grid_zone_id", validated)
    )
    if not rows:
        return []
    ids = enrolled.values("pk")
    codes = zone_jurisdiction_map()
    intervals: dict[int, list[int]] = {}
    for pid, minutes in (
        Meter.objects.filter(premise__in=ids).order_by("premise_id", "pk").values_list("premise_id", "interval_minutes")
    ):
        intervals.setdefault(pid, []).append(minutes)
    levels = dict(  # per owner: the level of its verified case in force (the one valid longest)
        VerificationCase.objects.filter(
            organisation__in=enrolled.values("organisation_id"),
            status=VerificationCase.Status.VERIFIED,
            verified_until__gt=now,
        )
        .order_by("organisation_id", "verified_until")
        .values_list("organisation_id", "level")
    )
    annual = metering.annual_kwh_by_id(ids, now=now)
    return [
        EnrolledPremise(
            pk=pid,
            name=name,
            profile=compliance.profile(codes.get(zone_id, "")),
            facts=compliance.PremiseFacts(
                segment=segment,
                meter_intervals=tuple(intervals.get(pid, ())),
                annual_kwh=annual.get(pid),
                owner_kyc_level=levels.get(owner_id),
            ),
            meter_validated=meter_validated,
        )
        for pid, name, segment, owner_id, zone_id, meter_validated in rows
    ]


def eligibility_failures(
    premise: EnrolledPremise, agg: compliance.AggregatorFacts, today: date
) -> list[compliance.RuleResult]:
    """The premise's failing eligibility rules under its jurisdiction's profile (the aggregator's own rules
    aside), each detail naming it; listed, not blocking: a premise's problem keeps that premise out of offers
    (``market.services.gates``), not the aggregator's whole portfolio."""
    if premise.profile is None:
        return []
    return [
        compliance.RuleResult(rule.rule, False, f"{premise.name}: {rule.detail}", False)
        for rule in compliance.enrolment_eligibility(premise.profile, premise.facts, agg, today)
        if not rule.passed and rule.rule not in AGGREGATOR_RULES
    ]


def meter_rule(premise: EnrolledPremise, reasons: list[str]) -> compliance.RuleResult:
    """The premise's revenue meter is validated, or why not (``reasons``, from ``accounts.hooks.metering``)."""
    if premise.meter_validated:
        return compliance.RuleResult(METER_RULE, True, f"{premise.name}: meter validated.", False)
    detail = " ".join(reasons) + " It cannot be offered until its meter is validated."
    return compliance.RuleResult(METER_RULE, False, detail, blocking=False)


@dataclass(frozen=True)
class RuleCount:
    rule: str
    passed: int
    failed: int


def failing_rules_by_premise(
    premises: list[EnrolledPremise], agg: compliance.AggregatorFacts, today: date
) -> tuple[list[RuleCount], dict[int, tuple[str, ...]]]:
    """Per premise rule: how many premises pass and fail it; per premise failing any: the rules it fails. The
    eligibility rules are evaluated once per kind of premise (``compliance.eligibility_key``), not per premise."""
    outcomes: dict[tuple, tuple[tuple[str, bool], ...]] = {}
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    failing: dict[int, tuple[str, ...]] = {}
    order: list[str] = []
    for p in premises:
        results: tuple[tuple[str, bool], ...] = ()
        if p.profile is not None:
            key = compliance.eligibility_key(p.profile, p.facts)
            results = outcomes.get(key)  # type: ignore[assignment]
            if results is None:
                results = outcomes[key] = tuple(
                    (r.rule, r.passed)
                    for r in compliance.enrolment_eligibility(p.profile, p.facts, agg, today)
                    if r.rule not in AGGREGATOR_RULES
                )
        results = (*results, (METER_RULE, p.meter_validated))
        fails = []
        for rule, ok in results:
            if rule not in passed and rule not in failed:
                order.append(rule)
            (passed if ok else failed)[rule] += 1
            if not ok:
                fails.append(rule)
        if fails:
            failing[p.pk] = tuple(fails)
    return [RuleCount(rule, passed[rule], failed[rule]) for rule in order], failing
