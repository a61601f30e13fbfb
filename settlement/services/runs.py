"""Settlement runs: everything owed for a window, paid exactly once.

A run settles a window ``[window_start, window_end)`` aligned to 5 minutes (a day by the daily schedule,
any window on demand):

* **event items** for every verified event starting in the window: the performance payment (rule ``performance-2``:
  the verified delivery, netted over the event and capped at the dispatched quantity, x the award's cleared
  price, rounded once), the over-delivery
  bonus and Performance tokens for delivery above the commitment, Governance tokens, the platform fee
  (charged to the operator), the bill-protection top-up, and slashing of stakes for non-delivery under a
  premium contract; the collateral of every award whose delivery is verified: slashed for under-delivery, then
  released (:mod:`settlement.services.collateral`);
* **energy credits** (fiat and Energy tokens) for the measured shifted energy of load-shifting resources,
  for every event whose recovery window ends in the window (:mod:`settlement.services.shifting`);
* **contract items** for every whole UTC day in the window that has ended: the capacity payment
  (reserved kW x availability factor x rate per kW-day; the availability factor is the share of the
  day's meter intervals received from the resource), Capacity tokens and Availability tokens (one per hour
  in which every interval was metered). A contract held by an aggregator pays the aggregator its contracted
  fee % and splits the rest over its members by verified contribution (their delivered kWh that day),
  largest remainder (:func:`settlement.assets.largest_remainder`);
* **staking rewards** for each such day: the configured share of the day's platform fees, pro rata to
  stake x time locked within the day;
* **availability rewards** in fiat for each such day, from the reward pool funded by a share of the day's
  platform fees, pro rata when the pool is short (:mod:`settlement.services.rewards`);
* **receivables netting** last: a participant that owes (penalties beyond its balance) has what it was
  just paid applied to the debt first (:mod:`settlement.services.netting`).

Every item's business key names (participant, event or contract, period, kind); each journal entry's key
is the exactly-once gate (:mod:`settlement.services.posting`). The run row is locked for the whole run, so
two workers on one window run one after the other and the second pays nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from accounts.models import Organisation, Premise
from activation.models import EventVerification
from flexplatform.errors import ApplicationError

from .. import assets
from ..errors import SettlementError
from ..models import AggregatorAgreement, LedgerAccount, ParticipationContract, SettlementItem, SettlementRun, Stake
from ..models_coverage import SettlementCoverage
from ..selectors import market_parameter
from . import splits, token_rules
from .collateral import collateral_settle_due
from .ledger import accounts_ensure
from .metering import meter_availability
from .netting import receivables_net
from .payments import performance_memo, periods_ensure
from .posting import EntrySpec, ItemSpec, entries_post
from .reservations import reservation_availability_entries
from .rewards import availability_rewards_post, day_platform_fees, fee_share, reward_accounts_ensure
from .shifting import shift_credit_entries
from .statement_notices import statements_ready_notify

K = LedgerAccount.Kind
I = SettlementItem.Kind  # noqa: E741
DAY = timedelta(days=1)
HUNDRED = Decimal(100)


class InvalidWindow(ApplicationError):
    code = SettlementError.INVALID_WINDOW


def settlement_run_execute(
    *,
    window_start: datetime,
    window_end: datetime,
    trigger: str = SettlementRun.Trigger.ON_DEMAND,
    now: datetime | None = None,
) -> SettlementRun:
    """Settle the window once; a repeat (or a concurrent worker) finds everything paid and pays nothing."""
    now = now or timezone.now()
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise InvalidWindow("The window must be aware.", fields={"window_start": ["Give a time zone."]})
    if window_end <= window_start:
        raise InvalidWindow("The window ends before it starts.", fields={"window_end": ["Must be after the start."]})
    for name, t in (("window_start", window_start), ("window_end", window_end)):
        if t.second or t.microsecond or t.minute % 5:
            raise InvalidWindow("Windows align to 5-minute intervals.", fields={name: ["Align to 5 minutes."]})
    if window_end - window_start > timedelta(days=31):
        raise InvalidWindow("A run settles at most 31 days.", fields={"window_end": ["At most 31 days."]})
    if window_end > now:
        raise InvalidWindow("The window has not ended yet.", fields={"window_end": ["Must be in the past."]})
    SettlementRun.objects.get_or_create(window_start=window_start, window_end=window_end, defaults={"trigger": trigger})
    run = SettlementRun.objects.get(window_start=window_start, window_end=window_end)
    # Computed before the run's transaction, so the accounts they need are created (and committed) in short
    # transactions of their own: a long run never holds a new account row another worker waits for.
    covered: dict[str, set[int]] = {SettlementCoverage.Role.EVENT: set(), SettlementCoverage.Role.RECOVERY: set()}
    entries = _event_entries(run, now=now, covered=covered[SettlementCoverage.Role.EVENT])
    entries += _contract_entries(run, now=now)
    entries += reservation_availability_entries(run, days=_days_in(run, now))
    entries += shift_credit_entries(run, now=now, covered=covered[SettlementCoverage.Role.RECOVERY])
    _staking_accounts(run, now=now)
    reward_accounts_ensure()
    periods_ensure([i.delivery_start for e in entries for i in e.items] + _days_in(run, now) + [now])
    with transaction.atomic():
        run = SettlementRun.objects.select_for_update().get(pk=run.pk)
        created = entries_post(entries=entries, run_id=run.pk, now=now)
        _slash_non_delivery(run)
        collateral_settle_due(run_id=run.pk, until=now, now=now)  # every award due by now (ADR 0025)
        created += entries_post(entries=_staking_reward_entries(run, now=now), run_id=run.pk, now=now)
        created += availability_rewards_post(run, days=_days_in(run, now), now=now)
        receivables_net(reference=f"run:{run.pk}:attempt:{run.attempts + 1}")
        statements_ready_notify(window_start=run.window_start, window_end=run.window_end, now=now)  # ADR 0030
        SettlementCoverage.objects.bulk_create(  # what this attempt settled: those events' tasks run nothing
            [
                SettlementCoverage(run=run, verification_id=v, role=role)
                for role, vs in covered.items()
                for v in sorted(vs)
            ],
            ignore_conflicts=True,
        )
        run.attempts += 1
        run.last_attempt_items = created
        run.items_created += created
        run.status = SettlementRun.Status.COMPLETED
        run.finished_at = timezone.now()
        run.totals = _totals(run)
        run.save(update_fields=["attempts", "last_attempt_items", "items_created", "status", "finished_at", "totals"])
    return run


def _totals(run: SettlementRun) -> dict:
    rows = (
        SettlementItem.objects.filter(run=run).values("kind", "currency").annotate(n=Count("id"), total=Sum("amount"))
    )
    return {f"{r['kind']}:{r['currency']}": {"items": r["n"], "total": str(r["total"])} for r in rows}


def _days_in(run: SettlementRun, now: datetime) -> list[datetime]:
    """Whole UTC days inside the window that have ended."""
    d = run.window_start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if d < run.window_start:
        d += DAY
    days = []
    while d + DAY <= run.window_end and d + DAY <= now:
        days.append(d)
        d += DAY
    return days


def _event_entries(run: SettlementRun, *, now: datetime, covered: set[int]) -> list[EntrySpec]:
    """The event items of every verified event starting in the window; ``covered`` gets every verification read
    (all settled by this attempt, the unpaid ones included)."""
    currency = settings.SETTLEMENT_CURRENCY
    rows = event_settlement_rows(window_start=run.window_start, window_end=run.window_end)
    # An event an earlier run settled (its items posted in that run's transaction) is not computed again: each
    # attempt costs the events verified since, not the whole window (issue #21, ADR 0037).
    settled = set(
        SettlementCoverage.objects.filter(
            role=SettlementCoverage.Role.EVENT, verification_id__in=[r[0] for r in rows]
        ).values_list("verification_id", flat=True)
    )
    rows = [r for r in rows if r[0] not in settled]
    covered.update(r[0] for r in rows)
    rows = [r for r in rows if r[6] is not None and r[7] is not None]  # an event nobody bought is not paid
    if not rows:
        return []
    # Delivered kWh: the verification's, netted over the event (activation.services.verification); paid up to the
    # dispatched quantity (``performance-2``), at the award's uniform price, rounded once per item.
    fee_pct = market_parameter("platform_fee_pct")
    bonus_rate = market_parameter("over_delivery_bonus_rate")
    cap = market_parameter("over_delivery_cap")
    protected = {
        c.premise_id: c
        for c in ParticipationContract.objects.filter(
            bill_protection=True, premise__isnull=False, start__lt=run.window_end, end__gt=run.window_start
        )
    }
    penalties = defaultdict(Decimal)
    for event_id, amount in SettlementItem.objects.filter(
        kind=I.PENALTY,
        event__start__gte=run.window_start,
        event__start__lt=run.window_end,
        payee_id=F("event__premise__organisation_id"),  # the member's part only (ADR 0024)
    ).values_list("event_id", "amount"):
        penalties[event_id] += amount
    keys: set = {(None, K.FEES, currency), (None, K.TREASURY, currency)}
    minted = (assets.PERFORMANCE, assets.GOVERNANCE, assets.ENERGY)
    for r in rows:
        keys |= {(r[7], K.OPERATOR_PAYABLE, currency), (r[4], K.PARTICIPANT, currency)}
        keys |= {(r[4], K.PARTICIPANT, a) for a in minted}
    keys |= {(None, K.TREASURY, a) for a in minted}
    acct = accounts_ensure(keys)
    sales = splits.event_sales(rows)  # events of awards sold through a portfolio (ADR 0024)
    acct.update(splits.sale_accounts(sales))
    out: list[EntrySpec] = []

    def pay(key, kind, payer_acct, payee_org, asset, amount, r, memo, qty=Decimal("0"), price=Decimal("0")):
        if amount <= 0:
            return
        out.append(
            EntrySpec(
                business_key=key,
                memo=memo,
                legs=[(payer_acct, asset, -amount), (acct[(payee_org, K.PARTICIPANT, asset)], asset, amount)],
                items=[
                    ItemSpec(
                        business_key=key,
                        kind=kind,
                        payee_id=payee_org,
                        asset=asset,
                        amount=amount,
                        delivery_start=r[2],
                        quantity_kwh=qty,
                        price_per_mwh=price,
                        premise_id=r[3],
                        event_id=r[1],
                        award_id=r[5],
                        memo=memo,
                    )
                ],
            )
        )

    for r in rows:
        _vid, event_id, start, premise_id, payee, award_id, price, operator, committed, base_kwh, actual_kwh, kwh = r
        op = acct[(operator, K.OPERATOR_PAYABLE, currency)]
        paid = assets.paid_kwh(delivered_kwh=kwh, dispatched_kwh=committed)
        perf = assets.performance_amount([(paid, price)])
        sale = sales.get(event_id)  # sold through a portfolio: split below instead
        pay(
            f"performance:event:{event_id}",
            I.PERFORMANCE,
            op,
            payee,
            currency,
            perf if sale is None else 0,
            r,
            performance_memo(event_id, kwh, paid, price),
            paid,
            price,
        )
        excess, bonus = assets.over_delivery_bonus(
            delivered_kwh=kwh, committed_kwh=committed, price_per_mwh=price, bonus_rate=bonus_rate, cap=cap
        )
        pay(
            f"over_delivery:event:{event_id}",
            I.OVER_DELIVERY,
            op,
            payee,
            currency,
            bonus if sale is None else 0,
            r,
            f"Over-delivery bonus, event {event_id}: {excess} kWh above commitment",
            excess,
            price,
        )
        earned = perf + bonus
        if sale is not None:  # member share and aggregator fee of the performance payment and of the bonus
            parts = splits.event_split_entries(
                sale=sale, acct=acct, payer_account=op, row=r, perf=perf, bonus=bonus, paid=paid, excess=excess
            )
            out += parts
            earned = splits.member_total(parts)
        for kind, asset, qty, n, what in (
            (
                I.PERFORMANCE_TOKEN,
                assets.PERFORMANCE,
                excess,
                token_rules.performance_tokens(excess_kwh=excess),
                "kWh above commitment",
            ),
            (
                I.GOVERNANCE_TOKEN,
                assets.GOVERNANCE,
                kwh / assets.GOVERNANCE_KWH_PER_TOKEN,
                token_rules.governance_tokens(delivered_kwh=kwh),
                "per 10 kWh delivered",
            ),
            (I.ENERGY_TOKEN, assets.ENERGY, paid, token_rules.energy_tokens(paid_kwh=paid), "delivered kWh paid"),
        ):
            pay(
                f"{kind}:event:{event_id}",
                kind,
                acct[(None, K.TREASURY, asset)],
                payee,
                asset,
                n,
                r,
                f"{asset} issued, event {event_id}: {qty} {what}",
                qty,
            )
        fee = assets.money(perf * fee_pct / HUNDRED)
        if fee > 0:
            key = f"platform_fee:event:{event_id}"
            memo = f"Platform fee {fee_pct} % of {perf}, event {event_id}"
            out.append(
                EntrySpec(
                    key,
                    memo,
                    [(op, currency, -fee), (acct[(None, K.FEES, currency)], currency, fee)],
                    [
                        ItemSpec(
                            business_key=key,
                            kind=I.PLATFORM_FEE,
                            payee_id=operator,
                            asset=currency,
                            amount=-fee,
                            delivery_start=start,
                            event_id=event_id,
                            award_id=award_id,
                            memo=memo,
                        )
                    ],
                )
            )
        contract = protected.get(premise_id)
        if contract is not None:
            topup = assets.bill_protection_topup(
                baseline_kwh=base_kwh,
                actual_kwh=actual_kwh,
                tariff_per_kwh=contract.tariff_per_kwh,
                net_earnings=earned + penalties[event_id],
            )
            pay(
                f"bill_protection:event:{event_id}",
                I.BILL_PROTECTION,
                acct[(None, K.TREASURY, currency)],
                payee,
                currency,
                topup,
                r,
                f"Bill protection top-up, event {event_id}",
            )
    return out


def event_settlement_rows(*, window_start: datetime, window_end: datetime) -> list[tuple]:
    """Verified events starting in the window with the price and buyer each is settled at: the event's own,
    set when it was created (award or trade price, reservation energy price, program energy rate; ADR 0011).
    Row: (verification, event, start, premise, payee, award, price, payer, committed, baseline, actual,
    delivered kWh)."""
    return list(
        EventVerification.objects.filter(event__start__gte=window_start, event__start__lt=window_end)
        .annotate(
            price=F("event__price_per_mwh"),
            payer=F("event__buyer_id"),
        )
        .order_by("event_id")
        .values_list(
            "pk",
            "event_id",
            "event__start",
            "event__premise_id",
            "event__premise__organisation_id",
            "event__award_id",
            "price",
            "payer",
            "committed_kwh",
            "baseline_kwh",
            "actual_kwh",
            "delivered_kwh",
        )
    )


def _contract_entries(run: SettlementRun, *, now: datetime) -> list[EntrySpec]:
    currency = settings.SETTLEMENT_CURRENCY
    out: list[EntrySpec] = []
    for day in _days_in(run, now):
        contracts = list(
            ParticipationContract.objects.filter(start__lte=day, end__gte=day + DAY).select_related("participant")
        )
        if not contracts:
            continue
        aggregators = {c.participant_id for c in contracts if c.participant.kind == Organisation.Kind.AGGREGATOR}
        members = defaultdict(list)  # aggregator -> [(premise id, owner id)]
        for pid, owner, agg in Premise.objects.filter(aggregator_id__in=aggregators).values_list(
            "pk", "organisation_id", "aggregator_id"
        ):
            members[agg].append((pid, owner))
        premise_ids = {c.premise_id for c in contracts if c.premise_id} | {p for m in members.values() for p, _ in m}
        avail = meter_availability(sorted(premise_ids), day)
        contribution = defaultdict(Decimal)  # premise owner -> delivered kWh this day in an aggregator's portfolio
        for owner, kwh in EventVerification.objects.filter(
            event__start__gte=day, event__start__lt=day + DAY, event__premise__aggregator_id__in=aggregators
        ).values_list("event__premise__organisation_id", "delivered_kwh"):
            contribution[owner] += kwh
        fees = dict(
            AggregatorAgreement.objects.filter(aggregator_id__in=aggregators).values_list(
                "aggregator_id", "fee_percent"
            )
        )
        keys = {(None, K.TREASURY, assets.CAPACITY), (None, K.TREASURY, assets.AVAILABILITY)}
        for c in contracts:
            keys |= {(c.operator_id, K.OPERATOR_PAYABLE, currency), (c.participant_id, K.PARTICIPANT, currency)}
            keys |= {(c.participant_id, K.PARTICIPANT, a) for a in (assets.CAPACITY, assets.AVAILABILITY)}
            keys |= {(owner, K.PARTICIPANT, currency) for _, owner in members.get(c.participant_id, [])}
        acct = accounts_ensure(keys)
        stamp = day.date().isoformat()
        for c in contracts:
            pids = [c.premise_id] if c.premise_id else [p for p, _ in members.get(c.participant_id, [])]
            metered = sum(avail[p][0] for p in pids)
            expected = sum(avail[p][1] for p in pids)
            factor = (Decimal(metered) / Decimal(expected)) if expected else Decimal("0")
            ready_hours = set.intersection(*(avail[p][2] for p in pids)) if pids else set()
            amount = assets.capacity_amount(
                reserved_kw=c.reserved_kw,
                availability_factor=factor,
                rate_per_kw_day=c.rate_per_kw_day,
                days=Decimal(1),
            )
            base = dict(delivery_start=day, contract_id=c.pk, premise_id=c.premise_id)
            if amount > 0:
                key = f"capacity:contract:{c.pk}:day:{stamp}"
                memo = f"Capacity {c.reserved_kw} kW x availability {factor:.4f} x {c.rate_per_kw_day}/kW-day, {stamp}"
                legs = [(acct[(c.operator_id, K.OPERATOR_PAYABLE, currency)], currency, -amount)]
                items = []
                if c.participant_id in aggregators:
                    pct = fees.get(c.participant_id, HUNDRED)
                    fee = assets.money(amount * pct / HUNDRED)
                    weights = defaultdict(Decimal)
                    for _, owner in members.get(c.participant_id, []):
                        if contribution[owner] > 0:
                            weights[owner] = contribution[owner]
                    shares = assets.largest_remainder(amount - fee, sorted(weights.items()))
                    fee = amount - sum(shares.values(), Decimal("0"))  # nothing to split: the aggregator keeps it
                    for owner, share in sorted(shares.items()):
                        if share > 0:
                            legs.append((acct[(owner, K.PARTICIPANT, currency)], currency, share))
                            items.append(
                                ItemSpec(
                                    business_key=f"member_share:contract:{c.pk}:day:{stamp}:org:{owner}",
                                    kind=I.MEMBER_SHARE,
                                    payee_id=owner,
                                    asset=currency,
                                    amount=share,
                                    quantity_kwh=weights[owner],
                                    memo=f"Member share of {memo}",
                                    **base,
                                )
                            )
                    if fee > 0:
                        legs.append((acct[(c.participant_id, K.PARTICIPANT, currency)], currency, fee))
                        items.append(
                            ItemSpec(
                                business_key=f"aggregator_fee:contract:{c.pk}:day:{stamp}",
                                kind=I.AGGREGATOR_FEE,
                                payee_id=c.participant_id,
                                asset=currency,
                                amount=fee,
                                memo=f"Aggregator fee {pct} % of {memo}",
                                **base,
                            )
                        )
                else:
                    legs.append((acct[(c.participant_id, K.PARTICIPANT, currency)], currency, amount))
                    items.append(
                        ItemSpec(
                            business_key=key,
                            kind=I.CAPACITY,
                            payee_id=c.participant_id,
                            asset=currency,
                            amount=amount,
                            quantity_kwh=c.reserved_kw,
                            memo=memo,
                            **base,
                        )
                    )
                out.append(EntrySpec(key, memo, legs, items))
            for kind, asset, qty, memo in (
                (I.CAPACITY_TOKEN, assets.CAPACITY, c.reserved_kw * factor, "available kW-days"),
                (I.AVAILABILITY, assets.AVAILABILITY, Decimal(len(ready_hours)), "hours of verified readiness"),
            ):
                n = assets.tokens(qty)
                if n > 0:
                    key = f"{kind}:contract:{c.pk}:day:{stamp}"
                    out.append(
                        EntrySpec(
                            key,
                            f"{asset} issued: {qty} {memo}, {stamp}",
                            [
                                (acct[(None, K.TREASURY, asset)], asset, -n),
                                (acct[(c.participant_id, K.PARTICIPANT, asset)], asset, n),
                            ],
                            [
                                ItemSpec(
                                    business_key=key,
                                    kind=kind,
                                    payee_id=c.participant_id,
                                    asset=asset,
                                    amount=n,
                                    quantity_kwh=qty,
                                    memo=f"{qty} {memo}",
                                    **base,
                                )
                            ],
                        )
                    )
    return out


def _slash_non_delivery(run: SettlementRun) -> None:
    from .staking import stake_slash_for_event

    threshold = market_parameter("non_delivery_threshold")
    rows = EventVerification.objects.filter(
        event__start__gte=run.window_start, event__start__lt=run.window_end
    ).values_list(
        "event_id",
        "event__premise_id",
        "event__premise__organisation_id",
        "event__start",
        "delivered_kwh",
        "committed_kwh",
    )
    premium = set(
        ParticipationContract.objects.filter(
            premium=True, start__lt=run.window_end, end__gt=run.window_start
        ).values_list("premise_id", flat=True)
    )
    for event_id, premise_id, org_id, start, kwh, committed in rows:
        if premise_id in premium and committed > 0 and kwh < committed * threshold:
            stake_slash_for_event(organisation_id=org_id, event_id=event_id, at=start, run_id=run.pk)


def _staking_accounts(run: SettlementRun, *, now: datetime) -> None:
    currency = settings.SETTLEMENT_CURRENCY
    keys = {(None, K.FEES, currency), (None, K.STAKING_POOL, currency)}
    keys |= {(None, K.PENALTY_POOL, a) for a in assets.TOKENS}
    for day in _days_in(run, now):
        orgs = Stake.objects.filter(locked_from__lt=day + DAY, locked_until__gt=day).values_list(
            "organisation_id", flat=True
        )
        keys |= {(o, K.PARTICIPANT, currency) for o in orgs}
    accounts_ensure(keys)


def _staking_reward_entries(run: SettlementRun, *, now: datetime) -> list[EntrySpec]:
    """Per day: the share of the day's platform fees moves to the staking pool; the pool (with whatever no
    staker could take on earlier days) is paid to the day's stakers pro rata to stake x seconds locked."""
    from ..models import JournalEntry

    currency = settings.SETTLEMENT_CURRENCY
    share_pct = market_parameter("staking_reward_share_pct")
    acct = accounts_ensure({(None, K.FEES, currency), (None, K.STAKING_POOL, currency)})
    fees_acct, pool_acct = acct[(None, K.FEES, currency)], acct[(None, K.STAKING_POOL, currency)]
    # The pool's row lock serialises runs paying from it, so a carried-over balance is paid once.
    pool_balance = LedgerAccount.objects.select_for_update().get(pk=pool_acct).balance
    out = []
    for day in _days_in(run, now):
        stamp = day.date().isoformat()
        fees = day_platform_fees(day, currency=currency)
        share = fee_share(fees, share_pct)
        fund_key = f"staking_pool:day:{stamp}"
        if share > 0 and not JournalEntry.objects.filter(business_key=fund_key).exists():
            memo = f"Staking pool: {share_pct} % of {fees} platform fees, {stamp}"
            out.append(EntrySpec(fund_key, memo, [(fees_acct, currency, -share), (pool_acct, currency, share)], []))
            pool_balance += share
        key = f"staking_reward:day:{stamp}"
        if JournalEntry.objects.filter(business_key=key).exists():
            continue
        stakes = Stake.objects.filter(Q(locked_from__lt=day + DAY) & Q(locked_until__gt=day), amount__gt=0)
        weights = defaultdict(Decimal)
        for s in stakes:
            seconds = (min(s.locked_until, day + DAY) - max(s.locked_from, day)).total_seconds()
            weights[s.organisation_id] += s.amount * Decimal(int(seconds))
        shares = assets.largest_remainder(pool_balance, sorted(weights.items()))
        if not shares:
            continue  # nobody staked: the pool carries over
        payees = accounts_ensure({(o, K.PARTICIPANT, currency) for o in shares})
        memo = f"Staking rewards: pool of {pool_balance} {currency}, {stamp}"
        legs = [(pool_acct, currency, -pool_balance)]
        items = []
        for org, amount in sorted(shares.items()):
            if amount > 0:
                legs.append((payees[(org, K.PARTICIPANT, currency)], currency, amount))
                items.append(
                    ItemSpec(
                        business_key=f"{key}:org:{org}",
                        kind=I.STAKING_REWARD,
                        payee_id=org,
                        asset=currency,
                        amount=amount,
                        quantity_kwh=Decimal(0),
                        delivery_start=day,
                        memo=memo,
                    )
                )
        out.append(EntrySpec(key, memo, legs, items))
        pool_balance = Decimal("0")
    return out
