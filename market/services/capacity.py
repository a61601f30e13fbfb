"""What a resource has left to sell: accredited capacity minus everything committed, per interval.

A premise's commitment at an instant is the sum of (a) its open legacy offers, (b) the open remainder of its
shares in open market orders of every product and market, and (c) its awards of every product and market
covering that instant. A new order is accepted only if, at every instant of its window, commitment + new kW
stays within the accredited capacity (``assessment.selectors.accredited_capacity_kw``, the gate other work
makes real). Callers hold the premise rows locked (``lock_premises``, in pk order) so that two concurrent
orders cannot both take the last kW: a resource is never sold twice for the same interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from accounts.models import Premise
from assessment.selectors import CapacityProfile, accredited_capacity_from, accredited_capacity_kw
from flexplatform.errors import ApplicationError

from ..errors import MarketError
from . import order_queries

ZERO = Decimal("0")


def lock_premises(premise_ids: Iterable[int]) -> None:
    list(Premise.objects.select_for_update().filter(pk__in=sorted(set(premise_ids))).order_by("pk"))


def peak_kw(rows: list[tuple[datetime, datetime, Decimal]], start: datetime, end: datetime) -> Decimal:
    """The largest sum of the (start, end, kW) rows at any instant of ``[start, end)``."""
    events: list[tuple[datetime, int, Decimal]] = []
    for s, e, kw in rows:
        s, e = max(s, start), min(e, end)
        if e > s:
            events.append((s, 1, kw))
            events.append((e, 0, -kw))
    level = peak = ZERO
    for _, _, delta in sorted(events, key=lambda x: (x[0], x[1])):
        level += delta
        peak = max(peak, level)
    return peak


def premise_committed_kw(
    *, premise_id: int, start: datetime, end: datetime, exclude_order_id: int | None = None
) -> Decimal:
    """The largest commitment of the premise at any instant of ``[start, end)`` (one statement: offers, open
    order shares and awards, UNION ALL; ``market.services.order_queries.commitments``)."""
    rows = order_queries.commitments(premise_id=premise_id, start=start, end=end, exclude_order_id=exclude_order_id)
    return peak_kw(rows, start, end)


def check_capacity(
    *,
    premise: Premise,
    start: datetime,
    end: datetime,
    kw: Decimal,
    exclude_order_id: int | None = None,
    profile: CapacityProfile | None = None,
    committed: list[tuple[datetime, datetime, Decimal]] | None = None,
) -> Decimal:
    """Refuse unless ``kw`` more fits within the premise's accredited capacity over the window; returns what
    was available. The caller holds the premise row locked. ``profile``: the premise's capacity inputs when
    the caller has them (``market.services.eligibility``); the commitment is read now, under the lock, unless
    the caller read it under the lock for many premises at once (``committed``: the premise's rows of
    ``order_queries.commitments_many``)."""
    if profile is not None and start >= profile.since:
        capacity = accredited_capacity_from(profile, start=start, end=end)
    else:
        capacity = accredited_capacity_kw(premise=premise, start=start, end=end)
    if capacity is None:
        raise ApplicationError(
            f"Premise {premise.pk} has no accredited capacity for this window.",
            code=MarketError.NOT_ASSESSED,
            fields={"members": [f"Premise {premise.pk} is not assessed for this window."]},
        )
    if committed is not None and exclude_order_id is None:
        available = capacity - peak_kw(committed, start, end)
    else:
        available = capacity - premise_committed_kw(
            premise_id=premise.pk, start=start, end=end, exclude_order_id=exclude_order_id
        )
    if kw > available:
        raise ApplicationError(
            f"{kw} kW from premise {premise.pk} exceeds its available capacity of {max(available, ZERO)} kW "
            "(accredited capacity minus what is already offered or awarded for this interval).",
            code=MarketError.OVER_CAPACITY,
            fields={"kw": [f"At most {max(available, ZERO)} kW is available from premise {premise.pk}."]},
        )
    return available
