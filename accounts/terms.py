"""Commercial terms of enrolment: an aggregator publishes them, the owner accepts a version at consent.

Rules (ADR 0024; FERC Order No. 2222 leaves the aggregator-resource relationship to the parties' contract, and
Directive (EU) 2019/944 Art. 13(2) requires the final customer be informed of the contract's terms before
aggregation): the terms are published as immutable versions; a consent for flexibility aggregation with an
aggregator that has published terms must name the current version (the owner consents to what they saw; a
stale version is refused); the accepted version is recorded with the consent (:class:`ConsentTerms`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from flexplatform.errors import ApplicationError, NotPermitted

from .models import Consent, Membership, Organisation
from .models_terms import CommercialTerms, ConsentTerms
from .selectors import user_organisations

HUNDRED = Decimal(100)


def _decimal(value, field: str, fields: dict, *, low: Decimal, high: Decimal | None) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        fields[field] = ["A number."]
        return Decimal("0")
    if not d.is_finite() or d < low or (high is not None and d > high):
        fields[field] = [f"Between {low} and {high}." if high is not None else f"At least {low}."]
    return d


@transaction.atomic
def commercial_terms_publish(
    *,
    aggregator: Organisation,
    by,
    revenue_share_pct,
    member_penalty_pct,
    fee_per_kw_month=Decimal("0"),
    payment_frequency: str = CommercialTerms.Frequency.MONTHLY,
    summary: str = "",
    now: datetime | None = None,
) -> CommercialTerms:
    """Publish a new version of the aggregator's terms (the previous versions stay, with their consents).
    Publishing the same numbers as the current version returns it (idempotent)."""
    now = now or timezone.now()
    if by is not None and not any(
        o.pk == aggregator.pk for o in user_organisations(by, role=Membership.Role.AGGREGATOR)
    ):
        raise NotPermitted("Only members of the aggregator may publish its terms.")
    fields: dict[str, list[str]] = {}
    if aggregator.kind != Organisation.Kind.AGGREGATOR:
        fields["aggregator"] = ["Not an aggregator."]
    share = _decimal(revenue_share_pct, "revenue_share_pct", fields, low=Decimal(0), high=HUNDRED)
    penalty = _decimal(member_penalty_pct, "member_penalty_pct", fields, low=Decimal(0), high=HUNDRED)
    per_kw = _decimal(fee_per_kw_month, "fee_per_kw_month", fields, low=Decimal(0), high=None)
    if payment_frequency not in CommercialTerms.Frequency.values:
        fields["payment_frequency"] = [f"One of {', '.join(CommercialTerms.Frequency.values)}."]
    if fields:
        raise ApplicationError("The terms are invalid.", fields=fields)
    Organisation.objects.select_for_update().get(pk=aggregator.pk)
    current = terms_current(aggregator)
    numbers = (share, per_kw, penalty, payment_frequency)
    if (
        current is not None
        and (
            current.revenue_share_pct,
            current.fee_per_kw_month,
            current.member_penalty_pct,
            current.payment_frequency,
        )
        == numbers
    ):
        return current
    return CommercialTerms.objects.create(
        aggregator=aggregator,
        version=(current.version + 1) if current else 1,
        revenue_share_pct=share,
        fee_per_kw_month=per_kw,
        member_penalty_pct=penalty,
        payment_frequency=payment_frequency,
        summary=summary[:300],
        published_at=now,
        published_by=by if getattr(by, "is_authenticated", False) else None,
    )


def terms_current(aggregator: Organisation | int) -> CommercialTerms | None:
    """The aggregator's latest published terms, or None."""
    pk = aggregator.pk if isinstance(aggregator, Organisation) else aggregator
    return CommercialTerms.objects.filter(aggregator_id=pk).order_by("-version").first()


def terms_current_by_aggregator(aggregator_ids: Iterable[int]) -> dict[int, CommercialTerms]:
    """Each aggregator's current terms (for the consent page, one query)."""
    out: dict[int, CommercialTerms] = {}
    for t in CommercialTerms.objects.filter(aggregator_id__in=list(aggregator_ids)).order_by(
        "aggregator_id", "version"
    ):
        out[t.aggregator_id] = t
    return out


def consent_terms_check(*, aggregator: Organisation, purpose: str, terms) -> CommercialTerms | None:
    """The terms a new consent accepts: the aggregator's current version, which the owner must name (refused when
    missing or stale). None when the aggregator has published no terms or the purpose is not aggregation."""
    if purpose != Consent.Purpose.FLEXIBILITY_AGGREGATION:
        return None
    current = terms_current(aggregator)
    if current is None:
        if terms is not None:
            raise ApplicationError("This aggregator has published no terms.", fields={"terms": ["No such terms."]})
        return None
    given = terms.pk if isinstance(terms, CommercialTerms) else terms
    if given is None:
        raise ApplicationError(
            f"Accept the aggregator's terms (version {current.version}) to consent.",
            fields={"terms": [f"Accept version {current.version} (id {current.pk})."]},
        )
    if str(given) != str(current.pk):
        raise ApplicationError(
            "The aggregator's terms changed since they were shown; review the current version.",
            fields={"terms": [f"Not the current terms (version {current.version}, id {current.pk})."]},
        )
    return current


def consent_terms_record(*, consent: Consent, terms: CommercialTerms | None, now: datetime) -> None:
    if terms is not None:
        ConsentTerms.objects.get_or_create(consent=consent, defaults={"terms": terms, "accepted_at": now})


def portfolio_terms(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[datetime, CommercialTerms]]]:
    """For each (premise id, aggregator id): the terms accepted by its consents, oldest first, as
    (granted at, terms) — settlement applies the latest granted at or before the outcome it settles."""
    pairs = set(pairs)
    out: dict[tuple[int, int], list[tuple[datetime, CommercialTerms]]] = {}
    if not pairs:
        return out
    rows = (
        ConsentTerms.objects.filter(
            consent__premise_id__in={p for p, _ in pairs}, consent__aggregator_id__in={a for _, a in pairs}
        )
        .select_related("terms", "consent")
        .order_by("consent__granted_at", "pk")
    )
    for ct in rows:
        key = (ct.consent.premise_id, ct.consent.aggregator_id)
        if key in pairs:
            out.setdefault(key, []).append((ct.consent.granted_at, ct.terms))
    return out


def terms_at(history: list[tuple[datetime, CommercialTerms]], at: datetime) -> CommercialTerms | None:
    """The terms in force at ``at``: the latest accepted at or before it."""
    found = None
    for granted, terms in history:
        if granted <= at:
            found = terms
    return found


def enrolment_terms(enrolment) -> CommercialTerms | None:
    """The terms an enrolment carries: those its consent accepted."""
    ct = ConsentTerms.objects.filter(consent_id=enrolment.consent_id).select_related("terms").first()
    return ct.terms if ct else None


def terms_published() -> list[CommercialTerms]:
    """Every aggregator's current terms (what the consent page shows and accepts)."""
    latest = {}
    for t in CommercialTerms.objects.select_related("aggregator").order_by("aggregator_id", "version"):
        latest[t.aggregator_id] = t
    return sorted(latest.values(), key=lambda t: t.aggregator.name)


def terms_describe(t: CommercialTerms) -> str:
    """The terms in one line, as the owner reads them before consenting."""
    fee = f"{t.revenue_share_pct} % of revenue"
    if t.fee_per_kw_month:
        fee += f" + {t.fee_per_kw_month} per kW-month of capacity held"
    return (
        f"{t.aggregator.name} v{t.version}: the aggregator keeps {fee}; you bear {t.member_penalty_pct} % of "
        f"penalties (the aggregator {t.aggregator_penalty_pct} %); paid {t.get_payment_frequency_display().lower()}"
    )


def terms_versions(aggregator: Organisation) -> list[tuple[CommercialTerms, str, int]]:
    """The aggregator's versions, newest first: (terms, described, consents that accepted it)."""
    rows = (
        CommercialTerms.objects.filter(aggregator=aggregator)
        .select_related("aggregator")
        .annotate(n=Count("acceptances"))
        .order_by("-version")
    )
    return [(t, terms_describe(t), t.n) for t in rows]
