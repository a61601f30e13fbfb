"""The day-ahead clearing's solver record: status, welfare, bound and gap on the run; the time-limit fallback and
re-runs of clearings stored under either rule version."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from market.models import ClearingRun
from market.services.auctions import auction_clear, clearing_rerun

from .test_services_auctions import _da, _o


def _block_marginal_in_one_hour(mw, a):
    """Hours 3–4: 10 kW demand at 100 in each; a block of 10 kW at 20 over both; a divisible 5 kW at 10 in hour 4.
    The heuristic fills the block only in part in hour 4 (after the cheaper offer) and rejects it: welfare
    5 × (100 − 10) = 450 kW·$/MWh. The optimum accepts it: 2 × 10 × (100 − 20) = 1,600, the block out of the money
    in hour 4 but profitable over its span."""
    block = _o(mw, a, "sell", 3, members=[(mw.premise(0), Decimal("10"))], price="20", hours=2, block=True)
    small = _o(mw, a, "sell", 4, members=[(mw.premise(4), Decimal("5"))], price="10")
    for h in (3, 4):
        _o(mw, a, "buy", h, kw="10", price="100")
    return block, small


def test_solver_result_is_recorded_on_the_run_and_reruns(mw):
    a = _da(mw)
    block, small = _block_marginal_in_one_hour(mw, a)
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    assert run.rule_version == "uniform-auction-2" and run.solver_status == "optimal"
    assert run.outputs["accepted"][str(block.pk)] == {"3": "10.000", "4": "10.000"}
    assert str(small.pk) not in run.outputs["accepted"]
    assert run.outputs["rejected_blocks"] == [] and run.outputs["fallback"] == []
    # hour 4 is priced by the displaced offer (10); hour 3 rises within its range to 30 so the block breaks even
    prices = {i["interval"]: i["clearing_price_per_mwh"] for i in run.outputs["intervals"]}
    assert prices == {3: "30.00", 4: "10.00"}
    assert run.solver_objective == Decimal("1.60") and run.solver_bound == Decimal("1.60") and run.solver_gap == 0.0
    assert clearing_rerun(run=run).identical


def test_time_limit_keeps_the_heuristic_selection_and_the_rerun_reproduces_it(mw, settings):
    settings.MARKET_DAY_AHEAD_SOLVER_TIME_LIMIT_S = 0.0
    a = _da(mw)
    block, _ = _block_marginal_in_one_hour(mw, a)
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    assert run.solver_status == "time_limit" and run.solver_bound is None and run.solver_gap is None
    assert run.outputs["fallback"] == [block.pk]  # the component, named by its first block
    # the heuristic rejects the block; the re-admission pass finds it in the money (hour 3 has no supply: priced by
    # its bid at 100) and admits it, since the welfare rises and it runs at no loss
    assert run.outputs["readmitted"] == 1 and run.outputs["rejected_blocks"] == []
    assert run.solver_objective == Decimal("1.60")
    settings.MARKET_DAY_AHEAD_SOLVER_TIME_LIMIT_S = 30.0  # the re-run keeps the stored fallback, not a new solve
    assert clearing_rerun(run=ClearingRun.objects.get(pk=run.pk)).identical


def test_clearing_stored_under_the_heuristic_rule_reruns_with_that_engine(mw):
    a = _da(mw)
    sell = _o(mw, a, "sell", 3, members=[(mw.premise(0), Decimal("10"))], price="40")
    buy = _o(mw, a, "buy", 3, kw="5", price="90")
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    v1_outputs = {
        "intervals": [{"interval": 3, "clearing_price_per_mwh": "40.00", "volume_kw": "5.000"}],
        "accepted": {str(sell.pk): {"3": "5.000"}, str(buy.pk): {"3": "5.000"}},
        "rejected_blocks": [],
        "rounds": 1,
    }
    ClearingRun.objects.filter(pk=run.pk).update(rule_version="uniform-auction-1", outputs=v1_outputs)
    rr = clearing_rerun(run=ClearingRun.objects.get(pk=run.pk))
    assert rr.identical and rr.recomputed == v1_outputs
    assert run.cleared_at - a.gate_closure == timedelta(0)
