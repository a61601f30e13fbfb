"""The seven workflow steps end to end (the demo's scenario, smaller), with the numbers a user would check."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest

import demo
from accounts.models import GridZone, Membership
from accounts.selectors import zone_with_descendant_ids
from activation.models import (
    DispatchSignal,
    DREvent,
    EventPerformance,
    EventVerification,
    Penalty,
    Reservation,
    VerificationInterval,
)
from assessment.models import FlexibilityAssessment
from market.models import Auction, Award, ClearingRun, FlexibilityOffer, FlexibilityRequest, MarketOrder
from market.services.auctions import clearing_rerun
from settlement.models import JournalEntry, LedgerAccount, PeriodAnchor, Posting, SettlementItem, SettlementRun
from settlement.selectors import ledger_is_balanced
from settlement.services.anchoring import chain_client, period_leaf_values, tree_for_values


def _run(world):
    return demo.market_day_run(world=world, day=world.day)


@pytest.mark.django_db(transaction=True)
def test_seven_steps_end_to_end(small_world):
    result = _run(small_world)
    window_start, window_end = demo.event_window(small_world.day)

    # 2. every premise assessed for the window, capacity = what its registered devices deliver (ADR 0029),
    # capped by its forecast demand.
    assessments = FlexibilityAssessment.objects.filter(window_start=window_start)
    assert assessments.count() == 6
    for a in assessments:
        devices_kw = sum(Decimal(r["kw"]) for r in a.breakdown if r["device"] and r["channel"] != "manual")
        assert a.method == "devices" and a.capacity_kw == min(devices_kw, a.baseline_kw)
        assert a.capacity_kw > 0

    # 3-4. one offer per premise; each substation request cleared in merit order at a uniform price.
    assert result.offers == 6 == FlexibilityOffer.objects.count()
    assert result.requests == 2
    for request in FlexibilityRequest.objects.all():
        assert request.status == FlexibilityRequest.Status.CLEARED
        run = ClearingRun.objects.get(request=request)
        awards = list(Award.objects.filter(request=request))
        assert sum(a.kw for a in awards) == run.awarded_kw <= request.kw
        for award in awards:
            assert award.offer.price_per_mwh <= award.clearing_price_per_mwh == run.clearing_price_per_mwh
            assert award.clearing_price_per_mwh <= request.max_price_per_mwh
        # Merit order: no offer left out is cheaper than an accepted one.
        accepted = {a.offer_id for a in awards}
        left_out = FlexibilityOffer.objects.filter(premise__grid_zone__parent=request.zone).exclude(pk__in=accepted)
        assert all(o.price_per_mwh >= run.clearing_price_per_mwh for o in left_out)
    assert result.awarded_kw == sum(a.kw for a in Award.objects.exclude(request=None)) > 0

    # 4b. the day-ahead auction: the operator's congestion auction for a substation, hourly over the local day;
    # the consumers there and the aggregator's portfolio offer for the morning hours, the operator bids; cleared
    # at gate closure at a uniform price per hour (the marginal accepted offer's), one award per member resource.
    auction = Auction.objects.get(market="day_ahead", zone__code=demo.AUCTION_ZONE)
    assert auction.status == Auction.Status.CLEARED
    run = auction.clearing_run
    assert clearing_rerun(run=run).identical
    step = timedelta(hours=1)
    first, last = demo.auction_window(small_world.day)
    # Each hour, each seller offers its resources there with their accredited kW (the window's assessment: no
    # event verified yet, so no derate); a household alone is below the 1 kW minimum, the aggregator pools its.
    sellers: dict[int, dict[int, Decimal]] = {}
    inside = zone_with_descendant_ids(GridZone.objects.filter(code=demo.AUCTION_ZONE))
    for p in (p for p in small_world.premises if p.grid_zone_id in inside):
        kw = FlexibilityAssessment.objects.get(premise=p, window_start=first, window_end=last).capacity_kw
        if kw > 0:
            sellers.setdefault(p.aggregator_id or p.organisation_id, {})[p.pk] = kw
    expected = {seller: members for seller, members in sellers.items() if sum(members.values()) >= 1}
    assert expected
    sells = list(MarketOrder.objects.filter(auction=auction, side="sell"))
    buys = list(MarketOrder.objects.filter(auction=auction, side="buy"))
    assert {o.delivery_start for o in sells} == {o.delivery_start for o in buys} == {first, first + step}
    for hour in (first, first + step):
        offered = {
            o.organisation_id: dict(o.members.values_list("premise_id", "kw"))
            for o in sells
            if o.delivery_start == hour
        }
        assert offered == expected
        [bid] = [o for o in buys if o.delivery_start == hour]
        total = sum(kw for members in expected.values() for kw in members.values())
        assert bid.kw == (total * demo.AUCTION_DEMAND_SHARE).quantize(Decimal("0.001"))
    auction_awards = list(Award.objects.filter(clearing_run=run))
    assert auction_awards and {a.market for a in auction_awards} == {"day_ahead"}
    assert result.auction.orders == len(sells) + len(buys)
    assert result.auction.awarded_kw == sum(a.kw for a in auction_awards) == run.awarded_kw > 0
    assert len(result.auction.awards) == len(auction_awards)
    assert result.auction.intervals and all(first <= start < last for start, _, _ in result.auction.intervals)
    for start, price, volume in result.auction.intervals:
        in_hour = [a for a in auction_awards if a.window_start == start]
        assert sum(a.kw for a in in_hour) == volume
        assert {(a.clearing_price_per_mwh, a.window_end, a.buyer_id) for a in in_hour} == {
            (price, start + step, small_world.operator.pk)
        }
        k = str(int((start - auction.delivery_start) / step))
        accepted = [o for o in sells if k in run.outputs["accepted"].get(str(o.pk), {})]
        assert all(o.price_per_mwh <= price for o in accepted) and max(o.price_per_mwh for o in accepted) == price
        for o in accepted:  # the order's accepted kW split over its members, every award to a member of it
            mine = [a for a in in_hour if a.order_id == o.pk]
            assert sum(a.kw for a in mine) == Decimal(run.outputs["accepted"][str(o.pk)][k])
            assert {a.premise_id for a in mine} <= set(o.members.values_list("premise_id", flat=True))
            assert {a.seller_id for a in mine} == {o.organisation_id}
    # the awards lie within the local market day, which the day's settlement run covers
    day_start, day_end = demo.local_day_bounds(small_world.day)
    assert all(day_start <= a.window_start and a.window_end <= day_end for a in auction_awards)

    # 4c. the operator's day-ahead capacity auction for the ISO zone's late morning: only sellers whose resources
    # there reach the product's 100 kW minimum offer (FERC Order 2222; the rule is not lowered), each award is
    # held as a reservation (ADR 0011) for its buyer, the first hour's reservations are called with notice.
    capacity = Auction.objects.get(market="day_ahead", product=demo.RESERVATION_PRODUCT)
    assert capacity.status == Auction.Status.CLEARED and clearing_rerun(run=capacity.clearing_run).identical
    cap_sells = MarketOrder.objects.filter(auction=capacity, side="sell")
    assert cap_sells.exists() and all(o.kw >= 100 for o in cap_sells)
    reserved_first, reserved_end = demo.reservation_window(small_world.day)
    reserved = list(Reservation.objects.select_related("award"))
    cap_awards = list(Award.objects.filter(clearing_run=capacity.clearing_run))
    assert reserved and {r.award_id for r in reserved} == {a.pk for a in cap_awards}
    for r in reserved:
        a = r.award
        assert (r.reserved_kw, r.window_start, r.window_end) == (a.kw, a.window_start, a.window_end)
        assert r.availability_price_per_mwh == a.clearing_price_per_mwh <= demo.RESERVATION_MAX_PRICE
        assert r.buyer_id == small_world.operator.pk and reserved_first <= r.window_start < reserved_end
    assert len(result.reservations) == len(reserved)
    calls = list(DREvent.objects.filter(reservation__isnull=False))
    first_hour = [r for r in reserved if r.window_start == reserved_first]
    assert first_hour and {e.reservation_id for e in calls} == {r.pk for r in first_hour}
    assert all((e.target_kw, e.start, e.end) == (e.reservation.reserved_kw, e.reservation.window_start,
               e.reservation.window_end) for e in calls)  # fmt: skip
    assert [c[0] for c in result.calls] == sorted(e.pk for e in calls)
    assert any(r.window_start > reserved_first for r in reserved), "a later hour stays reserved, uncalled"

    # 5. each energy/congestion award became an event with one dispatch signal, each call one more; the day's
    # clock completed them.
    assert DREvent.objects.filter(award__isnull=False).count() == len(Award.objects.exclude(reservation__isnull=False))
    assert DREvent.objects.count() == result.events + len(calls)
    assert DispatchSignal.objects.count() == result.events + len(calls)
    # The demo's devices are the registry's: every command went to a device of the event's premise, over its
    # own channel, and the summary counts them per channel and kind.
    from activation.models import DeviceDispatch

    dispatched = list(DeviceDispatch.objects.select_related("device", "event"))
    assert dispatched and all(
        d.device.premise_id == d.event.premise_id and d.channel == d.device.control_channel for d in dispatched
    )
    assert 0 < sum(n for n, _ in result.commands.values()) <= len(dispatched)
    assert {c for c, _ in result.commands} <= {"mqtt", "ocpp", "openadr_ven", "vendor_api"}
    assert set(DREvent.objects.values_list("status", flat=True)) == {DREvent.Status.COMPLETED}

    # 6. delivered = baseline - actual netted over the event, never negative (each interval kept signed); 8
    # quarter-hours per 2-hour (request) event, 4 per hourly (auction) event.
    auction_events = set(DREvent.objects.filter(award__clearing_run=run).values_list("pk", flat=True))
    assert len(auction_events) == len(auction_awards)
    for v in EventVerification.objects.all():
        rows = list(VerificationInterval.objects.filter(verification=v))
        assert len(rows) == (4 if v.event_id in auction_events | {e.pk for e in calls} else 8)
        for row in rows:
            assert row.delivered_kwh == row.baseline_kwh - row.actual_kwh
        assert v.delivered_kwh == max(sum(r.delivered_kwh for r in rows), Decimal("0"))
    awarded = EventVerification.objects.filter(event__award__isnull=False)  # a call's is the reservation's
    assert result.delivered_kwh == sum(v.delivered_kwh for v in awarded) > 0
    # the generator's true reduction over the same events, to compare the measurement with
    assert result.true_kwh > 0 and result.measured_vs_true_pct is not None

    # 7. the day's settlement run (the daily run over the local market day) pays everything, once: per event the
    # performance payment = min(delivered, dispatched kWh) x clearing price / 1000, half-up to cents, to the owner
    # (an event that delivered nothing pays nothing), the platform fee (2 %, half-up) charged to the operator,
    # tokens; the penalties of events delivered below the program's threshold are charged at verification.
    run = result.run
    assert (run.window_start, run.window_end) == demo.local_day_bounds(small_world.day)
    assert run.trigger == SettlementRun.Trigger.DAILY
    items = list(SettlementItem.objects.select_related("event__verification", "award", "run"))
    I = SettlementItem.Kind  # noqa: E741
    # ADR 0027: each event was settled by the event path as soon as its verification committed, within a minute
    # (the daily run is the sweep and found them paid); penalties are charged at verification
    assert {i.run.trigger for i in items if i.event_id and i.kind != I.PENALTY} == {SettlementRun.Trigger.EVENT}
    # (the reservations' availability and tokens are the UTC day's run's, 7b)
    assert {i.run_id for i in items if not i.event_id} <= {run.pk, result.reservation_run.pk}
    assert result.settled_events and result.settlement_lag is not None
    assert timedelta(0) <= result.settlement_lag < timedelta(minutes=1)
    performance = [i for i in items if i.kind == I.PERFORMANCE]
    # an award the aggregator sold with a member's premise pays member share + aggregator fee instead (ADR 0024)
    split = [i for i in items if i.business_key.split(":", 1)[-1].startswith("event:")]
    split = [i for i in split if i.kind in (I.MEMBER_SHARE, I.AGGREGATOR_FEE)]
    penalties = [i for i in items if i.kind == I.PENALTY]
    delivered = {v.event_id: v.delivered_kwh for v in EventVerification.objects.all()}
    assert {i.event_id for i in performance + split} == {e for e, kwh in delivered.items() if kwh > 0}
    for item in performance:
        v = item.event.verification  # performance-2: paid up to the dispatched quantity
        assert item.quantity_kwh == min(v.delivered_kwh, v.committed_kwh)
        # an award's event at its clearing price, a reservation's call at the reservation's energy price
        price = item.award.clearing_price_per_mwh if item.award_id else item.event.reservation.energy_price_per_mwh
        expected = (item.quantity_kwh * price / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert item.amount == expected
        assert item.payee_id == item.event.premise.organisation_id
    recorded = {p.event_id: p.amount for p in Penalty.objects.all()}
    assert {i.event_id: -i.amount for i in penalties} == recorded
    fees = [i for i in items if i.kind == I.PLATFORM_FEE]
    perf_of = {i.event_id: i.amount for i in performance}
    for i in split:
        perf_of[i.event_id] = perf_of.get(i.event_id, Decimal("0")) + i.amount
    for fee in fees:
        assert fee.payee == small_world.operator
        assert -fee.amount == (perf_of[fee.event_id] * 2 / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    usd = [i for i in items if i.currency == "USD"]
    to_participants = [i for i in usd if i.kind != I.PLATFORM_FEE]
    paid = sum(i.amount for i in performance + split)
    assert paid > 0 and result.payments == len(to_participants)
    assert result.paid == sum(i.amount for i in to_participants)
    assert result.fees == -sum(i.amount for i in fees)
    assert result.tokens and set(result.tokens) <= {"FLEX-PRF", "FLEX-NRG", "FLEX-GOV", "FLEX-CAP", "FLEX-AVL"}
    assert result.member_shares == sum((i.amount for i in items if i.kind == I.MEMBER_SHARE), Decimal("0"))
    assert result.aggregator_fees == sum((i.amount for i in items if i.kind == I.AGGREGATOR_FEE), Decimal("0"))

    def total(kind):
        return sum(p.amount for p in Posting.objects.filter(account__kind=kind, asset="USD"))

    K = LedgerAccount.Kind
    assert total(K.PARTICIPANT) + total(K.RECEIVABLE) == result.paid  # net: payments less penalties
    operator_paid = [
        i
        for i in usd
        if i.kind in (I.PERFORMANCE, I.OVER_DELIVERY, I.SHIFT_CREDIT, I.MEMBER_SHARE, I.AGGREGATOR_FEE, I.CAPACITY)
    ]  # CAPACITY: the reservations' availability payments
    assert total(K.OPERATOR_PAYABLE) == -sum(i.amount for i in operator_paid) - result.fees
    # the local day's run has no whole UTC day, so no pool funding; the UTC day's run (7b) moves the configured
    # shares of that day's platform fees to the staking and reward pools (no stakers, no contracts: they keep it)
    assert total(K.FEES) + total(K.STAKING_POOL) + total(K.REWARD_POOL) == result.fees
    assert total(K.PENALTY_POOL) == sum(recorded.values(), Decimal("0"))
    assert ledger_is_balanced() and result.ledger_balanced

    # 7b. the platform's daily run over the UTC day holding the reservations (availability is settled per whole
    # UTC day, reservation-availability-1) pays their availability and mints to the resource's owner Capacity
    # tokens (capacity-token-1: reserved kW x hours held x the day's availability factor, rounded down) and
    # Availability tokens (availability-token-1: one per honoured hour). The UTC day is fully metered (history
    # before the market day, the day's readings after), so the factor is 1, or 0 for a call not honoured.
    rrun = result.reservation_run
    utc_day = reserved_first.replace(hour=0, minute=0)
    assert (rrun.window_start, rrun.window_end) == (utc_day, utc_day + timedelta(days=1))
    honoured = dict(EventPerformance.objects.filter(event__in=calls).values_list("event__reservation_id", "available"))
    cap_tokens, avl_tokens = Decimal("0"), Decimal("0")
    for r in reserved:
        factor = Decimal(1) if honoured.get(r.pk, True) else Decimal(0)
        hours = Decimal((r.window_end - r.window_start).total_seconds()) / 3600
        kinds = {
            i.kind: i
            for i in SettlementItem.objects.filter(
                business_key__contains=f":reservation:{r.pk}:day:", kind__in=[I.CAPACITY_TOKEN, I.AVAILABILITY]
            )
        }
        cap = (r.reserved_kw * hours * factor).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        if cap:
            assert kinds[I.CAPACITY_TOKEN].amount == cap and kinds[I.CAPACITY_TOKEN].currency == "FLEX-CAP"
            assert kinds[I.CAPACITY_TOKEN].payee_id == r.premise.organisation_id
            assert kinds[I.CAPACITY_TOKEN].quantity_kwh == r.reserved_kw * hours
        if factor:
            assert kinds[I.AVAILABILITY].amount == hours and kinds[I.AVAILABILITY].currency == "FLEX-AVL"
        else:
            assert I.CAPACITY_TOKEN not in kinds and I.AVAILABILITY not in kinds
        cap_tokens += cap
        avl_tokens += hours * factor
    uncalled = [r for r in reserved if r.pk not in honoured]
    assert uncalled and all(r.reserved_kw >= 1 for r in uncalled)  # at least one reservation at factor 1
    assert result.tokens["FLEX-CAP"] == cap_tokens > 0
    assert result.tokens["FLEX-AVL"] == avl_tokens > 0

    # The hour's settlements hashed into a Merkle root; the root on the contract equals the one recomputed
    # from the stored settlement rows.
    anchors = list(PeriodAnchor.objects.select_related("period", "deployment"))
    assert anchors and all(a.status == PeriodAnchor.Status.CONFIRMED for a in anchors)
    assert sum(a.leaf_count for a in anchors) == len([i for i in items])
    client = chain_client()
    for anchor in anchors:
        recomputed = tree_for_values(period_leaf_values(anchor.period)).root
        assert client.contract_address == anchor.deployment.address
        on_chain, leaf_count, _ = client.anchored_root(int(anchor.period.start.timestamp()))
        assert on_chain == recomputed
        assert "0x" + on_chain.hex() == anchor.root
        assert leaf_count == anchor.leaf_count
        assert anchor.tx_hash.startswith("0x") and len(anchor.tx_hash) == 66

    # 8. The day ends with one consumer claiming its tokens on chain with its own wallet (SIWE-linked).
    claim = result.claim
    assert claim is not None and claim.claims, "a demo consumer holding tokens claims them"
    assert all(tx.startswith("0x") and gas > 0 for _, tx, gas in claim.claims)
    held = {asset: claim.balances.get(asset, 0) for asset, _, _ in claim.claims}
    assert all(units > 0 for units in held.values())
    org = Membership.objects.get(user__email=claim.email, role=Membership.Role.CONSUMER).organisation
    claimed = {
        a: b for a, b in LedgerAccount.objects.filter(organisation=org, kind="claimed").values_list("asset", "balance")
    }
    assert {a: int(claimed[a] * 100) for a in held} == held  # the ledger counted what the chain minted

    # Running the day again pays nothing twice and anchors nothing twice.
    entries = JournalEntry.objects.count()
    again = _run(small_world)
    assert again.already_run
    assert again.auction == result.auction  # the auction is not run twice; its summary is read back
    assert Award.objects.count() == len(auction_awards) + result.awards + len(cap_awards)
    assert Reservation.objects.count() == len(reserved) and DREvent.objects.filter(
        reservation__isnull=False
    ).count() == len(calls)  # no reservation held twice, no hour called twice
    assert (again.reservations, again.calls, again.tokens) == (result.reservations, result.calls, result.tokens)
    assert JournalEntry.objects.count() == entries
    assert SettlementItem.objects.count() == len(items)
    assert PeriodAnchor.objects.count() == len(anchors)
    assert again.claim.email == claim.email and not again.claim.claims  # nothing claimable twice


def test_demo_auction_pools_households_in_the_aggregators_portfolio(small_world):
    """Two households under the auction's substation, each below the 1 kW minimum, enrolled with the
    aggregator: it offers them as one portfolio order, and the award of that order is split over both."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.consents import consent_grant, enrolment_create
    from accounts.models import Consent
    from market.tests.factories import accredit

    users = get_user_model().objects
    day = small_world.day
    first, last = demo.auction_window(day)
    household, enrolled, business, factory = (small_world.premises[i] for i in (0, 1, 4, 5))  # under sub-east-1
    assert household.aggregator_id is None and enrolled.aggregator_id == small_world.aggregator.pk
    consent_grant(
        premise=household,
        aggregator=small_world.aggregator,
        by=users.get(email="consumer01@demo.flex"),
        scopes=[Consent.Scope.INTERVAL_READINGS, Consent.Scope.DEVICE_CONTROL],
        expires_at=timezone.now() + timedelta(days=365),
        terms=small_world.aggregator.commercial_terms.get(),
    )
    enrolment_create(premise=household, aggregator=small_world.aggregator, by=users.get(email="aggregator@demo.flex"))
    household.refresh_from_db(fields=["aggregator"])
    capacity = {household: "0.6", enrolled: "0.6", business: "1", factory: "0"}
    for premise, kw in capacity.items():  # the window's assessment, which the demo's assessment step reuses
        accredit(premise, first, last, kw)

    auction = demo.day_ahead_auction_run(world=small_world, day=day)
    assert demo.day_ahead_auction_run(world=small_world, day=day) == auction  # again: nothing more
    assert auction.status == Auction.Status.CLEARED and MarketOrder.objects.filter(auction=auction).count() == 6
    pooled = {household.pk: Decimal("0.6"), enrolled.pk: Decimal("0.6")}
    for hour in (first, first + timedelta(hours=1)):
        orders = MarketOrder.objects.filter(auction=auction, delivery_start=hour)
        offered = {
            o.organisation_id: dict(o.members.values_list("premise_id", "kw")) for o in orders.filter(side="sell")
        }
        assert offered == {small_world.aggregator.pk: pooled, business.organisation_id: {business.pk: Decimal("1")}}
        # the operator bids for 60 % of the 2.2 kW offered: more than the business alone, so the portfolio trades
        assert orders.get(side="buy").kw == Decimal("1.320")
        awards = dict(
            Award.objects.filter(clearing_run__auction=auction, window_start=hour).values_list("premise_id", "kw")
        )
        assert sum(awards.values()) == Decimal("1.320")
        assert awards[household.pk] == awards[enrolled.pk] > 0  # equal members, equal shares
