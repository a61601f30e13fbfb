"""Bill protection anyone can opt into (ADR 0026): a participant's monthly bill with participation is never worse
than without it; the difference is topped up from the bill-protection pool.

Rule (after PG&E SmartRate's first-summer bill protection and CPUC D.15-07-001's bill protection for default
time-of-use customers: "pay no more than on the old rate", settled per bill):

* with    = tariff x metered load + penalties (negative items count against) - platform payments to the premise;
* without = tariff x baseline load: the metered load with each verified event interval's baseline in place of
  its actual (``activation.VerificationInterval``), i.e. what the premise would have used had it not responded;
* top-up  = max(with - without, 0); the two energy costs are each rounded once, half-up, to the cent.

The tariff is the premise's own (``PremiseTariff``, flat or time-of-use, as data, priced per interval in the
premise's local time); the month is the premise's local calendar month. Payments and penalties are the fiat
settlement items paid for that premise in the month (the monthly top-ups themselves excluded). Opting in covers
the months that start after it (no opting in once a bad month is known). A month is settled once, after it
has ended and :data:`SETTLE_AFTER` has passed for late meter data, paid from the pool (refused when the pool
cannot cover it; the daily task retries), with its computation stored on :class:`BillProtectionMonth`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import policies
from accounts.models import Premise
from activation.models import VerificationInterval
from assessment.models import MeterReading
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from .. import assets, tariffs
from ..errors import SettlementError
from ..models import LedgerAccount, SettlementItem
from ..models_protection import BillProtectionEnrolment, BillProtectionMonth, PremiseTariff
from .ledger import InsufficientBalance, accounts_ensure, journal_post, platform_account
from .posting import EntrySpec, ItemSpec, entries_post

I = SettlementItem.Kind  # noqa: E741
K = LedgerAccount.Kind
#: a month is settled this long after it ends (late meter data; the daily settlement run settles yesterday)
SETTLE_AFTER = timedelta(days=3)


def _invalid(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code=SettlementError.INVALID, fields={field: [message]})


def month_first(day: date) -> date:
    return date(day.year, day.month, 1)


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def month_bounds(premise: Premise, first: date) -> tuple[datetime, datetime]:
    """The premise's local calendar month ``[start, end)`` in UTC."""
    zone = ZoneInfo(premise.timezone or "UTC")
    nxt = next_month(first)
    start = datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=zone).astimezone(UTC)
    return start, end


def _require_premise_writer(user, premise: Premise) -> None:
    if not policies.may_write(user):
        raise NotPermitted("Auditors write nothing.")
    policies.require_premise_writable(user, premise)


# --- tariffs -----------------------------------------------------------------------------------------------


@transaction.atomic
def premise_tariff_set(
    *, user, premise: Premise, kind: str, rate, periods=(), valid_from: date | None = None
) -> PremiseTariff:
    """Record the premise's tariff from ``valid_from`` (default: today, local). Refused for a day inside a month
    already settled (a settled bill is not recomputed), or when the tariff data are invalid (the field is named)."""
    _require_premise_writer(user, premise)
    try:
        tariff = tariffs.tariff_parse(kind=kind, rate=rate, periods=periods)
    except tariffs.TariffInvalid as exc:
        raise _invalid(str(exc), exc.field) from exc
    valid_from = valid_from or timezone.now().astimezone(ZoneInfo(premise.timezone or "UTC")).date()
    settled = (
        BillProtectionMonth.objects.filter(premise=premise, month__gte=month_first(valid_from))
        .order_by("-month")
        .first()
    )
    if settled is not None:
        raise _invalid(f"{settled.month:%Y-%m} is settled; a tariff may start after it.", "valid_from")
    data = tariff.as_data()
    row, _ = PremiseTariff.objects.update_or_create(
        premise=premise,
        valid_from=valid_from,
        defaults={"kind": data["kind"], "rate": tariff.rate, "periods": data["periods"], "set_by": user},
    )
    return row


def tariff_lookup(premise: Premise):
    """``tariff_at(local date)`` over the premise's tariffs; :class:`ApplicationError` for a day before the first."""
    rows = sorted(PremiseTariff.objects.filter(premise=premise), key=lambda t: t.valid_from)
    parsed = [(t.valid_from, tariffs.tariff_parse(kind=t.kind, rate=t.rate, periods=t.periods), t) for t in rows]

    def tariff_at(day: date) -> tariffs.Tariff:
        found = None
        for valid_from, tariff, _row in parsed:
            if valid_from <= day:
                found = tariff
        if found is None:
            raise _invalid(f"Premise {premise.name} has no tariff in force on {day}.", "tariff")
        return found

    return tariff_at, [r for r in rows]


# --- opting in ---------------------------------------------------------------------------------------------


def bill_protection_opt_in(*, user, premise: Premise, now: datetime | None = None) -> BillProtectionEnrolment:
    """Opt the premise into bill protection, once; covered from the first month that starts after today."""
    _require_premise_writer(user, premise)
    now = now or timezone.now()
    if BillProtectionEnrolment.objects.filter(premise=premise).exists():
        raise Conflict("This premise is already protected.", fields={"premise": ["Already opted in."]})
    local_day = now.astimezone(ZoneInfo(premise.timezone or "UTC")).date()
    try:
        with transaction.atomic():
            return BillProtectionEnrolment.objects.create(
                premise=premise, opted_in_at=now, opted_in_by=user, covers_from=next_month(month_first(local_day))
            )
    except IntegrityError:  # a concurrent opt-in won
        raise Conflict("This premise is already protected.", fields={"premise": ["Already opted in."]}) from None


# --- the pool ----------------------------------------------------------------------------------------------


def pool_balance() -> Decimal:
    account = LedgerAccount.objects.filter(
        organisation=None, kind=K.BILL_PROTECTION_POOL, asset=settings.SETTLEMENT_CURRENCY
    ).first()
    return account.balance if account is not None else Decimal("0")


def bill_protection_pool_fund(*, user, amount: Decimal, reference: str) -> Decimal:
    """Fund the pool from the platform treasury (admins), once per ``reference``; returns the pool's balance."""
    policies.require_role(user, [policies.R.ADMIN], "Only platform admins fund the bill-protection pool.")
    if amount is None or amount <= 0 or assets.money(amount) != amount:
        raise _invalid("A positive amount in cents.", "amount")
    if not reference.strip():
        raise _invalid("Name the funding (e.g. the transfer reference).", "reference")
    currency = settings.SETTLEMENT_CURRENCY
    journal_post(
        business_key=f"bill_protection_pool:fund:{reference.strip()[:120]}",
        memo=f"Bill-protection pool funded: {amount} {currency} ({reference.strip()[:100]})",
        legs=[
            (platform_account(K.TREASURY, currency), -amount),
            (platform_account(K.BILL_PROTECTION_POOL, currency), amount),
        ],
    )
    return pool_balance()


# --- the monthly computation -------------------------------------------------------------------------------


@dataclass
class BillComputation:
    premise: Premise
    month: date
    tariffs: list[dict]
    intervals: int
    metered_kwh: Decimal
    baseline_kwh: Decimal
    energy_with: Decimal
    energy_without: Decimal
    payments: Decimal
    penalties: Decimal
    bill_with: Decimal
    topup: Decimal
    currency: str


def bill_protection_compute(*, premise: Premise, month: date) -> BillComputation:
    """The month's computation (a read: nothing is stored or paid)."""
    first = month_first(month)
    start, end = month_bounds(premise, first)
    tariff_at, rows = tariff_lookup(premise)
    metered: dict[datetime, Decimal] = defaultdict(Decimal)
    for t, kwh in MeterReading.objects.filter(meter__premise=premise, start__gte=start, start__lt=end).values_list(
        "start", "kwh"
    ):
        metered[t] += kwh
    # Verified event intervals: the baseline stands in for the actual (delivered energy restored).
    shift: dict[datetime, Decimal] = defaultdict(Decimal)
    for t, base, actual in VerificationInterval.objects.filter(
        verification__event__premise=premise, start__gte=start, start__lt=end
    ).values_list("start", "baseline_kwh", "actual_kwh"):
        shift[t] += base - actual
    tz = premise.timezone or "UTC"
    cost_with = tariffs.load_cost(tariff_at, sorted(metered.items()), tz)
    cost_shift = tariffs.load_cost(tariff_at, sorted(shift.items()), tz)
    currency = settings.SETTLEMENT_CURRENCY
    items = SettlementItem.objects.filter(
        premise=premise, currency=currency, delivery_start__gte=start, delivery_start__lt=end
    ).exclude(kind=I.BILL_PROTECTION, event__isnull=True)
    penalties = items.filter(kind=I.PENALTY).aggregate(t=Sum("amount"))["t"] or Decimal("0")
    payments = items.exclude(kind=I.PENALTY).aggregate(t=Sum("amount"))["t"] or Decimal("0")
    energy_with = assets.money(cost_with)
    energy_without = assets.money(cost_with + cost_shift)
    payments, penalties = assets.money(payments), assets.money(penalties)
    bill_with = energy_with - payments - penalties
    used = {r.valid_from for r in rows if r.valid_from < next_month(first)}
    in_force = max((d for d in used if d <= first), default=None)
    shown = [r for r in rows if r.valid_from in used and (in_force is None or r.valid_from >= in_force)]
    return BillComputation(
        premise=premise,
        month=first,
        tariffs=[
            {"valid_from": r.valid_from.isoformat(), "kind": r.kind, "rate": str(r.rate), "periods": r.periods}
            for r in shown
        ],
        intervals=len(metered),
        metered_kwh=sum(metered.values(), Decimal("0")),
        baseline_kwh=sum(metered.values(), Decimal("0")) + sum(shift.values(), Decimal("0")),
        energy_with=energy_with,
        energy_without=energy_without,
        payments=payments,
        penalties=penalties,
        bill_with=bill_with,
        topup=max(bill_with - energy_without, Decimal("0")),
        currency=currency,
    )


def bill_protection_month_settle(*, premise_id: int, month: date, now: datetime | None = None) -> BillProtectionMonth:
    """Settle one covered month of one premise: store its computation and pay the top-up from the pool, once.

    Refused: a month not covered, not yet over (+ :data:`SETTLE_AFTER`), already settled (409), or a pool that
    cannot cover the top-up (nothing is stored; the daily task tries again)."""
    now = now or timezone.now()
    first = month_first(month)
    premise = Premise.objects.select_related("organisation").get(pk=premise_id)
    enrolment = BillProtectionEnrolment.objects.filter(premise=premise).first()
    if enrolment is None or enrolment.covers_from > first:
        raise _invalid(f"{first:%Y-%m} is not covered by bill protection for {premise.name}.", "month")
    _start, end = month_bounds(premise, first)
    if now < end + SETTLE_AFTER:
        raise _invalid(f"{first:%Y-%m} can be settled from {(end + SETTLE_AFTER):%Y-%m-%d}.", "month")
    if BillProtectionMonth.objects.filter(premise=premise, month=first).exists():
        raise Conflict(f"{first:%Y-%m} is already settled for {premise.name}.", fields={"month": ["Settled."]})
    c = bill_protection_compute(premise=premise, month=first)
    key = f"bill_protection:month:{premise.pk}:{first:%Y-%m}"
    with transaction.atomic():
        item = None
        if c.topup > 0:
            if pool_balance() < c.topup:
                raise InsufficientBalance(
                    f"The bill-protection pool holds {pool_balance()} {c.currency}; {c.topup} is due.",
                    code=SettlementError.INSUFFICIENT_BALANCE,
                )
            acct = accounts_ensure(
                {(None, K.BILL_PROTECTION_POOL, c.currency), (premise.organisation_id, K.PARTICIPANT, c.currency)}
            )
            memo = f"Bill protection {first:%Y-%m}, {premise.name}: with {c.bill_with} - without {c.energy_without}"
            entries_post(
                entries=[
                    EntrySpec(
                        key,
                        memo,
                        [
                            (acct[(None, K.BILL_PROTECTION_POOL, c.currency)], c.currency, -c.topup),
                            (acct[(premise.organisation_id, K.PARTICIPANT, c.currency)], c.currency, c.topup),
                        ],
                        [
                            ItemSpec(
                                business_key=key,
                                kind=I.BILL_PROTECTION,
                                payee_id=premise.organisation_id,
                                asset=c.currency,
                                amount=c.topup,
                                # the 1st at noon UTC: inside the month in every time zone (statements by UTC month)
                                delivery_start=datetime(first.year, first.month, 1, 12, tzinfo=UTC),
                                quantity_kwh=c.metered_kwh,
                                premise_id=premise.pk,
                                memo=memo,
                            )
                        ],
                    )
                ],
                now=now,
            )
            item = SettlementItem.objects.get(business_key=key)
        try:
            with transaction.atomic():
                return BillProtectionMonth.objects.create(
                    premise=premise,
                    month=first,
                    tariffs=c.tariffs,
                    intervals=c.intervals,
                    metered_kwh=c.metered_kwh,
                    baseline_kwh=c.baseline_kwh,
                    energy_with=c.energy_with,
                    energy_without=c.energy_without,
                    payments=c.payments,
                    penalties=c.penalties,
                    bill_with=c.bill_with,
                    topup=c.topup,
                    currency=c.currency,
                    item=item,
                    computed_at=now,
                )
        except IntegrityError:
            raise Conflict(
                f"{first:%Y-%m} is already settled for {premise.name}.", fields={"month": ["Settled."]}
            ) from None


def bill_protection_months_due(*, now: datetime | None = None) -> list[tuple[int, date]]:
    """(premise id, month) pairs covered, over (+ :data:`SETTLE_AFTER`) and not settled yet, oldest first."""
    now = now or timezone.now()
    settled = set(BillProtectionMonth.objects.values_list("premise_id", "month"))
    due = []
    for e in BillProtectionEnrolment.objects.select_related("premise"):
        first = e.covers_from
        while True:
            _s, end = month_bounds(e.premise, first)
            if end + SETTLE_AFTER > now:
                break
            if (e.premise_id, first) not in settled:
                due.append((e.premise_id, first))
            first = next_month(first)
    return sorted(due, key=lambda pm: (pm[1], pm[0]))


def bill_protection_settle_due(*, now: datetime | None = None) -> dict[str, int]:
    """Settle every due month (the daily task). A month refused (no tariff, pool short) stays due; a month settled
    concurrently is skipped. Returns counts."""
    counts = {"settled": 0, "skipped": 0, "refused": 0}
    for premise_id, month in bill_protection_months_due(now=now):
        try:
            bill_protection_month_settle(premise_id=premise_id, month=month, now=now)
            counts["settled"] += 1
        except Conflict:
            counts["skipped"] += 1
        except ApplicationError:
            counts["refused"] += 1
    return counts


def premises_protection_overview(premises) -> list[dict]:
    """Per premise: its enrolment, its tariffs (newest first) and its settled months (newest first)."""
    ids = [p.pk for p in premises]
    enrolments = {e.premise_id: e for e in BillProtectionEnrolment.objects.filter(premise_id__in=ids)}
    tariff_rows = defaultdict(list)
    for t in PremiseTariff.objects.filter(premise_id__in=ids).order_by("-valid_from"):
        tariff_rows[t.premise_id].append(t)
    months = defaultdict(list)
    for m in BillProtectionMonth.objects.filter(premise_id__in=ids).order_by("-month"):
        months[m.premise_id].append(m)
    return [
        {"premise": p, "enrolment": enrolments.get(p.pk), "tariffs": tariff_rows[p.pk], "months": months[p.pk]}
        for p in premises
    ]


__all__ = [
    "BillComputation",
    "bill_protection_compute",
    "bill_protection_month_settle",
    "bill_protection_months_due",
    "bill_protection_opt_in",
    "bill_protection_pool_fund",
    "bill_protection_settle_due",
    "premise_tariff_set",
    "premises_protection_overview",
]
