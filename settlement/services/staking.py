"""Staking: FLEX tokens locked for a period (premium-market collateral, governance weight), slashing and release.

Locking moves tokens from the participant's free account to its ``staked`` account (same asset) in one
journal entry; release moves them back after ``locked_until``; slashing for non-delivery in a premium market
moves ``slashing_rate`` x the stake to the platform's penalty pool. Staking rewards are paid by settlement
runs (:mod:`settlement.services.runs`) from platform fees, pro rata to stake x time.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Organisation
from flexplatform.errors import ApplicationError

from .. import assets
from ..errors import SettlementError
from ..models import LedgerAccount, SettlementItem, Stake
from .audit_trail import audit
from .ledger import account_for, journal_post, platform_account
from .payments import period_for

K = LedgerAccount.Kind


class StakeError(ApplicationError):
    code = SettlementError.STAKE_INVALID


def staked_collateral(organisation) -> Decimal:
    """FLEX staked and locked now (all FLEX tokens count one for one). The market's premium-market check."""
    now = timezone.now()
    total = Stake.objects.filter(
        organisation=organisation, status=Stake.Status.LOCKED, locked_from__lte=now, locked_until__gt=now
    ).aggregate(t=Sum("amount"))["t"]
    return (total or Decimal("0")).quantize(assets.CENT)


def governance_weight(organisation, *, at: datetime) -> Decimal:
    """The organisation's voting weight: its Governance tokens staked and locked at ``at``, plus those it claimed
    on chain (its ``claimed`` ledger account, ADR 0023: the ledger is the source of truth for votes, so a token
    claimed to a wallet still votes, for the organisation that earned it, and is counted once: a token is
    either staked or claimed, never both, and on-chain transfers change nothing)."""
    claimed = (
        LedgerAccount.objects.filter(organisation=organisation, kind=K.CLAIMED, asset=assets.GOVERNANCE)
        .values_list("balance", flat=True)
        .first()
    ) or Decimal("0")
    total = Stake.objects.filter(
        organisation=organisation,
        asset=assets.GOVERNANCE,
        status=Stake.Status.LOCKED,
        locked_from__lte=at,
        locked_until__gt=at,
    ).aggregate(t=Sum("amount"))["t"]
    return ((total or Decimal("0")) + claimed).quantize(assets.CENT)


def stake_lock(
    *,
    organisation: Organisation,
    asset: str,
    amount: Decimal,
    locked_until: datetime,
    business_key: str,
    actor=None,
    now: datetime | None = None,
) -> Stake:
    now = now or timezone.now()
    existing = Stake.objects.filter(business_key=business_key).first()
    if existing is not None:
        return existing
    errors = {}
    if not assets.is_token(asset):
        errors["asset"] = [f"Stake one of {', '.join(assets.TOKENS)}."]
    if amount <= 0 or amount != amount.quantize(assets.CENT):
        errors["amount"] = ["A positive amount with at most 2 decimals."]
    if locked_until <= now:
        errors["locked_until"] = ["Must be in the future."]
    if errors:
        raise StakeError("Invalid stake.", fields=errors)
    with transaction.atomic():
        journal_post(
            business_key=f"stake:{business_key}",
            memo=f"Stake {amount} {asset} until {locked_until.isoformat()}",
            legs=[
                (account_for(organisation=organisation, kind=K.PARTICIPANT, asset=asset), -amount),
                (account_for(organisation=organisation, kind=K.STAKED, asset=asset), amount),
            ],
        )
        stake = Stake.objects.create(
            organisation=organisation,
            asset=asset,
            amount=amount,
            locked_from=now,
            locked_until=locked_until,
            business_key=business_key,
        )
        audit(action="stake.locked", obj=stake, actor=actor, organisation=organisation, amount=amount, asset=asset)
    return stake


def stake_release(*, stake_id: int, actor=None, now: datetime | None = None) -> Stake:
    now = now or timezone.now()
    with transaction.atomic():
        stake = Stake.objects.select_for_update().get(pk=stake_id)
        if stake.status != Stake.Status.LOCKED:
            return stake
        if now < stake.locked_until:
            raise StakeError(
                "The stake is locked until " + stake.locked_until.isoformat() + ".", code=SettlementError.STAKE_LOCKED
            )
        if stake.amount > 0:
            journal_post(
                business_key=f"stake_release:{stake.pk}",
                memo=f"Release stake {stake.pk}",
                legs=[
                    (account_for(organisation=stake.organisation, kind=K.STAKED, asset=stake.asset), -stake.amount),
                    (account_for(organisation=stake.organisation, kind=K.PARTICIPANT, asset=stake.asset), stake.amount),
                ],
            )
        stake.status = Stake.Status.RELEASED
        stake.save(update_fields=["status"])
        audit(action="stake.released", obj=stake, actor=actor, organisation=stake.organisation, amount=stake.amount)
    return stake


def stake_slash_for_event(
    *, organisation_id: int, event_id: int, at: datetime, run_id: int | None = None
) -> list[SettlementItem]:
    """Slash every stake of the organisation locked at ``at`` by the slashing rate, once per (stake, event)."""
    from ..selectors import market_parameter

    rate = market_parameter("slashing_rate")
    items = []
    with transaction.atomic():
        stakes = (
            Stake.objects.select_for_update()
            .filter(
                organisation_id=organisation_id, status=Stake.Status.LOCKED, locked_from__lte=at, locked_until__gt=at
            )
            .order_by("pk")
        )
        for stake in stakes:
            key = f"slashing:event:{event_id}:stake:{stake.pk}"
            if SettlementItem.objects.filter(business_key=key).exists():
                continue
            amount = assets.tokens(stake.amount * rate)
            if amount <= 0:
                continue
            entry = journal_post(
                business_key=key,
                memo=f"Slash {rate} of stake {stake.pk} for non-delivery, event {event_id}",
                legs=[
                    (account_for(organisation=stake.organisation, kind=K.STAKED, asset=stake.asset), -amount),
                    (platform_account(K.PENALTY_POOL, stake.asset), amount),
                ],
            )
            stake.amount -= amount
            stake.save(update_fields=["amount"])
            items.append(
                SettlementItem.objects.create(
                    business_key=key,
                    kind=SettlementItem.Kind.SLASHING,
                    payee_id=organisation_id,
                    event_id=event_id,
                    quantity_kwh=0,
                    price_per_mwh=0,
                    amount=-amount,
                    currency=stake.asset,
                    delivery_start=at,
                    period=period_for(delivery_start=at, now=timezone.now()),
                    journal_entry=entry,
                    run_id=run_id,
                    memo=entry.memo,
                )
            )
            audit(action="stake.slashed", obj=stake, organisation=stake.organisation, amount=amount, event=event_id)
    return items
