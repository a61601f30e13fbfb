"""The seven workflow steps end to end (the demo's scenario, smaller), with the numbers a user would check."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from activation.models import DispatchSignal, DREvent, EventVerification, Penalty, VerificationInterval
from assessment.models import FlexibilityAssessment
from flexplatform import demo
from market.models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest
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
    assert result.awarded_kw == sum(a.kw for a in Award.objects.all()) > 0

    # 5. each award became an event with one dispatch signal; the day's clock completed them.
    assert DREvent.objects.count() == Award.objects.count() == result.events
    assert DispatchSignal.objects.count() == result.events
    assert set(DREvent.objects.values_list("status", flat=True)) == {DREvent.Status.COMPLETED}

    # 6. delivered = baseline - actual per interval, never negative; 8 quarter-hours per 2-hour event.
    for v in EventVerification.objects.all():
        rows = list(VerificationInterval.objects.filter(verification=v))
        assert len(rows) == 8
        for row in rows:
            assert row.delivered_kwh == max(row.baseline_kwh - row.actual_kwh, Decimal("0"))
        assert v.delivered_kwh == sum(r.delivered_kwh for r in rows)
    assert result.delivered_kwh == sum(v.delivered_kwh for v in EventVerification.objects.all()) > 0

    # 7. the day's settlement run (the daily run over the local market day) pays everything, once: per event the
    # performance payment = delivered kWh x clearing price / 1000, rounded half-up to cents, to the premise owner
    # (an event that delivered nothing pays nothing), the platform fee (2 %, half-up) charged to the operator,
    # tokens; the penalties of events delivered below the program's threshold are charged at verification.
    run = result.run
    assert (run.window_start, run.window_end) == demo.local_day_bounds(small_world.day)
    assert run.trigger == SettlementRun.Trigger.DAILY and run.items_created > 0
    items = list(SettlementItem.objects.select_related("event__verification", "award"))
    I = SettlementItem.Kind  # noqa: E741
    assert {i.run_id for i in items if i.kind != I.PENALTY} == {run.pk}  # one path: the run
    performance = [i for i in items if i.kind == I.PERFORMANCE]
    penalties = [i for i in items if i.kind == I.PENALTY]
    delivered = {v.event_id: v.delivered_kwh for v in EventVerification.objects.all()}
    assert {i.event_id for i in performance} == {e for e, kwh in delivered.items() if kwh > 0}
    for item in performance:
        expected = (item.event.verification.delivered_kwh * item.award.clearing_price_per_mwh / 1000).quantize(
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

    # Running the day again pays nothing twice and anchors nothing twice.
    entries = JournalEntry.objects.count()
    again = _run(small_world)
    assert again.already_run
    assert JournalEntry.objects.count() == entries
    assert SettlementItem.objects.count() == len(items)
    assert PeriodAnchor.objects.count() == len(anchors)
