"""Energy credit for shifted energy (platform rule shift-1), with hand-computed numbers.

Every premise here has 10 weekdays of flat 0.5 kWh quarter-hours before the event day, so its CAISO 10-in-10
baseline is 0.5 kWh per interval (the day-of adjustment is 1: the hours before the event are 0.5 too). The
event is 17:00-18:00 UTC, 4 intervals of 0.25 kWh delivered = 1.0 kWh, cleared at 150/MWh; the recovery
window is 18:00-22:00 (4 h, the default), the off-peak reference price 40/MWh: a spread of 110/MWh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.device_services import device_register
from assessment.models import MeterReading
from settlement import assets
from settlement.models import LedgerAccount, SettlementItem
from settlement.selectors import balances_match_postings, ledger_is_balanced
from settlement.services.ledger import balance_of
from settlement.services.runs import settlement_run_execute
from settlement.services.shifting import recovery_window

from .factories import DAY, NOW, event_make, world_make

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind
EVENT = DAY + timedelta(hours=17)
RECOVERY = [EVENT + timedelta(hours=1, minutes=15 * i) for i in range(16)]  # 18:00 .. 21:45


def _history(premise, *, recovery_kwh: list[D] | None = None, recovery_metered: int = 16):
    """10 prior weekdays and the event day at 0.5 kWh per quarter-hour; on the event day the event's intervals
    at 0.25 (0.25 delivered each) and the first recovery intervals at ``recovery_kwh``."""
    meter = premise.meters.get()
    days, d = [], DAY - timedelta(days=1)
    while len(days) < 10:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    rows = [
        MeterReading(meter=meter, start=day + timedelta(minutes=15 * i), kwh=D("0.5"))
        for day in days
        for i in range(96)
    ]
    recovery = dict(zip(RECOVERY, recovery_kwh or [], strict=False))
    for i in range(96):
        s = DAY + timedelta(minutes=15 * i)
        if EVENT <= s < EVENT + timedelta(hours=1):
            kwh = D("0.25")
        elif s in RECOVERY and RECOVERY.index(s) >= recovery_metered:
            continue  # not metered yet
        else:
            kwh = recovery.get(s, D("0.5"))
        rows.append(MeterReading(meter=meter, start=s, kwh=kwh))
    MeterReading.objects.bulk_create(rows)


def _shifting_device(premise, kind="water_heater"):
    device_register(
        premise=premise,
        name="Shiftable",
        kind=kind,
        control_channel="mqtt",
        rated_kw=D("4.5"),
        max_kw=D("4.5"),
    )


def _event(w, premise):
    return event_make(
        w, premise, start=EVENT, price=D("150"), target_kw=D("1"), delivered=[D("0.25")] * 4, baseline=D("0.5")
    )


def _run():
    return settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)


def _items(event, kind):
    return list(SettlementItem.objects.filter(event=event, kind=kind))


def test_shifted_energy_credited_at_the_spread_with_energy_tokens_and_not_without_rebound_or_device():
    w = world_make(n=4)
    p_shift, p_no_device, p_no_rebound, p_big_rebound = w.premises
    for p in (p_shift, p_no_rebound, p_big_rebound):
        _shifting_device(p)
    # rebound: +0.2 kWh in each of the first 4 recovery intervals = 0.8 kWh back above the baseline
    _history(p_shift, recovery_kwh=[D("0.7")] * 4)
    _history(p_no_device, recovery_kwh=[D("0.7")] * 4)
    # some intervals above, more below the baseline: net -0.1 kWh, no rebound (noise does not count)
    _history(p_no_rebound, recovery_kwh=[D("0.6"), D("0.4"), D("0.4"), D("0.5")])
    # 16 x 0.1 = 1.6 kWh above the baseline: more than the 1.0 kWh curtailed
    _history(p_big_rebound, recovery_kwh=[D("0.6")] * 16)
    events = [_event(w, p) for p in w.premises]
    _run()

    e = events[0]
    # shifted = min(1.0 delivered, 0.8 rebound) = 0.8 kWh; credit 0.8 x (150 - 40) / 1000 = 0.088 -> 0.09 half-up
    (credit,) = _items(e, "shift_credit")
    assert credit.amount == D("0.09") and credit.currency == "USD" and credit.quantity_kwh == D("0.8")
    assert credit.price_per_mwh == D("110") and credit.payee == w.consumers[0]
    # 1 FLEX-NRG per shifted kWh, rounded down: 0.80
    (tokens,) = _items(e, "energy_credit")
    assert tokens.amount == D("0.80") and tokens.currency == assets.ENERGY
    assert credit.journal_entry_id == tokens.journal_entry_id  # one entry (the gate) pays both
    # a load without a shifting device sheds, it does not shift; net-negative recovery is no rebound
    assert not _items(events[1], "shift_credit") and not _items(events[1], "energy_credit")
    assert not _items(events[2], "shift_credit") and not _items(events[2], "energy_credit")
    # rebound 1.6 > 1.0 delivered: only the 1.0 kWh moved out of the event counts: 1.0 x 110 / 1000 = 0.11
    assert _items(events[3], "shift_credit")[0].amount == D("0.11")
    assert _items(events[3], "energy_credit")[0].amount == D("1.00")
    # the event's buyer pays the credit on top of the performance payments (4 x 1.0 kWh x 150 / 1000 = 0.60)
    assert balance_of(organisation=w.operator, kind=K.OPERATOR_PAYABLE, asset="USD") == D("-0.80")
    # 0.80 FLEX-NRG for the shifted energy, and 1.00 for the 1.0 kWh delivered in the event (energy-token-1)
    assert _items(e, "energy_token")[0].amount == D("1.00")
    assert balance_of(organisation=w.consumers[0], kind=K.PARTICIPANT, asset=assets.ENERGY) == D("1.80")
    assert ledger_is_balanced() and balances_match_postings()


def test_credit_waits_for_the_recovery_data_and_is_paid_once():
    w = world_make(n=1)
    p = w.premises[0]
    _shifting_device(p, kind="ev_charger")
    _history(p, recovery_kwh=[D("0.75")] * 2, recovery_metered=15)  # the last recovery interval not yet in
    e = _event(w, p)
    _run()
    assert not _items(e, "shift_credit") and _items(e, "performance")  # performance paid, the credit waits
    MeterReading.objects.create(meter=p.meters.get(), start=RECOVERY[-1], kwh=D("0.5"))
    run = _run()  # the run of the same window, again: the credit is paid now ...
    # rebound 2 x 0.25 = 0.5 kWh; 0.5 x 110 / 1000 = 0.055 -> 0.06 half-up; 0.50 FLEX-NRG
    assert [i.amount for i in _items(e, "shift_credit")] == [D("0.06")]
    assert [i.amount for i in _items(e, "energy_credit")] == [D("0.50")]
    assert run.last_attempt_items == 2
    # ... and once: a third run, or an overlapping window, pays nothing more
    assert _run().last_attempt_items == 0
    settlement_run_execute(window_start=DAY + timedelta(hours=20), window_end=DAY + timedelta(hours=23), now=NOW)
    assert SettlementItem.objects.filter(kind__in=["shift_credit", "energy_credit"]).count() == 2


def test_credit_settles_in_the_window_of_the_recovery_end():
    w = world_make(n=1)
    p = w.premises[0]
    _shifting_device(p, kind="pool_pump")
    _history(p, recovery_kwh=[D("0.7")] * 4)
    e = _event(w, p)
    # the event starts in [17:00, 18:00) but its recovery ends at 22:00: that window pays the performance only
    settlement_run_execute(window_start=EVENT, window_end=EVENT + timedelta(hours=1), now=NOW)
    assert _items(e, "performance") and not _items(e, "shift_credit")
    settlement_run_execute(window_start=DAY + timedelta(hours=21), window_end=DAY + timedelta(hours=23), now=NOW)
    assert _items(e, "shift_credit")[0].amount == D("0.09")


def test_recovery_window_whole_intervals_cut_at_the_local_day_end():
    start = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
    # 4 h after a 22:00 end would be 02:00: cut at the UTC premise's midnight
    assert recovery_window(
        event_start=start, event_end=start + timedelta(hours=1), hours=D("4"), interval_minutes=15, tz="UTC"
    ) == (start + timedelta(hours=1), datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
    # in New York the local day (EST, UTC-5) ends at 05:00 UTC: the full 4 h fit
    assert recovery_window(
        event_start=start,
        event_end=start + timedelta(hours=1),
        hours=D("4"),
        interval_minutes=15,
        tz="America/New_York",
    )[1] == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    # 1.1 h in 15-minute intervals: 1 h (whole intervals only)
    assert recovery_window(
        event_start=start,
        event_end=start + timedelta(hours=1),
        hours=D("1.1"),
        interval_minutes=15,
        tz="America/New_York",
    )[1] == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)


def test_shifted_energy_rule():
    # rebound nets the intervals: +0.3 - 0.1 = 0.2; shifted = min(delivered, rebound)
    assert assets.shifted_energy(delivered_kwh=D("1"), recovery=[(D("1"), D("1.3")), (D("1"), D("0.9"))]) == (
        D("0.2"),
        D("0.2"),
    )
    assert assets.shifted_energy(delivered_kwh=D("1"), recovery=[(D("1"), D("0.5"))]) == (D("0"), D("0"))
    assert assets.shift_credit_amount(shifted_kwh=D("2"), on_peak_per_mwh=D("30"), off_peak_per_mwh=D("40")) == D("0")


def test_the_recovery_window_runs_once_for_the_events_whose_credit_it_has_paid():
    from settlement.models import SettlementRun
    from settlement.services.event_settlement import event_settle, event_window

    w = world_make(n=2)
    for p in w.premises:
        _shifting_device(p)
        _history(p, recovery_kwh=[D("0.7")] * 4)
    events = [_event(w, p) for p in w.premises]
    event_settle(event_id=events[0].pk, now=NOW)
    assert all(_items(e, "shift_credit") for e in events)  # the first task's recovery run paid both credits
    recovery = SettlementRun.objects.exclude(window_start=event_window(EVENT)[0]).get()
    event_settle(event_id=events[1].pk, now=NOW)  # the second event's task: its credit is paid, no new attempt
    recovery.refresh_from_db()
    assert recovery.attempts == 1 and SettlementItem.objects.filter(kind="shift_credit").count() == 2


def test_the_runs_set_based_measurement_is_the_one_by_one_measurement():
    """ADR 0046: ``shifts_measure`` (one read per kind for a run's events) gives what ``shift_measure`` gives per
    event, and stores the same recovery baselines."""
    from django.db import transaction

    from activation.models import EventVerification
    from assessment.models import Baseline
    from settlement.services.shifting import shift_measure, shifts_measure

    w = world_make(n=4)
    for p in w.premises:
        _shifting_device(p)
    _history(w.premises[0], recovery_kwh=[D("0.7")] * 4)
    _history(w.premises[1], recovery_kwh=[D("0.6"), D("0.4"), D("0.4"), D("0.5")])
    _history(w.premises[2], recovery_kwh=[D("0.6")] * 16)
    _history(w.premises[3], recovery_metered=6)  # recovery not fully metered: nothing measured, nothing stored
    for p in w.premises:
        _event(w, p)
    rows = list(
        EventVerification.objects.order_by("event_id").values(
            "pk", "event_id", "delivered_kwh", "event__start", "event__end", "event__premise_id"
        )
    )
    rows = [
        {**r, "start": r["event__start"], "end": r["event__end"], "premise_id": r["event__premise_id"]} for r in rows
    ]

    def stored():
        return sorted(Baseline.objects.values_list("meter_id", "method", "window_start", "window_end", "total_kwh"))

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            one_by_one = {r["pk"]: shift_measure(verification_row=r, hours=D("4"), now=NOW) for r in rows}
            expected = stored()
            raise Undo
    except Undo:
        pass
    assert shifts_measure(verification_rows=rows, hours=D("4"), now=NOW) == one_by_one
    assert stored() == expected
    assert [one_by_one[r["pk"]] is None for r in rows] == [False, False, False, True]
