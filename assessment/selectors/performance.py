"""A premise's record of delivery on past events and the reliability factor it earns (activation's verified
events, read through ``assessment.hooks``)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from accounts.models import Premise

from .. import hooks
from ..flexibility import reliability_factor

PERFORMANCE_EVENTS = 10  # the reliability factor looks at the most recent verified events


def performance_history(*, premise: Premise | int, limit: int | None = None) -> list[dict]:
    """Delivered vs committed per past verified event of the premise, newest first."""
    premise_id = getattr(premise, "pk", premise)
    out = []
    for v in hooks.activation().verified_events(premise_id=premise_id, limit=limit):
        ratio = v.delivered_kwh / v.committed_kwh if v.committed_kwh else None
        out.append(
            {
                "event": v.event_id,
                "start": v.start,
                "end": v.end,
                "committed_kwh": v.committed_kwh,
                "delivered_kwh": v.delivered_kwh,
                "performance": None if ratio is None else ratio.quantize(Decimal("0.0001")),
            }
        )
    return out


def reliability_factor_for(*, premise: Premise | int) -> Decimal:
    """Σ min(delivered, committed) / Σ committed over the last ``PERFORMANCE_EVENTS`` events; 1 without history."""
    history = performance_history(premise=premise, limit=PERFORMANCE_EVENTS)
    factor = reliability_factor(
        [float(h["delivered_kwh"]) for h in history], [float(h["committed_kwh"]) for h in history]
    )
    return Decimal(repr(factor)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
