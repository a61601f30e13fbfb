"""Collateral that backs orders and awards until their delivery is verified and settled (ADR 0025).

Rules (sources: PJM Manual 18 §8.4 and the Capacity Performance non-performance charge, CAISO Tariff §12
credit requirements / the ISO's "Credit Policy": collateral posted before a position is taken, held until the
position is settled, forfeited in part on non-performance):

* **Locked per order and per award.** An open sell order of a tier with collateral locks its open kW x the FLEX
  per kW fixed on it at entry (``market.MarketOrder.collateral_per_kw``, the governed ``collateral_per_kw_<tier>``
  then). What it sells moves to its awards at the same rate: an award locks its kW x that rate until its
  :class:`~settlement.models_collateral.CollateralSettlement` exists (the awards of one order in different
  intervals back one commitment: they lock the largest kW of any interval once).
* **Never twice.** ``free = staked - locked`` (staked: every stake still locked, after slashes). An order is
  refused when ``free`` does not cover it (``market.services.order_checks.check_collateral``), a stake is not
  released while the rest would not cover what is locked (:mod:`settlement.services.staking`); both read the
  position with the organisation's :class:`~settlement.models_collateral.CollateralAccount` row locked.
* **Slashed automatically.** An event of an award with collateral that delivered less than
  ``non_delivery_threshold`` x its committed kWh slashes ``slashing_rate`` x the award's collateral
  (``assets.tokens``: down to 0.01) — rule ``collateral-slash-award-1`` for the award's own event,
  ``collateral-slash-call-1`` for a call of its reservation — moved from the staker's ``staked`` accounts
  (oldest stake first) to the platform's penalty pool, once per (award, event).
* **Released after settlement**, never before: once the award's window has ended and every event of it (its
  scheduled event, or every call of its reservation; none: nothing to verify) is verified; the settlement run
  does it for every award due (:func:`collateral_settle_due`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_UP, Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from activation.models import DREvent, EventVerification
from flexplatform.errors import ApplicationError, Conflict
from market.hooks import CollateralPosition
from market.models import Award, MarketOrder

from .. import assets
from ..errors import SettlementError
from ..models import LedgerAccount, SettlementItem, Stake
from ..models_collateral import CollateralAccount, CollateralSettlement, CollateralSlash
from ..selectors import market_parameter
from .audit_trail import audit
from .ledger import account_for, journal_post, platform_account
from .payments import period_for

K = LedgerAccount.Kind
ZERO = Decimal("0")
RULES = {r.value: r for r in CollateralSlash.Rule}


class CollateralError(ApplicationError):
    code = SettlementError.COLLATERAL_INVALID


class CollateralUnsettled(Conflict):
    code = SettlementError.COLLATERAL_UNSETTLED


def collateral_account_lock(organisation_id: int) -> CollateralAccount:
    """The organisation's collateral row, created if new, locked until the transaction ends (INSERT … ON
    CONFLICT DO NOTHING first: two first orders wait for each other instead of failing)."""
    CollateralAccount.objects.bulk_create([CollateralAccount(organisation_id=organisation_id)], ignore_conflicts=True)
    return CollateralAccount.objects.select_for_update().get(organisation_id=organisation_id)


def staked_total(organisation_id: int) -> Decimal:
    """Every stake of the organisation still locked (after slashes), in FLEX (all tokens count one for one)."""
    total = Stake.objects.filter(organisation_id=organisation_id, status=Stake.Status.LOCKED).aggregate(
        t=Sum("amount")
    )["t"]
    return (total or ZERO).quantize(assets.CENT)


def order_locks(organisation_id: int) -> list[tuple[MarketOrder, Decimal]]:
    """Open sell orders with collateral, each with what it locks (open kW x its FLEX per kW)."""
    orders = MarketOrder.objects.filter(
        organisation_id=organisation_id,
        side=MarketOrder.Side.SELL,
        status=MarketOrder.Status.OPEN,
        collateral_per_kw__gt=0,
        remaining_kw__gt=0,
    ).order_by("pk")
    return [(o, o.remaining_kw * o.collateral_per_kw) for o in orders]


def award_locks(organisation_id: int) -> list[tuple[Award, Decimal]]:
    """Unsettled awards with collateral, each with its collateral (kW x the order's FLEX per kW)."""
    awards = (
        Award.objects.filter(
            seller_id=organisation_id, order__collateral_per_kw__gt=0, collateral_settlement__isnull=True
        )
        .select_related("order", "premise")
        .order_by("window_start", "pk")
    )
    return [(a, a.kw * a.order.collateral_per_kw) for a in awards]


def awards_locked(locks: list[tuple[Award, Decimal]]) -> Decimal:
    """What unsettled awards lock: per order, the largest sum of its awards in any one interval (the awards of a
    block order in successive intervals back one commitment of kW)."""
    per_interval: dict[tuple[int, datetime], Decimal] = defaultdict(Decimal)
    for award, amount in locks:
        per_interval[(award.order_id, award.window_start)] += amount
    per_order: dict[int, Decimal] = defaultdict(Decimal)
    for (order_id, _), amount in per_interval.items():
        per_order[order_id] = max(per_order[order_id], amount)
    return sum(per_order.values(), ZERO)


def collateral_position(organisation, *, lock: bool = False) -> CollateralPosition:
    """Staked, and locked by open orders and unsettled awards (the market's collateral provider,
    ``market.hooks.register_collateral_provider``). ``lock=True`` locks the organisation's collateral row first:
    the caller's transaction then sees every commit that changed it."""
    org_id = organisation.pk
    if lock:
        collateral_account_lock(org_id)
    locked = sum((a for _, a in order_locks(org_id)), ZERO) + awards_locked(award_locks(org_id))
    return CollateralPosition(staked=staked_total(org_id), locked=locked.quantize(assets.CENT, rounding=ROUND_UP))


def _award_with_collateral(award_id: int) -> Award:
    award = Award.objects.select_related("order", "seller").filter(pk=award_id).first()
    if award is None:
        raise CollateralError(f"Unknown award {award_id}.", fields={"award": ["Unknown award."]})
    if award.order is None or award.order.collateral_per_kw <= 0:
        raise CollateralError(
            f"Award {award_id} is backed by no collateral: nothing to slash or release.",
            fields={"award": ["No collateral backs this award."]},
        )
    return award


def _events_of(award: Award) -> list[DREvent]:
    return list(
        DREvent.objects.filter(Q(award=award) | Q(reservation__award=award))
        .exclude(status=DREvent.Status.CANCELLED)
        .order_by("start", "pk")
    )


def slash_rule_for(award: Award, event: DREvent) -> str | None:
    """The rule that governs slashing ``award``'s collateral for ``event``, or None if the event is not
    the award's."""
    if event.award_id == award.pk:
        return CollateralSlash.Rule.AWARD.value
    if event.reservation_id is not None and event.reservation.award_id == award.pk:
        return CollateralSlash.Rule.CALL.value
    return None


def collateral_slash(
    *, award_id: int, event_id: int, rule: str | None, run_id: int | None = None, now: datetime | None = None
) -> CollateralSlash:
    """Slash the collateral of ``award_id`` for the under-delivered ``event_id`` under ``rule``: refused without
    a rule, with a rule that does not govern this event, or when the verified delivery reaches the threshold.
    Once per (award, event): a repeat returns the slash already posted."""
    now = now or timezone.now()
    if not rule:
        raise CollateralError(
            "A slash names its rule.", fields={"rule": [f"One of {', '.join(RULES)}; no slash without a rule."]}
        )
    if rule not in RULES:
        raise CollateralError(f"Unknown slashing rule {rule!r}.", fields={"rule": [f"One of {', '.join(RULES)}."]})
    award = _award_with_collateral(award_id)
    event = DREvent.objects.select_related("reservation").filter(pk=event_id).first()
    if event is None:
        raise CollateralError(f"Unknown event {event_id}.", fields={"event": ["Unknown event."]})
    governing = slash_rule_for(award, event)
    if governing != rule:
        raise CollateralError(
            f"Rule {rule} does not govern event {event_id} of award {award_id}"
            + (f" (rule {governing} does)." if governing else ": the event is not the award's."),
            fields={"rule": [f"Event {event_id} is governed by {governing or 'no rule of this award'}."]},
        )
    key = f"collateral-slash:award:{award.pk}:event:{event.pk}"
    existing = CollateralSlash.objects.filter(business_key=key).first()
    if existing is not None:
        return existing
    verification = EventVerification.objects.filter(event=event).first()
    if verification is None:
        raise CollateralUnsettled(
            f"Event {event_id} is not verified: no slash before its delivery is measured.",
            fields={"event": ["Not verified yet."]},
        )
    threshold, rate = market_parameter("non_delivery_threshold"), market_parameter("slashing_rate")
    committed, delivered = verification.committed_kwh, verification.delivered_kwh
    if committed <= 0 or delivered >= committed * threshold:
        raise CollateralError(
            f"Event {event_id} delivered {delivered} kWh of {committed} kWh committed, not below "
            f"{threshold} x the commitment: no rule slashes it.",
            fields={"rule": ["Delivery reached the non-delivery threshold."]},
        )
    per_kw = award.order.collateral_per_kw
    collateral = assets.tokens(award.kw * per_kw)
    with transaction.atomic():
        collateral_account_lock(award.seller_id)
        existing = CollateralSlash.objects.filter(business_key=key).first()
        if existing is not None:
            return existing
        amount = min(assets.tokens(rate * collateral), assets.tokens(staked_total(award.seller_id)))
        if amount <= 0:
            raise CollateralError(
                f"Nothing to slash: {rate} x {collateral} FLEX rounds to 0, or nothing is staked.",
                fields={"rule": ["The slash would be zero."]},
            )
        taken = _take_from_stakes(award.seller_id, amount)
        slash = CollateralSlash(
            business_key=key,
            rule=rule,
            organisation_id=award.seller_id,
            award=award,
            event=event,
            award_kw=award.kw,
            per_kw=per_kw,
            collateral=collateral,
            committed_kwh=committed,
            delivered_kwh=delivered,
            threshold=threshold,
            slashing_rate=rate,
            amount=amount,
            run_id=run_id,
        )
        legs = []
        for asset, part in sorted(taken.items()):
            legs += [
                (account_for(organisation=award.seller, kind=K.STAKED, asset=asset), -part),
                (platform_account(K.PENALTY_POOL, asset), part),
            ]
        slash.journal_entry = journal_post(business_key=key, memo=slash.memo[:300], legs=legs)
        slash.save()
        for asset, part in sorted(taken.items()):
            SettlementItem.objects.create(
                business_key=f"{key}:{asset}",
                kind=SettlementItem.Kind.SLASHING,
                payee_id=award.seller_id,
                premise_id=award.premise_id,
                event=event,
                award=award,
                quantity_kwh=delivered,
                price_per_mwh=0,
                amount=-part,
                currency=asset,
                delivery_start=event.start,
                period=period_for(delivery_start=event.start, now=now),
                journal_entry=slash.journal_entry,
                run_id=run_id,
                memo=slash.memo[:300],
            )
        audit(
            action="collateral.slashed",
            obj=slash,
            organisation=award.seller,
            amount=amount,
            rule=rule,
            award=award.pk,
            event=event.pk,
        )
    return slash


def _take_from_stakes(organisation_id: int, amount: Decimal) -> dict[str, Decimal]:
    """Reduce the organisation's locked stakes by ``amount``, oldest first (rows locked in pk order); the part
    taken per asset."""
    taken: dict[str, Decimal] = defaultdict(Decimal)
    left = amount
    stakes = Stake.objects.select_for_update().filter(
        organisation_id=organisation_id, status=Stake.Status.LOCKED, amount__gt=0
    )
    for stake in stakes.order_by("pk"):
        part = min(stake.amount, left)
        stake.amount -= part
        stake.save(update_fields=["amount"])
        taken[stake.asset] += part
        left -= part
        if left <= 0:
            break
    return dict(taken)


def collateral_award_settle(*, award_id: int, run_id: int | None = None, now: datetime | None = None):
    """Settle an award's collateral: refused before its window has ended and every event of it is verified;
    then slash each under-delivered event by its rule and release the collateral. Once: a repeat returns the
    settlement already made."""
    now = now or timezone.now()
    award = _award_with_collateral(award_id)
    done = CollateralSettlement.objects.filter(award=award).first()
    if done is not None:
        return done
    if award.window_end > now:
        raise CollateralUnsettled(
            f"Award {award_id} delivers until {award.window_end.isoformat()}: its collateral stays locked until "
            "its delivery is verified and settled.",
            fields={"award": ["Delivery not over."]},
        )
    events = _events_of(award)
    verified = dict(EventVerification.objects.filter(event__in=events).values_list("event_id", "delivered_kwh"))
    missing = [e.pk for e in events if e.pk not in verified]
    if missing:
        raise CollateralUnsettled(
            f"Events {missing} of award {award_id} are not verified: its collateral stays locked until they are.",
            fields={"award": [f"Unverified events: {missing}."]},
        )
    threshold = market_parameter("non_delivery_threshold")
    with transaction.atomic():
        collateral_account_lock(award.seller_id)
        done = CollateralSettlement.objects.filter(award=award).first()
        if done is not None:
            return done
        slashed = ZERO
        committed = dict(EventVerification.objects.filter(event__in=events).values_list("event_id", "committed_kwh"))
        for event in events:
            if committed[event.pk] > 0 and verified[event.pk] < committed[event.pk] * threshold:
                try:
                    with transaction.atomic():  # a savepoint: a slash of nothing (nothing staked) is skipped
                        slash = collateral_slash(
                            award_id=award.pk,
                            event_id=event.pk,
                            rule=slash_rule_for(award, event),
                            run_id=run_id,
                            now=now,
                        )
                except CollateralError:
                    continue
                slashed += slash.amount
        per_kw = award.order.collateral_per_kw
        settlement = CollateralSettlement.objects.create(
            award=award,
            organisation_id=award.seller_id,
            kw=award.kw,
            per_kw=per_kw,
            collateral=assets.tokens(award.kw * per_kw),
            slashed=slashed,
            events=len(events),
            run_id=run_id,
            settled_at=now,
        )
        audit(
            action="collateral.released",
            obj=settlement,
            organisation=award.seller,
            amount=settlement.collateral,
            slashed=slashed,
        )
    return settlement


def collateral_settle_due(*, run_id: int | None, until: datetime, now: datetime | None = None) -> int:
    """Settle the collateral of every award whose window ended by ``until`` and whose events are all verified
    (the others stay locked for a later run). Returns how many were settled."""
    now = now or timezone.now()
    due = (
        Award.objects.filter(
            order__collateral_per_kw__gt=0, collateral_settlement__isnull=True, window_end__lte=min(until, now)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    settled = 0
    for award_id in due:
        try:
            collateral_award_settle(award_id=award_id, run_id=run_id, now=now)
        except CollateralUnsettled:
            continue
        settled += 1
    return settled
