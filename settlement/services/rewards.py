"""Availability rewards in fiat, paid from the reward pool, and the pool's funding from platform fees.

For every whole UTC day a settlement run settles:

1. **Funding** (entry ``reward_pool:day:<date>``): ``reward_pool_share_pct`` % of the day's platform fees moves
   from the platform's fees account to its reward pool, rounded half-up to the cent, and never more than the
   staking pool's share (``staking_reward_share_pct``, :mod:`settlement.services.runs`) leaves of those fees,
   so the fees account never overdraws.
2. **Rewards** (entry ``availability_reward:day:<date>``, one per day: the exactly-once gate of the split):
   each contract's hours of verified readiness that day — its Availability tokens, one per fully metered
   contract hour, issued by the same run — earn ``ready hours x availability_reward_per_hour`` (a governed
   parameter read at the run), rounded half-up to the cent per contract, paid to the contract's participant
   from the reward pool. The pool account may not go negative (its kind forbids it: ``journal_post`` and the
   balance CHECK constraint). When the pool holds less than the day's rewards, its whole balance is paid pro
   rata to what each contract is owed (largest remainder, :func:`settlement.assets.pro_rata_payout`; the parts
   sum to the pool exactly) and each contract's shortfall (owed - paid) is recorded as a
   :class:`settlement.models.RewardShortfall` — visible to admins, not paid later by itself. What the pool
   holds beyond a day's rewards carries over to later days.

Availability tokens are issued as before (:func:`settlement.services.runs._contract_entries`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db.models import Sum

from .. import assets
from ..models import JournalEntry, LedgerAccount, RewardShortfall, SettlementItem, SettlementRun
from ..selectors import market_parameter
from .ledger import accounts_ensure
from .posting import EntrySpec, ItemSpec, entries_post

K = LedgerAccount.Kind
I = SettlementItem.Kind  # noqa: E741
HUNDRED = Decimal(100)


def reward_accounts_ensure() -> None:
    """The platform accounts rewards move between (created before the run's transaction)."""
    currency = settings.SETTLEMENT_CURRENCY
    accounts_ensure({(None, K.FEES, currency), (None, K.REWARD_POOL, currency)})


def day_platform_fees(day: datetime, *, currency: str) -> Decimal:
    """The platform fees charged for events of the UTC day starting at ``day`` (a positive amount)."""
    from datetime import timedelta

    total = SettlementItem.objects.filter(
        kind=I.PLATFORM_FEE, currency=currency, delivery_start__gte=day, delivery_start__lt=day + timedelta(days=1)
    ).aggregate(t=Sum("amount"))["t"]
    return -(total or Decimal("0"))


def fee_share(fees: Decimal, pct: Decimal) -> Decimal:
    """``pct`` % of a day's platform fees, rounded half-up to the cent: the staking pool's and the reward pool's
    funding are both computed here, so the reward pool's cap below is the staking share actually moved."""
    return assets.money(fees * pct / HUNDRED)


def reward_pool_funding(*, fees: Decimal, reward_pct: Decimal, staking_pct: Decimal) -> Decimal:
    """The reward pool's share of a day's fees: ``reward_pct`` % half-up, capped at what the staking share
    (``staking_pct`` %, half-up) leaves."""
    share = fee_share(fees, reward_pct)
    left = fees - fee_share(fees, staking_pct)
    return max(min(share, left), Decimal("0"))


def availability_rewards_post(run: SettlementRun, *, days: list[datetime], now: datetime) -> int:
    """Fund the reward pool and pay the fiat availability rewards of ``days``; returns the items created.

    Runs inside the settlement run's transaction, after the Availability tokens of those days are posted.
    """
    currency = settings.SETTLEMENT_CURRENCY
    acct = accounts_ensure({(None, K.FEES, currency), (None, K.REWARD_POOL, currency)})
    fees_acct, pool_acct = acct[(None, K.FEES, currency)], acct[(None, K.REWARD_POOL, currency)]
    reward_pct = market_parameter("reward_pool_share_pct")
    staking_pct = market_parameter("staking_reward_share_pct")
    rate = market_parameter("availability_reward_per_hour")
    created = 0
    for day in days:
        stamp = day.date().isoformat()
        fees = day_platform_fees(day, currency=currency)
        share = reward_pool_funding(fees=fees, reward_pct=reward_pct, staking_pct=staking_pct)
        if share > 0:
            memo = f"Reward pool: {reward_pct} % of {fees} platform fees, {stamp}"
            entries_post(
                entries=[
                    EntrySpec(
                        f"reward_pool:day:{stamp}", memo, [(fees_acct, currency, -share), (pool_acct, currency, share)]
                    )
                ],
                run_id=run.pk,
                now=now,
            )
        # The pool's row lock serialises runs paying from it: a second worker sees the first one's payout.
        pool = LedgerAccount.objects.select_for_update().get(pk=pool_acct).balance
        key = f"availability_reward:day:{stamp}"
        if (
            JournalEntry.objects.filter(business_key=key).exists()
            or RewardShortfall.objects.filter(kind=I.AVAILABILITY_REWARD, day=day.date()).exists()
        ):
            continue
        claims = list(
            SettlementItem.objects.filter(kind=I.AVAILABILITY, delivery_start=day, contract__isnull=False)
            .order_by("contract_id")
            .values_list("contract_id", "payee_id", "premise_id", "quantity_kwh")
        )
        owed = {c: assets.money(hours * rate) for c, _, _, hours in claims}
        if not claims or not any(owed.values()):
            continue
        available = pool.quantize(assets.CENT, rounding=ROUND_DOWN)
        paid = assets.pro_rata_payout(available=available, owed=sorted(owed.items()))
        payees = accounts_ensure({(payee, K.PARTICIPANT, currency) for _, payee, _, _ in claims})
        total_owed = sum(owed.values(), Decimal("0"))
        memo = f"Availability rewards {stamp}: {total_owed} owed at {rate}/ready hour, pool {available}"
        legs, items = [], []
        for c, payee, premise, hours in claims:
            if paid[c] > 0:
                legs.append((payees[(payee, K.PARTICIPANT, currency)], currency, paid[c]))
                items.append(
                    ItemSpec(
                        business_key=f"availability_reward:contract:{c}:day:{stamp}",
                        kind=I.AVAILABILITY_REWARD,
                        payee_id=payee,
                        asset=currency,
                        amount=paid[c],
                        delivery_start=day,
                        quantity_kwh=hours,
                        premise_id=premise,
                        contract_id=c,
                        memo=f"Availability reward: {hours} ready hours x {rate}"
                        + ("" if paid[c] == owed[c] else f" = {owed[c]}, paid pro rata (pool short)"),
                    )
                )
        if legs:
            legs.insert(0, (pool_acct, currency, -sum(paid.values(), Decimal("0"))))
            created += entries_post(entries=[EntrySpec(key, memo, legs, items)], run_id=run.pk, now=now)
        RewardShortfall.objects.bulk_create(
            [
                RewardShortfall(
                    business_key=f"availability_reward:contract:{c}:day:{stamp}:shortfall",
                    kind=I.AVAILABILITY_REWARD,
                    organisation_id=payee,
                    contract_id=c,
                    day=day.date(),
                    currency=currency,
                    owed=owed[c],
                    paid=paid[c],
                    shortfall=owed[c] - paid[c],
                    pool_balance=available,
                    run=run,
                )
                for c, payee, _, _ in claims
                if owed[c] > paid[c]
            ],
            ignore_conflicts=True,
        )
    return created
