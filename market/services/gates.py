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
    premises_represented_by_consumers,
    zone_jurisdiction,
    zone_jurisdiction_map,
)
from assessment.selectors import (
    accredited_capacity_latest_with_zone,
    accredited_capacity_over,
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


def premises_offerable_among(
    organisations: Iterable[Organisation], premise_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, set[int]]:
    """Per organisation (pk): which of ``premise_ids`` :func:`premises_offerable_by` lets it offer now; the
    consumers' in one query (``accounts.selectors.premises_represented_by_consumers``), the others (aggregators,
    few) one query each."""
    now = now or timezone.now()
    ids = sorted(set(premise_ids))
    organisations = list(organisations)
    out: dict[int, set[int]] = {o.pk: set() for o in organisations}
    consumers = [o.pk for o in organisations if o.kind == Organisation.Kind.CONSUMER]
    if consumers:
        rows = (
            premises_represented_by_consumers(consumers, now=now)
            .filter(pk__in=ids)
            .filter(pk__in=validated_meter_premise_ids())
            .values_list("organisation_id", "pk")
        )
        for organisation_id, pk in rows:
            out[organisation_id].add(pk)
    for o in organisations:
        if o.kind != Organisation.Kind.CONSUMER:
            out[o.pk] = set(premises_offerable_by(o, now=now).filter(pk__in=ids).values_list("pk", flat=True))
    return out


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


def _portfolio_premises(
    organisation: Organisation, *, now: datetime | None, jurisdiction: str | None, among: list[int] | None = None
):
    """(zone id -> profile code, the premises the aggregator may offer now in zones whose ISO sets a minimum
    aggregation size, limited to ``jurisdiction`` and to the premises ``among`` when given)."""
    codes = zone_jurisdiction_map()
    zones = [
        zid
        for zid, code in codes.items()
        if (p := compliance.profile(code)) is not None
        and p.min_aggregation_kw is not None
        and (not jurisdiction or code == jurisdiction)
    ]
    premises = premises_offerable_by(organisation, now=now).filter(grid_zone_id__in=zones)
    return codes, premises if among is None else premises.filter(pk__in=among)


def aggregation_portfolios(
    organisation: Organisation,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    jurisdiction: str | None = None,
    among: list[int] | None = None,
) -> list[AggregationPortfolio]:
    """An aggregator's portfolio per ISO with a minimum aggregation size (FERC Order No. 2222): the sum of the
    accredited capacity (``assessment.selectors.accredited_capacity_kw``) of the premises it may offer now
    (enrolled under consent, owner verified, meter validated) whose zone lies in that ISO.

    Over ``[start, end)`` when given (an order's delivery); otherwise each premise's next assessed window
    (``accredited_capacity_latest_kw``: the compliance status). ``jurisdiction`` limits it to one profile code,
    ``among`` to those premises (a part of the portfolio). Set-based: the same number of queries (about ten) for ten premises or ten thousand."""
    if organisation.kind != Organisation.Kind.AGGREGATOR:
        return []
    now = now or timezone.now()
    codes, premises = _portfolio_premises(organisation, now=now, jurisdiction=jurisdiction, among=among)
    # the premises as a subquery, not thousands of ids as parameters
    if start is not None and end is not None:
        zone_of = dict(premises.order_by("pk").values_list("pk", "grid_zone_id"))
        if not zone_of:
            return []
        kws = accredited_capacity_over(premises=premises, start=start, end=end)
    else:  # the premises, their zones and kW in one statement (the compliance status of a large portfolio)
        latest = accredited_capacity_latest_with_zone(premises=premises, now=now)
        zone_of = {pk: zone_id for pk, (zone_id, _) in latest.items()}
        kws = {pk: kw for pk, (_, kw) in latest.items()}
    totals: dict[str, tuple[Decimal, list[int]]] = {}
    for pk, zone_id in zone_of.items():
        code = codes.get(zone_id, "")
        total, ids = totals.setdefault(code, (Decimal("0"), []))
        ids.append(pk)
        totals[code] = (total + (kws.get(pk) or Decimal("0")), ids)
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
    applies to them); zones without a minimum (no profile, EU) pass. The portfolio is summed set-based
    (:func:`aggregation_portfolios` over the window): a constant number of queries however large it is; the
    premises ``first`` (the order's members) are summed first, and when they reach the minimum the rest is not
    read."""
    if organisation.kind != Organisation.Kind.AGGREGATOR:
        return None
    code = zone_jurisdiction(zone)
    profile = compliance.profile(code)
    if profile is None or profile.min_aggregation_kw is None:
        return None
    first = list(first)
    if first:
        part = aggregation_portfolios(organisation, start=start, end=end, now=now, jurisdiction=code, among=first)
        if part and part[0].kw >= profile.min_aggregation_kw:
            return None
    portfolios = aggregation_portfolios(organisation, start=start, end=end, now=now, jurisdiction=code)
    total = portfolios[0].kw if portfolios else Decimal("0")
    rule = compliance.aggregation_size_rule(profile, total)
    return None if rule is None or rule.passed else rule.detail


class AggregationFacts:
    """The aggregator's portfolios for the participant's compliance status (``accounts.hooks.AggregationFacts``)."""

    def portfolios(self, organisation: Organisation, *, now: datetime) -> list[AggregationPortfolio]:
        return aggregation_portfolios(organisation, now=now)
