"""Penalties: the rate a shortfall is charged at, and the recording of a penalty (settlement charges it)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from .. import notify
from ..models import DREvent, Penalty, Program
from ..signals import penalty_recorded
from .units import KWH, MONEY


def penalty_rate_per_mwh(*, event: DREvent, program: Program) -> Decimal:
    """The rate (currency per MWh) a shortfall of ``event`` is charged at, read when the penalty is recorded.

    * A market event (from an award or a called reservation, priced by the market): the governed
      ``penalty_rate`` (a multiple of the market price, ``market.parameters.market_parameter``, changed only
      by an executed governance proposal) x the event's price (``DREvent.price_per_mwh``; the award's cleared
      price for events created before events carried one), rounded half-up to the cent; the penalty is then
      shortfall kWh x that rate / 1000, rounded half-up to the cent (reproducible from the stored rate).
    * Any other event (operator programs, emergencies, cascades, trigger rules: nothing was cleared): the
      program's own contracted ``penalty_rate_per_mwh``.
    """
    from market.parameters import market_parameter

    price = None
    if event.award_id or event.reservation_id:
        price = event.price_per_mwh or (event.award.clearing_price_per_mwh if event.award_id else None)
    if price:
        return (market_parameter("penalty_rate") * price).quantize(MONEY, rounding=ROUND_HALF_UP)
    return program.penalty_rate_per_mwh


def penalty_amount(*, shortfall_kwh: Decimal, rate_per_mwh: Decimal) -> Decimal:
    """A penalty's amount: shortfall kWh x rate ($/MWh) / 1000, rounded half-up to the cent (reproducible from the
    stored shortfall and rate). The one formula of a shortfall penalty, an opt-out's terms and a verification
    chunk's penalties."""
    return (shortfall_kwh * rate_per_mwh / 1000).quantize(MONEY, rounding=ROUND_HALF_UP)


def penalty_record(
    *, event: DREvent, reason: str, shortfall_kwh: Decimal, rate_per_mwh: Decimal, now: datetime, announce: bool = True
) -> Penalty:
    """Record the penalty of ``event`` for ``reason`` (a shortfall below the program threshold, an opt-out), once
    per event and reason: shortfall kWh x rate / 1000, rounded half-up to the cent (reproducible from the stored
    rate), paid by the premise's organisation. Settlement charges it in the ledger once the caller's transaction
    commits: :data:`activation.signals.penalty_recorded` is sent then, with the penalty's id (settlement's
    receiver is idempotent per penalty). ``announce=False``: the caller announces it with others
    (:func:`activation.services.verification.events_verify` sends one ``verifications_final`` per chunk)."""
    penalty, created = Penalty.objects.get_or_create(
        event=event,
        reason=reason,
        defaults={
            "premise": event.premise,
            "payer": event.premise.organisation,
            "shortfall_kwh": shortfall_kwh,
            "rate_per_mwh": rate_per_mwh,
            "amount": penalty_amount(shortfall_kwh=shortfall_kwh, rate_per_mwh=rate_per_mwh),
            "delivery_start": event.start,
            "created_at": now,
        },
    )
    if created:
        notify.penalty_recorded(penalty, now=now)  # in the fact's transaction (ADR 0030)
    if announce:
        transaction.on_commit(lambda pk=penalty.pk: penalty_recorded.send(sender=Penalty, penalty_id=pk))
    return penalty


def opt_out_terms(*, event: DREvent, program: Program, now: datetime) -> dict:
    """What opting ``event`` out at ``now`` costs under ``program``'s rule (the preview the consumer confirms and
    the numbers :func:`activation.services.events.event_opt_out` records): the phase, the consequence, and for a
    penalty the remaining committed energy (target kW x the hours left of the window) charged at
    :func:`penalty_rate_per_mwh`, shortfall kWh x rate / 1000, rounded half-up to the cent."""
    from ..models import OptOut

    phase = OptOut.Phase.DURING if now >= event.start else OptOut.Phase.BEFORE
    consequence = program.opt_out_consequence
    rate = penalty_rate_per_mwh(event=event, program=program)
    shortfall = amount = None
    if consequence == Program.OptOutConsequence.PENALTY and rate > 0:
        remaining_h = Decimal((event.end - max(now, event.start)).total_seconds()) / Decimal(3600)
        shortfall = (event.target_kw * remaining_h).quantize(KWH)
        amount = penalty_amount(shortfall_kwh=shortfall, rate_per_mwh=rate)
    return {
        "phase": phase,
        "consequence": consequence,
        "consequence_label": Program.OptOutConsequence(consequence).label,
        "rate_per_mwh": rate,
        "shortfall_kwh": shortfall,
        "penalty": amount,
    }
