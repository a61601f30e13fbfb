"""The seven workflow steps end to end (the demo's scenario, smaller), with the numbers a user would check."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

import demo
from accounts.models import GridZone, Membership
from accounts.selectors import zone_with_descendant_ids
from activation.models import DispatchSignal, DREvent, EventVerification, Penalty, VerificationInterval
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

    # 2. every premise assessed for the window, capacity = segment share of its baseline demand.
    assessments = FlexibilityAssessment.objects.filter(window_start=window_start)
    assert assessments.count() == 6
    for a in assessments:
        share = {"residential": Decimal("0.30"), "commercial": Decimal("0.20"), "industrial": Decimal("0.15")}
        assert a.capacity_kw == (a.baseline_kw * share[a.premise.segment]).quantize(
            Decimal("0.001"), rounding="ROUND_DOWN"
        )
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

    # 5. each award became an event with one dispatch signal; the day's clock completed them.
    assert DREvent.objects.count() == Award.objects.count() == result.events
    assert DispatchSignal.objects.count() == result.events
    assert set(DREvent.objects.values_list("status", flat=True)) == {DREvent.Status.COMPLETED}

    # 6. delivered = baseline - actual netted over the event, never negative (each interval kept signed); 8
    # quarter-hours per 2-hour (request) event, 4 per hourly (auction) event.
    auction_events = set(DREvent.objects.filter(award__clearing_run=run).values_list("pk", flat=True))
    assert len(auction_events) == len(auction_awards)
    for v in EventVerification.objects.all():
        rows = list(VerificationInterval.objects.filter(verification=v))
        assert len(rows) == (4 if v.event_id in auction_events else 8)
        for row in rows:
            assert row.delivered_kwh == row.baseline_kwh - row.actual_kwh
        assert v.delivered_kwh == max(sum(r.delivered_kwh for r in rows), Decimal("0"))
    assert result.delivered_kwh == sum(v.delivered_kwh for v in EventVerification.objects.all()) > 0
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
    assert {i.run_id for i in items if not i.event_id} <= {run.pk}
    assert result.settled_events and result.settlement_lag is not None
    assert timedelta(0) <= result.settlement_lag < timedelta(minutes=1)
    performance = [i for i in items if i.kind == I.PERFORMANCE]
    penalties = [i for i in items if i.kind == I.PENALTY]
    delivered = {v.event_id: v.delivered_kwh for v in EventVerification.objects.all()}
    assert {i.event_id for i in performance} == {e for e, kwh in delivered.items() if kwh > 0}
    for item in performance:
        v = item.event.verification  # performance-2: paid up to the dispatched quantity
        assert item.quantity_kwh == min(v.delivered_kwh, v.committed_kwh)
        expected = (item.quantity_kwh * item.award.clearing_price_per_mwh / 1000).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        assert item.amount == expected
        assert item.payee_id == item.event.premise.organisation_id
    recorded = {p.event_id: p.amount for p in Penalty.objects.all()}
    assert {i.event_id: -i.amount for i in penalties} == recorded
    fees = [i for i in items if i.kind == I.PLATFORM_FEE]
    perf_of = {i.event_id: i.amount for i in performance}
    for fee in fees:
        assert fee.payee == small_world.operator
        assert -fee.amount == (perf_of[fee.event_id] * 2 / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    usd = [i for i in items if i.currency == "USD"]
    to_participants = [i for i in usd if i.kind != I.PLATFORM_FEE]
    paid = sum(i.amount for i in performance)
    assert paid > 0 and result.payments == len(to_participants)
    assert result.paid == sum(i.amount for i in to_participants)
    assert result.fees == -sum(i.amount for i in fees)
    assert result.tokens and set(result.tokens) <= {"FLEX-PRF", "FLEX-NRG", "FLEX-GOV"}

    def total(kind):
        return sum(p.amount for p in Posting.objects.filter(account__kind=kind, asset="USD"))

    K = LedgerAccount.Kind
    assert total(K.PARTICIPANT) + total(K.RECEIVABLE) == result.paid  # net: payments less penalties
    operator_paid = [i for i in usd if i.kind in (I.PERFORMANCE, I.OVER_DELIVERY, I.SHIFT_CREDIT)]
    assert total(K.OPERATOR_PAYABLE) == -sum(i.amount for i in operator_paid) - result.fees
    assert total(K.FEES) == result.fees  # a day of local time: no whole UTC day, so no pool funding
    assert total(K.PENALTY_POOL) == sum(recorded.values(), Decimal("0"))
    assert ledger_is_balanced() and result.ledger_balanced

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
    assert Award.objects.count() == len(auction_awards) + result.awards
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
