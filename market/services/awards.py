"""Awards: how what a sell order sold is split over its member resources, and telling the layers above that
awards were written (``market.hooks.awards_committed``, sent once the transaction commits)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .. import hooks
from ..engine import kw_to_w, w_to_kw
from ..engine.allocation import pro_rata
from ..models import Award


@dataclass
class Member:
    key: int  # tie-break id for the pro-rata split: the OrderMember pk (a new order's: its premise id)
    premise_id: int
    kw: Decimal
    remaining: Decimal
    pk: int | None = None


def member_shares(members: list[Member], watts: int) -> list[tuple[Member, Decimal]]:
    """The one rule that splits what a sell order sold (a continuous fill, or an auction's accepted kW in one
    interval) over its members: pro rata to their offered kW, capped at what each still has open, largest
    remainder in integer watts, ties to the lower ``key`` (``market.engine.allocation.pro_rata``). Each member's
    ``remaining`` is reduced by its share. Returns (member, kW) for the members with a share, in ``members``'
    order."""
    split = pro_rata(watts, [(m.key, kw_to_w(m.kw), kw_to_w(m.remaining)) for m in members])
    shares = []
    for m in members:
        w = split.get(m.key, 0)
        if w:
            m.remaining -= w_to_kw(w)
            shares.append((m, w_to_kw(w)))
    return shares


def awards_announce(awards: list[Award]) -> None:
    """Once committed, announce the awards (``market.hooks.awards_committed``): activation turns each scheduled
    award into an event."""
    if not awards:
        return
    ids = [a.pk for a in awards if a.pk is not None]
    keys = [(a.trade_id, a.clearing_run_id, a.order_id, a.premise_id, a.window_start) for a in awards if a.pk is None]

    def committed_ids() -> list[int]:
        found = list(ids)
        for trade_id, run_id, order_id, premise_id, start in keys:  # a backend that returns no ids from bulk inserts
            award = Award.objects.filter(
                trade_id=trade_id, clearing_run_id=run_id, order_id=order_id, premise_id=premise_id, window_start=start
            ).first()
            if award is not None:
                found.append(award.pk)
        return found

    hooks.awards_committed_on_commit(committed_ids)
