"""Jurisdiction profiles and the eligibility rules checked at enrolment (pure domain code, no ORM).

Sources:
* US — FERC Order No. 2222, "Participation of Distributed Energy Resource Aggregations in Markets Operated by
  Regional Transmission Organizations and Independent System Operators", 172 FERC ¶ 61,247 (Sept. 17, 2020;
  85 Fed. Reg. 67094), 18 CFR 35.28(g)(12): RTOs/ISOs must let DER aggregations participate, with a minimum
  aggregation size no larger than 100 kW (Order No. 2222 § IV.E, minimum and maximum size requirements); a
  resource may not be in more than one aggregation and may not be counted twice (retail programme and
  wholesale). Each ISO sets its own minimum, at most 100 kW, in its Order 2222 compliance filing: CAISO 100 kW
  (Distributed Energy Resource Provider model; compliance order of June 17, 2022), NYISO 10 kW (DER and
  Aggregation participation model; compliance order 179 FERC ¶ 61,198 of June 17, 2022, docket ER21-2460, and
  the 10 kW threshold accepted in 187 FERC ¶ 61,022, April 15, 2024, docket ER23-2040), PJM, ISO-NE, MISO and
  SPP 100 kW (their 2022 compliance filings).
  Aggregators register with the ISO (a licence here).
  The minimum is checked against the aggregator's portfolio in the ISO: the sum of the accredited capacity
  of the verified resources enrolled with it there (:func:`aggregation_size_rule`). It bars the ISO's
  wholesale products only; local (DSO) flexibility has no such minimum.
* EU — Clean Energy Package: Directive (EU) 2019/944 Art. 13 and 17 (aggregation with the final customer's
  consent, independent aggregators registered/qualified per Member State), Regulation (EU) 2017/2195 (EB GL)
  Art. 53: 15-minute imbalance settlement period, so meters must measure at 15 minutes or finer.
The minimum annual consumption and the KYC level per segment are platform policy, configured here.

A premise's profile is the ``jurisdiction`` of its grid zone or the nearest ancestor that has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

BASIC, ENHANCED = "basic", "enhanced"
LEVEL_RANK = {None: 0, BASIC: 1, ENHANCED: 2}


@dataclass(frozen=True)
class JurisdictionProfile:
    code: str
    name: str
    source: str
    min_aggregation_kw: Decimal | None
    max_meter_interval_minutes: int
    min_annual_kwh: Decimal
    aggregator_licence_required: bool
    kyc_level_by_segment: dict[str, str] = field(
        default_factory=lambda: {"residential": BASIC, "commercial": ENHANCED, "industrial": ENHANCED}
    )
    iso: str = ""  # the RTO/ISO whose wholesale market the profile's minimum aggregation size applies to


def _ferc(iso: str, min_kw: str) -> JurisdictionProfile:
    return JurisdictionProfile(
        code=f"US-FERC2222-{iso}",
        iso=iso,
        name=f"US FERC Order 2222 — {iso}",
        source=f"FERC Order No. 2222; {iso} Order 2222 compliance filing (minimum aggregation {min_kw} kW)",
        min_aggregation_kw=Decimal(min_kw),
        max_meter_interval_minutes=60,
        min_annual_kwh=Decimal("1000"),
        aggregator_licence_required=True,
    )


PROFILES: dict[str, JurisdictionProfile] = {
    p.code: p
    for p in [
        _ferc("CAISO", "100"),
        _ferc("PJM", "100"),
        _ferc("NYISO", "10"),
        _ferc("ISONE", "100"),
        _ferc("MISO", "100"),
        _ferc("SPP", "100"),
        JurisdictionProfile(
            code="EU-CEP",
            name="EU Clean Energy Package",
            source="Directive (EU) 2019/944 Art. 13, 17; Regulation (EU) 2017/2195 Art. 53",
            min_aggregation_kw=None,
            max_meter_interval_minutes=15,
            min_annual_kwh=Decimal("0"),
            aggregator_licence_required=True,
        ),
    ]
}


def profile(code: str | None) -> JurisdictionProfile | None:
    return PROFILES.get(code or "")


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str
    blocking: bool = True

    def as_dict(self) -> dict:
        return {"rule": self.rule, "passed": self.passed, "detail": self.detail, "blocking": self.blocking}


@dataclass(frozen=True)
class PremiseFacts:
    segment: str
    meter_intervals: tuple[int, ...]
    annual_kwh: Decimal | None  # estimated from the meter history; None without data
    owner_kyc_level: str | None  # the level of the owner's current verified case, None when not verified


@dataclass(frozen=True)
class AggregatorFacts:
    verified: bool
    licence_number: str
    licence_expires_on: date | None


@dataclass(frozen=True)
class AggregationPortfolio:
    """An aggregator's verified resources in one ISO (jurisdiction profile) and their accredited capacity
    (measured by the market's offer gate, ``market.services.gates.aggregation_portfolios``)."""

    profile: JurisdictionProfile
    kw: Decimal
    premise_ids: tuple[int, ...]

    @property
    def rule(self) -> RuleResult | None:
        return aggregation_size_rule(self.profile, self.kw)


def licence_rule(p: JurisdictionProfile, agg: AggregatorFacts, today: date) -> RuleResult:
    if not p.aggregator_licence_required:
        return RuleResult("aggregator_licence", True, f"{p.name}: no aggregator licence required.")
    if not agg.licence_number:
        return RuleResult("aggregator_licence", False, f"{p.name}: the aggregator has no registration/licence.")
    if agg.licence_expires_on is not None and agg.licence_expires_on < today:
        return RuleResult(
            "aggregator_licence", False, f"{p.name}: the aggregator's licence expired on {agg.licence_expires_on}."
        )
    return RuleResult("aggregator_licence", True, f"{p.name}: licence {agg.licence_number}.")


def enrolment_eligibility(
    p: JurisdictionProfile | None, premise: PremiseFacts, agg: AggregatorFacts, today: date
) -> list[RuleResult]:
    """Every eligibility rule for enrolling a premise with an aggregator under profile ``p``."""
    out = [
        RuleResult(
            "aggregator_verified",
            agg.verified,
            "Aggregator KYB verified." if agg.verified else "The aggregator is not verified (KYB).",
        )
    ]
    required = p.kyc_level_by_segment.get(premise.segment, BASIC) if p else BASIC
    ok = LEVEL_RANK[premise.owner_kyc_level] >= LEVEL_RANK[required]
    out.append(
        RuleResult(
            "kyc_level",
            ok,
            f"Owner verified at {premise.owner_kyc_level} level (needs {required})."
            if premise.owner_kyc_level
            else f"The premise owner is not verified (needs {required} KYC).",
        )
    )
    if p is None:
        return out
    fine = [i for i in premise.meter_intervals if i <= p.max_meter_interval_minutes]
    out.append(
        RuleResult(
            "metering_interval",
            bool(fine),
            f"Interval meter of {min(fine)} min (at most {p.max_meter_interval_minutes})."
            if fine
            else f"{p.name} needs an interval meter of {p.max_meter_interval_minutes} minutes or finer.",
        )
    )
    if p.min_annual_kwh > 0:
        kwh = premise.annual_kwh
        if kwh is None:
            # No history yet (a new meter): enrolment is provisional, the rule stays listed as failing in the
            # participant's compliance status until the history shows the minimum.
            out.append(
                RuleResult(
                    "minimum_consumption",
                    False,
                    f"No meter history yet to show the minimum of {p.min_annual_kwh} kWh/year.",
                    blocking=False,
                )
            )
        else:
            out.append(
                RuleResult(
                    "minimum_consumption",
                    kwh >= p.min_annual_kwh,
                    f"Estimated {kwh} kWh/year (minimum {p.min_annual_kwh}).",
                )
            )
    out.append(licence_rule(p, agg, today))
    return out


def eligibility_key(p: JurisdictionProfile | None, premise: PremiseFacts) -> tuple:
    """What the results of :func:`enrolment_eligibility` depend on, apart from the figures its details quote:
    premises with the same key (and the same aggregator) pass and fail the same rules. Lets a portfolio's rules
    be counted with one evaluation per kind of premise instead of one per premise."""
    kwh = premise.annual_kwh
    enough = None if kwh is None else (p is not None and kwh >= p.min_annual_kwh)
    return (p.code if p else None, premise.segment, premise.meter_intervals, enough, premise.owner_kyc_level)


def aggregation_size_rule(p: JurisdictionProfile, kw: Decimal) -> RuleResult | None:
    """FERC Order No. 2222 § IV.E: an aggregation below the ISO's minimum size may not offer into the ISO's
    wholesale markets. ``kw``: the accredited capacity of the aggregator's verified resources in the ISO.
    Not blocking for the participant as a whole (local flexibility has no minimum); the market applies it to
    wholesale products (``market.services.gates.wholesale_aggregation_refusal``). None when the profile sets no
    minimum."""
    if p.min_aggregation_kw is None:
        return None
    kw = kw.quantize(Decimal("0.001")).normalize()
    minimum = p.min_aggregation_kw.normalize()
    where = f"FERC 2222, {p.iso}" if p.iso else p.name
    if kw < p.min_aggregation_kw:
        return RuleResult(
            "minimum_aggregation_size",
            False,
            f"aggregation {kw:f} kW < {minimum:f} kW minimum ({where}): no offers into {p.iso or p.name} "
            "wholesale products until the portfolio is larger.",
            blocking=False,
        )
    return RuleResult(
        "minimum_aggregation_size", True, f"aggregation {kw:f} kW ≥ {minimum:f} kW minimum ({where}).", blocking=False
    )
