"""Many flexibility offers in one call: an aggregator's portfolio, or a participant's list POST to the API.

Every item passes the gates of :func:`market.services.requests.offer_submit`, in the same order, with the same
codes; a refusal names the item (``Item 3: ...``, fields under ``items[3].<field>``) and nothing is written
(one transaction). The reads are set-based: the seller's trading status once, which premises it may offer in one
query, the zones' hierarchy once, the premises locked in pk order in one statement, their accredited capacity per
window in a fixed number of queries (``assessment.selectors.accredited_capacity_over``) and their commitments in
one (``order_queries.commitments_many``); items for the same premise count against each other as successive
``offer_submit`` calls would. The offers are written with one ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import GridZone, Organisation, Premise
from accounts.selectors import organisations_trading_status, zone_index
from assessment.selectors import accredited_capacity_over
from flexplatform.errors import ApplicationError, NotPermitted

from ..errors import MarketError
from ..models import FlexibilityOffer
from . import order_queries
from .capacity import lock_premises, peak_kw
from .gates import premise_offer_refusals, premises_offerable_among
from .requests import offer_checks


@dataclass(frozen=True)
class OfferItem:
    premise: Premise
    zone: GridZone
    kw: Decimal
    price_per_mwh: Decimal
    window_start: datetime
    window_end: datetime


def _named(index: int, exc: ApplicationError) -> ApplicationError:
    """The same refusal (class, code), its message and fields naming the item."""
    named = type(exc)(
        f"Item {index}: {exc.detail}",
        code=exc.code,
        fields={f"items[{index}].{name}": list(messages) for name, messages in exc.fields.items()}
        or {f"items[{index}]": [exc.detail]},
    )
    return named


@dataclass(frozen=True)
class SellerOffers:
    """One seller's list of offers (all or nothing), in a batch of sellers."""

    seller: Organisation
    items: Sequence[OfferItem]
    created_by: object | None = None


@transaction.atomic
def offers_submit_many(*, seller: Organisation, items: Sequence[OfferItem], created_by=None) -> list[FlexibilityOffer]:
    """List many premises' flexibility at once, all or nothing: each item as :func:`offer_submit` would (the
    seller may offer the premise, the premise lies in the zone or below it, the kW fit within the premise's
    accredited capacity for the window less everything committed, the earlier items included)."""
    found = _submit([SellerOffers(seller, list(items), created_by)], skip_offered=False)[0]
    if isinstance(found, ApplicationError):
        raise found
    return found


@transaction.atomic
def offers_submit_sellers(
    *, submissions: Sequence[SellerOffers], skip_offered: bool = False
) -> list[list[FlexibilityOffer] | ApplicationError]:
    """Many sellers' lists at once, each all or nothing as :func:`offers_submit_many` takes it (the same gates, in
    the same order, the same refusals), read set-based for all of them: per seller its offers, or the refusal of
    its list (the other sellers' lists are still written). Lists are checked in the order given, each counting
    the capacity the lists before it took.

    ``skip_offered``: an item whose seller already has an offer (not cancelled) for that premise and window is
    left out, checked under the premises' locks: a batch sent again (a redelivered task) writes nothing twice."""
    return _submit([SellerOffers(s.seller, list(s.items), s.created_by) for s in submissions], skip_offered)


def _submit(submissions: list[SellerOffers], skip_offered: bool) -> list[list[FlexibilityOffer] | ApplicationError]:
    out: list[list[FlexibilityOffer] | ApplicationError | None] = [None] * len(submissions)
    live = []
    for k, sub in enumerate(submissions):
        if not sub.items:
            out[k] = []
            continue
        try:
            for i, item in enumerate(sub.items):
                try:
                    offer_checks(
                        kw=item.kw,
                        price_per_mwh=item.price_per_mwh,
                        window_start=item.window_start,
                        window_end=item.window_end,
                    )
                except ApplicationError as exc:
                    raise _named(i, exc) from exc
        except ApplicationError as exc:
            out[k] = exc
            continue
        live.append(k)
    statuses = organisations_trading_status(
        list({submissions[k].seller.pk: submissions[k].seller for k in live}.values())
    )
    for k in list(live):
        status = statuses[submissions[k].seller.pk]
        if not status.allowed:
            out[k] = NotPermitted(
                "This participant may not trade: " + " ".join(status.reasons), code=MarketError.TRADING_SUSPENDED
            )
            live.remove(k)
    offerable = premises_offerable_among(
        list({submissions[k].seller.pk: submissions[k].seller for k in live}.values()),
        {item.premise.pk for k in live for item in submissions[k].items},
    )
    index = zone_index() if live else None
    below: dict[int, set[int]] = {}
    for k in list(live):
        sub = submissions[k]
        try:
            for i, item in enumerate(sub.items):
                if item.premise.pk not in offerable[sub.seller.pk]:
                    reasons = premise_offer_refusals(sub.seller, [item.premise]).get(item.premise.pk, [])
                    raise _named(
                        i,
                        NotPermitted(
                            " ".join(["This seller may not offer this premise:", *reasons]),
                            fields={"premise": ["Not yours to offer.", *reasons]},
                        ),
                    )
            for i, item in enumerate(sub.items):
                if item.zone.pk not in below:
                    below[item.zone.pk] = index.with_descendant_ids([item.zone.pk])
                if item.premise.grid_zone_id not in below[item.zone.pk]:
                    raise _named(
                        i,
                        ApplicationError(
                            f"Premise is in zone {item.premise.grid_zone.code}, not in {item.zone.code} or below it.",
                            fields={"zone": ["The premise is not in this zone."]},
                        ),
                    )
        except ApplicationError as exc:
            out[k] = exc
            live.remove(k)
    if not live:
        return out
    items = [item for k in live for item in submissions[k].items]
    ids = sorted({item.premise.pk for item in items})
    # Lock the premises (pk order) so concurrent offers and orders cannot together exceed their capacity.
    lock_premises(ids)
    if skip_offered:
        offered = set(
            FlexibilityOffer.objects.filter(premise_id__in=ids)
            .exclude(status=FlexibilityOffer.Status.CANCELLED)
            .values_list("seller_id", "premise_id", "window_start", "window_end")
        )
        for k in live:
            sub = submissions[k]
            kept = [
                it for it in sub.items if (sub.seller.pk, it.premise.pk, it.window_start, it.window_end) not in offered
            ]
            submissions[k] = SellerOffers(sub.seller, kept, sub.created_by)
        items = [item for k in live for item in submissions[k].items]
        if not items:
            return [[] if o is None else o for o in out]
    windows = sorted({(item.window_start, item.window_end) for item in items})
    capacity: dict[tuple, dict[int, Decimal | None]] = {}
    for start, end in windows:
        capacity[(start, end)] = accredited_capacity_over(
            premises=sorted({it.premise.pk for it in items if (it.window_start, it.window_end) == (start, end)}),
            start=start,
            end=end,
        )
    committed = order_queries.commitments_many(
        premise_ids=ids, start=min(w[0] for w in windows), end=max(w[1] for w in windows)
    )
    rows: list[FlexibilityOffer] = []
    accepted: list[tuple[int, int, int]] = []  # (submission, first row, rows)
    for k in live:
        sub = submissions[k]
        taken: dict[int, list] = {}  # this list's own commitments, counted once it is accepted
        try:
            for i, item in enumerate(sub.items):
                _capacity_check(i, item, capacity, committed, taken)
        except ApplicationError as exc:
            out[k] = exc
            continue
        for premise_id, extra in taken.items():
            committed.setdefault(premise_id, []).extend(extra)
        accepted.append((k, len(rows), len(sub.items)))
        rows += [
            FlexibilityOffer(
                seller=sub.seller,
                premise=item.premise,
                zone=item.zone,
                kw=item.kw,
                price_per_mwh=item.price_per_mwh,
                window_start=item.window_start,
                window_end=item.window_end,
                created_by=sub.created_by,
            )
            for item in sub.items
        ]
    made = FlexibilityOffer.objects.bulk_create(rows) if rows else []
    for k, first, n in accepted:
        out[k] = made[first : first + n]
    return [[] if o is None else o for o in out]


def _capacity_check(i: int, item: OfferItem, capacity, committed, taken) -> None:
    """The item's kW within the premise's accredited capacity for its window less everything committed (the
    list's earlier items included: ``taken``), or the named refusal."""
    start, end = item.window_start, item.window_end
    capacity_kw = capacity[(start, end)].get(item.premise.pk)
    if capacity_kw is None:
        raise _named(
            i,
            ApplicationError(
                "The premise has no flexibility assessment for this window.",
                code=MarketError.NOT_ASSESSED,
                fields={"window_start": ["No assessed capacity for this window."]},
            ),
        )
    own = taken.setdefault(item.premise.pk, [])
    available = capacity_kw - peak_kw([*committed.get(item.premise.pk, []), *own], start, end)
    if item.kw > available:
        raise _named(
            i,
            ApplicationError(
                f"Offer of {item.kw} kW exceeds the premise's available capacity of {max(available, Decimal(0))} kW.",
                code=MarketError.OVER_CAPACITY,
                fields={"kw": [f"At most {max(available, Decimal(0))} kW is available for this window."]},
            ),
        )
    own.append((start, end, item.kw))  # the next items for this premise count this one as committed
