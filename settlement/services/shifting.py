"""Energy credit for shifted energy: measured from meter data, paid in fiat, with Energy tokens.

Platform rule ``shift-1`` (the platform's own rule; the notion of *shift* — load moved from one period to
another, as opposed to *shed*, load foregone — is the one of the California Load Shift Working Group's
final report, CPUC R.13-09-011, 2019, which defines no settlement formula of its own):

* **Who**: a load-shifting resource — a premise with an active registered device that stores or defers
  energy (``assessment.selectors.DEVICE_KIND_CLASS`` ``storage`` / ``deferrable``: battery, EV charger, water
  heater, pool pump, industrial process). Other premises shed, they do not shift, and get no energy credit.
* **Recovery window**: ``[event end, event end + shift_recovery_hours)`` (a governed parameter, 4 h by
  default), cut at the end of the event's local day (the baseline methods compute within one local day),
  in whole meter intervals.
* **Measurement**: the premise's settlement baseline (:func:`assessment.services.baseline_compute`, the same
  method as the event's verification) computed over ``[event start, recovery end)``, so the day-of
  adjustment is the event's own (from the hours before the event, not from the curtailed event hours).
  Rebound = Σ (actual - baseline) over the recovery intervals, never below zero; shifted kWh =
  min(delivered kWh in the event, rebound) (:func:`settlement.assets.shifted_energy`). A curtailment
  with no rebound shifted nothing.
* **Credit**: shifted kWh x (on-peak price - off-peak price) / 1000, rounded once half-up to the cent
  (:func:`settlement.assets.shift_credit_amount`). On-peak = the event's price (``DREvent.price_per_mwh``:
  what the energy was worth in the event window); off-peak = the governed reference
  ``off_peak_price_per_mwh``. Paid in fiat by the event's buyer (an event nobody bought gets tokens only),
  together with **Energy tokens**: 1 FLEX-NRG per shifted kWh, rounded down to 0.01.
* **When**: in the run whose window contains the nominal recovery end (event end + recovery hours), once
  every recovery interval is metered (a run before that skips the event; a re-run of the window pays it).
  So windows of any length pay the same, and each event is credited exactly once (the journal entry
  ``energy_credit:event:<id>`` is the gate; it pays both items).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import Device, Meter
from activation.models import EventVerification
from assessment.baselines.grid import local_day_bounds
from assessment.selectors import DEVICE_KIND_CLASS, meter_readings, meters_window_readings
from assessment.services import baseline_compute, interval_starts
from assessment.settlement_baselines import Prepared, baselines_prepare, baselines_save
from flexplatform.errors import ApplicationError

from .. import assets
from ..models import JournalEntry, LedgerAccount, SettlementCoverage, SettlementItem, SettlementRun
from ..selectors import market_parameter
from .ledger import accounts_ensure
from .posting import EntrySpec, ItemSpec

K = LedgerAccount.Kind
I = SettlementItem.Kind  # noqa: E741
SHIFTING_KINDS = sorted(k for k, c in DEVICE_KIND_CLASS.items() if c in ("storage", "deferrable"))


def recovery_window(
    *, event_start: datetime, event_end: datetime, hours: Decimal, interval_minutes: int, tz: str
) -> tuple[datetime, datetime]:
    """``[event end, recovery end)``: ``hours`` after the event in whole meter intervals, cut at the end of the
    event's local day. Empty (start == end) when the event ends at local midnight."""
    minutes = int(hours * 60) // interval_minutes * interval_minutes
    local_day = event_start.astimezone(ZoneInfo(tz)).date()
    day_end = local_day_bounds(local_day, tz)[1]
    return event_end, max(event_end, min(event_end + timedelta(minutes=minutes), day_end))


def shift_measure(*, verification_row: dict, hours: Decimal, now: datetime) -> tuple[Decimal, Decimal] | None:
    """(rebound kWh, shifted kWh) of one verified event, or None while the recovery window is not fully metered
    (or no baseline can be computed for it)."""
    meter = (
        Meter.objects.filter(premise_id=verification_row["premise_id"]).select_related("premise").order_by("id").first()
    )
    if meter is None:
        return None
    window = _recovery_window_for(verification_row, meter, hours=hours, now=now)
    if window is None:
        return None
    start, end = window
    starts = interval_starts(start, end, meter.interval_minutes)
    actual = dict(meter_readings(meter=meter, start=start, end=end).values_list("start", "kwh"))
    if any(s not in actual for s in starts):
        return None
    try:
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction survives a lost race
                baseline = baseline_compute(
                    meter=meter, window_start=verification_row["start"], window_end=end, now=now
                )
        except IntegrityError:  # stored meanwhile by a concurrent worker: read it
            baseline = baseline_compute(meter=meter, window_start=verification_row["start"], window_end=end, now=now)
    except ApplicationError:
        return None
    base = dict(baseline.intervals.filter(start__gte=start, start__lt=end).values_list("start", "kwh"))
    if any(s not in base for s in starts):
        return None
    return assets.shifted_energy(
        delivered_kwh=verification_row["delivered_kwh"], recovery=[(base[s], actual[s]) for s in starts]
    )


def shifts_measure(
    *, verification_rows: list[dict], hours: Decimal, now: datetime
) -> dict[int, tuple[Decimal, Decimal] | None]:
    """:func:`shift_measure` of many verified events (verification id -> result), set-based (issue #21, ADR 0046):
    the meters, the recovery windows' readings and the baselines (``assessment.settlement_baselines``) read once
    for all; the same baselines stored, the same numbers. A baseline stored meanwhile by another worker: one by
    one, as :func:`shift_measure` handles it."""
    out: dict[int, tuple[Decimal, Decimal] | None] = {r["pk"]: None for r in verification_rows}
    meters = {}
    for meter in (
        Meter.objects.filter(premise_id__in={r["premise_id"] for r in verification_rows})
        .select_related("premise")
        .order_by("premise_id", "id")
    ):
        meters.setdefault(meter.premise_id, meter)
    windows = {}
    for r in verification_rows:
        meter = meters.get(r["premise_id"])
        if meter is None:
            continue
        window = _recovery_window_for(r, meter, hours=hours, now=now)
        if window is None:
            continue
        start, end = window
        windows[r["pk"]] = (meter, start, end, interval_starts(start, end, meter.interval_minutes))
    actual = meters_window_readings(windows={pk: (w[0].pk, w[1], w[2]) for pk, w in windows.items()})
    todo = [
        r for r in verification_rows if r["pk"] in windows and all(s in actual[r["pk"]] for s in windows[r["pk"]][3])
    ]
    for _attempt in range(3):  # a choice or baseline stored meanwhile by another worker: again, reading it
        try:
            with transaction.atomic():
                batch = baselines_prepare(
                    items=[(windows[r["pk"]][0], r["start"], windows[r["pk"]][2]) for r in todo], now=now
                )
                keep = [i for i, p in enumerate(batch.results) if isinstance(p, Prepared)]
                baselines_save(batch=batch, keep=keep)
            break
        except IntegrityError:
            continue
    else:  # still racing: one by one
        return {r["pk"]: shift_measure(verification_row=r, hours=hours, now=now) for r in verification_rows}
    for i in keep:
        r, p = todo[i], batch.results[i]
        starts = windows[r["pk"]][3]
        if any(s not in p.values for s in starts):
            continue
        out[r["pk"]] = assets.shifted_energy(
            delivered_kwh=r["delivered_kwh"], recovery=[(p.values[s], actual[r["pk"]][s]) for s in starts]
        )
    return out


def shift_credit_entries(run: SettlementRun, *, now: datetime, covered: set[int] | None = None) -> list[EntrySpec]:
    """The energy credits (fiat and Energy tokens) of every event of a load-shifting resource whose nominal
    recovery end falls in the run's window and that has not been credited yet. ``covered`` (if given) gets the
    verification of every such event settled for good: credited (now or before), or with nothing to credit
    (no delivery, no rebound); not those whose recovery is not fully metered yet."""
    currency = settings.SETTLEMENT_CURRENCY
    hours = market_parameter("shift_recovery_hours")
    off_peak = market_parameter("off_peak_price_per_mwh")
    lag = timedelta(minutes=int(hours * 60))
    shifting_premises = Device.objects.filter(active=True, kind__in=SHIFTING_KINDS).values("premise_id")
    rows = list(
        EventVerification.objects.filter(
            event__end__gte=run.window_start - lag,
            event__end__lt=run.window_end - lag,
            event__premise_id__in=shifting_premises,
        )
        .order_by("event_id")
        .values(
            "pk",
            "event_id",
            "delivered_kwh",
            start=F("event__start"),
            end=F("event__end"),
            premise_id=F("event__premise_id"),
            payee=F("event__premise__organisation_id"),
            award_id=F("event__award_id"),
            # the event's own price and buyer (ADR 0011)
            price=F("event__price_per_mwh"),
            payer=F("event__buyer_id"),
        )
    )
    covered = set() if covered is None else covered
    # settled for good by an earlier run (credited, or nothing to credit): not measured again (ADR 0037)
    settled = set(
        SettlementCoverage.objects.filter(
            role=SettlementCoverage.Role.RECOVERY, verification_id__in=[r["pk"] for r in rows]
        ).values_list("verification_id", flat=True)
    )
    rows = [r for r in rows if r["pk"] not in settled]
    covered.update(r["pk"] for r in rows if r["delivered_kwh"] <= 0)  # nothing delivered: nothing shifted
    rows = [r for r in rows if r["delivered_kwh"] > 0]
    done = set(
        JournalEntry.objects.filter(
            business_key__in=[f"energy_credit:event:{r['event_id']}" for r in rows]
        ).values_list("business_key", flat=True)
    )
    measured = []
    results = shifts_measure(
        verification_rows=[r for r in rows if f"energy_credit:event:{r['event_id']}" not in done], hours=hours, now=now
    )
    for r in rows:
        key = f"energy_credit:event:{r['event_id']}"
        if key in done:
            covered.add(r["pk"])
            continue
        result = results[r["pk"]]
        if result is not None:
            covered.add(r["pk"])
            if result[1] > 0:
                measured.append((key, r, *result))
    if not measured:
        return []
    keys = {(None, K.TREASURY, assets.ENERGY)}
    for _, r, _, _ in measured:
        keys |= {(r["payee"], K.PARTICIPANT, currency), (r["payee"], K.PARTICIPANT, assets.ENERGY)}
        if r["payer"] is not None:
            keys.add((r["payer"], K.OPERATOR_PAYABLE, currency))
    acct = accounts_ensure(keys)
    out = []
    for key, r, rebound, shifted in measured:
        event_id, payee = r["event_id"], r["payee"]
        price = r["price"] or Decimal("0")
        payer = r["payer"]
        spread = max(price - off_peak, Decimal("0"))
        credit = assets.shift_credit_amount(shifted_kwh=shifted, on_peak_per_mwh=price, off_peak_per_mwh=off_peak)
        n = assets.tokens(shifted)
        what = f"event {event_id}: {shifted} kWh shifted (delivered {r['delivered_kwh']}, rebound {rebound})"
        base = dict(
            payee_id=payee,
            delivery_start=r["start"],
            quantity_kwh=shifted,
            premise_id=r["premise_id"],
            event_id=event_id,
            award_id=r["award_id"],
        )
        legs, items = [], []
        if credit > 0 and payer is not None:
            memo = f"Energy credit, {what} x spread {spread}/MWh ({price} - {off_peak})"
            legs += [
                (acct[(payer, K.OPERATOR_PAYABLE, currency)], currency, -credit),
                (acct[(payee, K.PARTICIPANT, currency)], currency, credit),
            ]
            items.append(
                ItemSpec(
                    business_key=f"shift_credit:event:{event_id}",
                    kind=I.SHIFT_CREDIT,
                    asset=currency,
                    amount=credit,
                    price_per_mwh=spread,
                    memo=memo,
                    **base,
                )
            )
        if n > 0:
            legs += [
                (acct[(None, K.TREASURY, assets.ENERGY)], assets.ENERGY, -n),
                (acct[(payee, K.PARTICIPANT, assets.ENERGY)], assets.ENERGY, n),
            ]
            items.append(
                ItemSpec(
                    business_key=key,
                    kind=I.ENERGY_CREDIT,
                    asset=assets.ENERGY,
                    amount=n,
                    memo=f"{assets.ENERGY} issued, {what}",
                    **base,
                )
            )
        if legs:
            out.append(EntrySpec(key, f"Energy credit, {what}", legs, items))
    return out


def _recovery_window_for(row, meter, *, hours, now):
    """The event's recovery window on its meter's intervals, or None when it is empty or not over by ``now``."""
    start, end = recovery_window(
        event_start=row["start"],
        event_end=row["end"],
        hours=hours,
        interval_minutes=meter.interval_minutes,
        tz=meter.premise.timezone,
    )
    if end <= start or end > now:
        return None
    return start, end
