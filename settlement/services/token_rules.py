"""Tokens from market outcomes: the published issuance rules, one function each (ADR 0024).

Every rule takes the measured numbers a settlement run already has and returns tokens rounded down to 0.01
(``settlement.assets.tokens``: never mint more than earned); the run puts the numbers in the item's memo and
``quantity_kwh``, so the statement shows what was counted.

=======================  ============  ==================================================================
rule                     token         issued to the resource's owner for
=======================  ============  ==================================================================
``capacity-token-1``     FLEX-CAP      each kW-hour reserved and held: reserved kW x hours of the reservation
                                       in the day x the day's availability factor (the factor its availability
                                       payment uses, ``settlement.services.reservations``)
``availability-token-1`` FLEX-AVL      each hour of honoured readiness: an hour of the reservation in the day
                                       whose every meter interval arrived (readiness observable) and in which
                                       no call found the resource unavailable (declared availability held when
                                       called: ``EventPerformance.available``)
``energy-token-1``       FLEX-NRG      each delivered kWh paid by an event's performance payment (the verified
                                       delivery capped at the dispatched quantity, ``performance-2``)
``performance-token-1``  FLEX-PRF      each kWh delivered above the commitment (capped as the over-delivery
                                       bonus is)
``governance-token-1``   FLEX-GOV      each 10 kWh of verified delivery (the existing rule)
=======================  ============  ==================================================================

Capacity contracts keep their own Capacity and Availability tokens (``settlement.services.runs``); the shift
credit keeps its Energy tokens for energy moved into the recovery window (``settlement.services.shifting``) —
a different kWh from the one delivered in the event. The sources: PJM Manual 11 (capability credits are MW
held x hours), CAISO BPM for Demand Response (energy paid up to the dispatch instruction), NAESB WEQ-015
(performance measured against the baseline).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from .. import assets

ZERO = Decimal("0")
HOUR = timedelta(hours=1)


def _not_negative(**values: Decimal) -> None:
    for name, v in values.items():
        if v < 0:
            raise ValueError(f"{name} cannot be negative.")


def capacity_tokens(*, reserved_kw: Decimal, hours: Decimal, availability_factor: Decimal) -> Decimal:
    """``capacity-token-1``: reserved kW x hours held x availability factor, rounded down."""
    _not_negative(reserved_kw=reserved_kw, hours=hours, availability_factor=availability_factor)
    if availability_factor > 1:
        raise ValueError("availability_factor is at most 1.")
    return assets.tokens(reserved_kw * hours * availability_factor)


def honoured_hours(
    *,
    window_start: datetime,
    window_end: datetime,
    ready_hours: Iterable[datetime],
    failed_calls: Iterable[tuple[datetime, datetime]] = (),
) -> list[datetime]:
    """``availability-token-1``: the whole hours in ``[window_start, window_end)`` that were fully metered and not
    touched by a call ``[start, end)`` the resource failed (unavailable)."""
    if window_end <= window_start:
        raise ValueError("The window ends before it starts.")
    ready = set(ready_hours)
    failed = list(failed_calls)
    hour = window_start.replace(minute=0, second=0, microsecond=0)
    if hour < window_start:
        hour += HOUR
    out = []
    while hour + HOUR <= window_end:
        if hour in ready and not any(s < hour + HOUR and e > hour for s, e in failed):
            out.append(hour)
        hour += HOUR
    return out


def availability_tokens(hours: int) -> Decimal:
    _not_negative(hours=Decimal(hours))
    return assets.tokens(Decimal(hours))


def energy_tokens(*, paid_kwh: Decimal) -> Decimal:
    """``energy-token-1``: one per delivered kWh paid; a net-negative delivery mints nothing."""
    return assets.tokens(max(paid_kwh, ZERO))


def performance_tokens(*, excess_kwh: Decimal) -> Decimal:
    """``performance-token-1``: one per kWh above the commitment (the capped excess of the over-delivery bonus)."""
    return assets.tokens(max(excess_kwh, ZERO))


def governance_tokens(*, delivered_kwh: Decimal) -> Decimal:
    """``governance-token-1``: one per 10 kWh of verified delivery."""
    return assets.tokens(max(delivered_kwh, ZERO) / assets.GOVERNANCE_KWH_PER_TOKEN)
