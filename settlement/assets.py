"""Assets, issuance rules and rounding of the Compensation ledger (pure: no database).

Assets: the fiat settlement currency (``SETTLEMENT_CURRENCY``, USD or EUR, two decimals) and the FLEX
token family, two decimals each. Issuance rules (one token = one unit of the measured quantity):

========  ==============  ==================================================================
asset     token           issued for
========  ==============  ==================================================================
FLEX-CAP  Capacity        1 per available kW-day of a capacity contract (reserved kW x availability factor)
FLEX-NRG  Energy          1 per kWh of measured shifted energy (:func:`shifted_energy`; energy credit)
FLEX-AVL  Availability    1 per contract hour of verified readiness (every interval of the hour metered)
FLEX-PRF  Performance     1 per kWh delivered above the commitment of an event
FLEX-GOV  Governance      1 per 10 kWh of verified delivery (lasting participation earns a vote)
========  ==============  ==================================================================

Market outcomes mint by the rules of :mod:`settlement.services.token_rules` (ADR 0024): Capacity and
Availability tokens for reservations as well, Energy tokens per delivered kWh of an event as well.

Rounding (ADR 0008): a payment is computed exactly in ``Decimal`` and rounded **once**, half-up, to the
minor unit (0.01). Tokens are rounded **down** to 0.01 (never mint more than earned). A split of a rounded
amount over several payees uses the largest-remainder method: everyone gets the floor of their exact
share, and the cents left go one each to the largest fractional parts (ties: lower payee id first), so
the parts add up exactly to the whole and no remainder is left over.

Fiat alongside the tokens: the energy credit pays shifted kWh x the on-peak/off-peak spread
(:func:`shift_credit_amount`); availability rewards pay ready hours x a rate from the reward pool, pro rata
(largest remainder) when the pool is short (:func:`pro_rata_payout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")

CAPACITY = "FLEX-CAP"
ENERGY = "FLEX-NRG"
AVAILABILITY = "FLEX-AVL"
PERFORMANCE = "FLEX-PRF"
GOVERNANCE = "FLEX-GOV"
TOKENS = (CAPACITY, ENERGY, AVAILABILITY, PERFORMANCE, GOVERNANCE)
FIAT = ("USD", "EUR")
GOVERNANCE_KWH_PER_TOKEN = Decimal(10)


def is_token(asset: str) -> bool:
    return asset in TOKENS


def money(x: Decimal) -> Decimal:
    """Round half-up to the minor unit."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def tokens(x: Decimal) -> Decimal:
    """Round down to 0.01 token."""
    return x.quantize(CENT, rounding=ROUND_DOWN)


def energy_value(kwh: Decimal, price_per_mwh: Decimal) -> Decimal:
    """Unrounded value of ``kwh`` at a price per MWh."""
    return kwh * price_per_mwh / Decimal(1000)


def performance_amount(intervals: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """Performance payment: sum over intervals of delivered kWh x cleared price per MWh / 1000, rounded once."""
    return money(sum((energy_value(kwh, price) for kwh, price in intervals), ZERO))


def capacity_amount(
    *, reserved_kw: Decimal, availability_factor: Decimal, rate_per_kw_day: Decimal, days: Decimal
) -> Decimal:
    """Capacity payment: reserved kW x availability factor x rate per kW-day x days, rounded once."""
    return money(reserved_kw * availability_factor * rate_per_kw_day * days)


#: The performance payment's rule: energy paid = delivered kWh capped at the dispatched quantity (version 2;
#: version 1 paid every measured kWh, uncapped).
PERFORMANCE_RULE = "performance-2"


def paid_kwh(*, delivered_kwh: Decimal, dispatched_kwh: Decimal) -> Decimal:
    """Energy the performance payment pays: the delivered kWh, at most the dispatched quantity (``performance-2``).

    CAISO's Proxy Demand Resource settlement pays demand response energy up to the dispatch instruction
    (CAISO BPM for Demand Response; delivery beyond the instruction is uninstructed and not paid as energy);
    delivery above the dispatched quantity earns only the capped over-delivery bonus
    (:func:`over_delivery_bonus`). A net-negative delivery (programs with negative credit) passes unchanged.
    """
    return min(delivered_kwh, dispatched_kwh)


def over_delivery_bonus(
    *, delivered_kwh: Decimal, committed_kwh: Decimal, price_per_mwh: Decimal, bonus_rate: Decimal, cap: Decimal
) -> tuple[Decimal, Decimal]:
    """(excess kWh counted, bonus): excess over the commitment, capped at ``cap`` x commitment, paid at
    ``bonus_rate`` x the cleared price on top of the performance payment."""
    excess = max(delivered_kwh - committed_kwh, ZERO)
    excess = min(excess, committed_kwh * cap)
    return excess, money(energy_value(excess, price_per_mwh) * bonus_rate)


def largest_remainder(total: Decimal, weights: Sequence[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """Split ``total`` (a multiple of 0.01) over ``(payee id, weight)`` pairs in proportion to the weights.

    Floors each exact share to the cent and gives the cents left to the largest fractional parts (ties:
    lower payee id). The parts sum to ``total`` exactly. Zero total weight: nothing is allocated.
    """
    weight_sum = sum((w for _, w in weights), ZERO)
    if weight_sum <= 0 or total == 0:
        return {}
    cents_total = int((total / CENT).to_integral_value())
    exact = [(pid, Decimal(cents_total) * w / weight_sum) for pid, w in weights]
    floors = {pid: int(e.to_integral_value(rounding=ROUND_DOWN)) for pid, e in exact}
    left = cents_total - sum(floors.values())
    order = sorted(exact, key=lambda pe: (-(pe[1] - floors[pe[0]]), pe[0]))
    for pid, _ in order[:left]:
        floors[pid] += 1
    return {pid: Decimal(c) * CENT for pid, c in floors.items()}


def bill_protection_topup(
    *, baseline_kwh: Decimal, actual_kwh: Decimal, tariff_per_kwh: Decimal, net_earnings: Decimal
) -> Decimal:
    """What makes a bill-protected participant whole: their bill with participation (actual energy at the
    tariff less what they earned) minus the bill they would have paid without it (baseline energy at the
    tariff); zero if participating did not cost them."""
    with_participation = actual_kwh * tariff_per_kwh - net_earnings
    without = baseline_kwh * tariff_per_kwh
    return money(max(with_participation - without, ZERO))


def shifted_energy(*, delivered_kwh: Decimal, recovery: Sequence[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    """(rebound kWh, shifted kWh) of an event, from its recovery window's ``(baseline kWh, actual kWh)`` intervals.

    Rebound = the net energy consumed above the baseline over the recovery window, Σ (actual - baseline),
    never below zero (netting intervals against each other keeps baseline noise from counting as rebound).
    Shifted = min(delivered kWh in the event, rebound): energy moved out of the event window and consumed
    later. A curtailment with no rebound shifted nothing; a rebound larger than the curtailment is new
    consumption, not shifted energy.
    """
    rebound = max(sum((actual - base for base, actual in recovery), ZERO), ZERO)
    return rebound, min(max(delivered_kwh, ZERO), rebound)


def shift_credit_amount(*, shifted_kwh: Decimal, on_peak_per_mwh: Decimal, off_peak_per_mwh: Decimal) -> Decimal:
    """Energy credit: shifted kWh x (on-peak price - off-peak price) per MWh / 1000, never negative, rounded once
    half-up to the cent."""
    spread = max(on_peak_per_mwh - off_peak_per_mwh, ZERO)
    return money(shifted_kwh * spread / Decimal(1000))


def pro_rata_payout(*, available: Decimal, owed: Sequence[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """What each claim ``(id, owed in cents)`` is paid from a pool holding ``available``: everything owed when the
    pool covers it, else the pool split in proportion to what is owed by largest remainder (the parts sum to the
    pool exactly; no claim is paid more than it is owed)."""
    total = sum((o for _, o in owed), ZERO)
    if total <= available:
        return {i: o for i, o in owed}
    shares = largest_remainder(available, [(i, o) for i, o in owed if o > 0])
    return {i: shares.get(i, ZERO) for i, _ in owed}
