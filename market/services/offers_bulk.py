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
from accounts.selectors import organisation_trading_status, zone_with_descendant_ids
from assessment.selectors import accredited_capacity_over
from flexplatform.errors import ApplicationError, NotPermitted

from ..errors import MarketError
from ..models import FlexibilityOffer
from . import order_queries
from .capacity import lock_premises, peak_kw
from .gates import premise_offer_refusals, premises_offerable_by
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


@transaction.atomic
def offers_submit_many(*, seller: Organisation, items: Sequence[OfferItem], created_by=None) -> list[FlexibilityOffer]:
    """List many premises' flexibility at once, all or nothing: each item as :func:`offer_submit` would (the
    seller may offer the premise, the premise lies in the zone or below it, the kW fit within the premise's
    accredited capacity for the window less everything committed, the earlier items included)."""
    items = list(items)
    if not items:
        return []
    for i, item in enumerate(items):
        try:
            offer_checks(
                kw=item.kw, price_per_mwh=item.price_per_mwh, window_start=item.window_start, window_end=item.window_end
            )
        except ApplicationError as exc:
            raise _named(i, exc) from exc
    status = organisation_trading_status(seller)
    if not status.allowed:
        raise NotPermitted(
            "This participant may not trade: " + " ".join(status.reasons), code=MarketError.TRADING_SUSPENDED
        )
    ids = sorted({item.premise.pk for item in items})
    offerable = set(premises_offerable_by(seller).filter(pk__in=ids).values_list("pk", flat=True))
    for i, item in enumerate(items):
        if item.premise.pk not in offerable:
            reasons = premise_offer_refusals(seller, [item.premise]).get(item.premise.pk, [])
            raise _named(
                i,
                NotPermitted(
                    " ".join(["This seller may not offer this premise:", *reasons]),
                    fields={"premise": ["Not yours to offer.", *reasons]},
                ),
            )
    below: dict[int, set[int]] = {}
    for i, item in enumerate(items):
        if item.zone.pk not in below:
            below[item.zone.pk] = zone_with_descendant_ids([item.zone])
        if item.premise.grid_zone_id not in below[item.zone.pk]:
            raise _named(
                i,
                ApplicationError(
                    f"Premise is in zone {item.premise.grid_zone.code}, not in {item.zone.code} or below it.",
                    fields={"zone": ["The premise is not in this zone."]},
                ),
            )
    # Lock the premises (pk order) so concurrent offers and orders cannot together exceed their capacity.
    lock_premises(ids)
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
    for i, item in enumerate(items):
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
        rows = committed.setdefault(item.premise.pk, [])
        available = capacity_kw - peak_kw(rows, start, end)
        if item.kw > available:
            raise _named(
                i,
                ApplicationError(
                    f"Offer of {item.kw} kW exceeds the premise's available capacity of {max(available, Decimal(0))} kW.",
                    code=MarketError.OVER_CAPACITY,
                    fields={"kw": [f"At most {max(available, Decimal(0))} kW is available for this window."]},
                ),
            )
        rows.append((start, end, item.kw))  # the next items for this premise count this one as committed
    return FlexibilityOffer.objects.bulk_create(
        [
            FlexibilityOffer(
                seller=seller,
                premise=item.premise,
                zone=item.zone,
                kw=item.kw,
                price_per_mwh=item.price_per_mwh,
                window_start=item.window_start,
                window_end=item.window_end,
                created_by=created_by,
            )
            for item in items
        ]
    )
