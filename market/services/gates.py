"""The market's offer gate: which premises a seller may offer now and why not, and the FERC Order 2222 minimum
aggregation size for wholesale products.

A premise may be offered by the organisation that represents it (consent, enrolment, owner's verification:
``accounts.selectors.premises_represented_by``) once its revenue meter is validated (enough clean history to
measure delivery against: ``assessment.selectors.validated_meter_premise_ids``); how much it may sell is its
accredited capacity (``assessment.selectors.accredited_capacity_kw``). An aggregator offers into an ISO's
wholesale products only while its portfolio there reaches the ISO's minimum aggregation size (FERC Order
No. 2222 § IV.E; the minimums: ``accounts.compliance``). The participant's compliance status lists the
portfolios through :class:`AggregationFacts`, registered with ``accounts.hooks`` in ``market.apps``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from accounts import compliance
from accounts.compliance import AggregationPortfolio
from accounts.models import GridZone, Organisation, Premise
from accounts.selectors import (
    current_verification,
    enrolments_active,
    premises_represented_by,
    zone_jurisdiction,
    zone_jurisdiction_map,
)
from assessment.selectors import (
    accredited_capacity_kw,
    accredited_capacity_latest_kw,
    premise_meter_validation_reasons,
    validated_meter_premise_ids,
)


def premises_offerable_by(
    organisation: Organisation, *, now: datetime | None = None, meter_validated: bool = True
) -> QuerySet[Premise]:
    """Premises an organisation may offer now: those it represents (``accounts.selectors.premises_represented_by``:
    an aggregator's enrolled premises whose owner is verified, a consumer's own premises no aggregator holds)
    whose revenue meter is validated, unless ``meter_validated=False`` (who may act for the premise before it
    sells: declare availability, link a VEN)."""
    premises = premises_represented_by(organisation, now=now)
    return premises.filter(pk__in=validated_meter_premise_ids()) if meter_validated else premises


def premise_offer_refusals(
    organisation: Organisation, premises: Iterable[Premise], *, now: datetime | None = None
) -> dict[int, list[str]]:
    """Why ``organisation`` may not offer each of ``premises`` (only those it may not), in words: the reasons
    behind :func:`premises_offerable_by`, for the market's refusals. Meter details only for the owner and the
    premise's aggregator."""
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


class AggregationFacts:
    """The aggregator's portfolios for the participant's compliance status (``accounts.hooks.AggregationFacts``)."""

    def portfolios(self, organisation: Organisation, *, now: datetime) -> list[AggregationPortfolio]:
        return aggregation_portfolios(organisation, now=now)
