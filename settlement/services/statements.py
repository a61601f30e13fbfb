"""Monthly statements per participant (CSV and PDF) and annual tax reports per payee and jurisdiction.

Tax profiles:

* ``us_1099_misc`` — US Form 1099-MISC style, box 3 "Other income" (demand-response incentive payments).
  Reported when the year's gross payments to the payee reach the IRC §6041 threshold: $600 for payments
  made through 2025; $2,000 for payments made after 31 December 2025 (One Big Beautiful Bill Act, 2025,
  §70433), inflation-adjusted from 2027 in $100 steps — years without a published figure use the latest
  known one and are flagged ``threshold_provisional``.
* ``eu_annual`` — an EU-style annual summary (as platform operators report under DAC7 for services): every
  payee, gross payments, penalties, fees and net, no threshold.

Gross payments are the fiat items paid to the payee (payments, bonuses, shares, fees earned, rewards,
top-ups, energy credits and dispute adjustments); penalties are shown separately, never netted into the
gross. Tokens are listed in statements but not valued for tax.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum

from accounts.models import Organisation
from flexplatform import plausible
from flexplatform.errors import ApplicationError

from .. import assets
from ..errors import SettlementError
from ..models import SettlementItem
from ..models_protection import BillProtectionMonth
from ..pdf import pdf_document

I = SettlementItem.Kind  # noqa: E741
INCOME_KINDS = {
    I.PERFORMANCE,
    I.CAPACITY,
    I.OVER_DELIVERY,
    I.MEMBER_SHARE,
    I.AGGREGATOR_FEE,
    I.STAKING_REWARD,
    I.BILL_PROTECTION,
    I.ADJUSTMENT,
    I.SHIFT_CREDIT,
    I.AVAILABILITY_REWARD,
}
US_1099_THRESHOLDS = {2024: Decimal("600"), 2025: Decimal("600"), 2026: Decimal("2000")}
TAX_PROFILES = ("us_1099_misc", "eu_annual")


def us_1099_threshold(year: int) -> tuple[Decimal, bool]:
    """(threshold, provisional) for payments made in ``year``."""
    if year in US_1099_THRESHOLDS:
        return US_1099_THRESHOLDS[year], False
    if year < min(US_1099_THRESHOLDS):
        return Decimal("600"), False
    return US_1099_THRESHOLDS[max(US_1099_THRESHOLDS)], True


def _check_year(year: int) -> None:
    if not plausible.year_is_plausible(year):
        raise ApplicationError(
            f"No statements for {year}: {plausible.window_message()}",
            code=SettlementError.INVALID,
            fields={"year": [plausible.window_message()]},
        )


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    _check_year(year)
    if not 1 <= month <= 12:
        raise ApplicationError("Months are 1-12.", code=SettlementError.INVALID, fields={"month": ["1-12"]})
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass
class Statement:
    organisation: Organisation
    year: int
    month: int
    rows: list[dict]
    summary: dict


def statement_build(*, organisation: Organisation, year: int, month: int) -> Statement:
    start, end = _month_bounds(year, month)
    items = list(
        SettlementItem.objects.filter(payee=organisation, delivery_start__gte=start, delivery_start__lt=end)
        .select_related("premise")
        .order_by("delivery_start", "pk")
    )
    currency = settings.SETTLEMENT_CURRENCY
    rows = [
        {
            "date": i.delivery_start.date().isoformat(),
            "item": i.pk,
            "kind": i.kind,
            "event": i.event_id or "",
            "premise": i.premise.name if i.premise else "",
            "quantity": i.quantity_kwh,
            "price_per_mwh": i.price_per_mwh,
            "amount": i.amount,
            "asset": i.currency,
            "memo": i.memo,
        }
        for i in items
    ]
    fiat = [i for i in items if i.currency == currency]
    tokens: dict[str, Decimal] = {}
    for i in items:
        if assets.is_token(i.currency):
            tokens[i.currency] = tokens.get(i.currency, Decimal("0")) + i.amount
    summary = {
        "currency": currency,
        "events": len({i.event_id for i in items if i.event_id}),
        "delivered_kwh": sum((i.quantity_kwh for i in items if i.kind == I.PERFORMANCE), Decimal("0")),
        "payments": sum((i.amount for i in fiat if i.kind in INCOME_KINDS and i.amount > 0), Decimal("0")),
        "penalties": sum((i.amount for i in fiat if i.kind == I.PENALTY), Decimal("0")),
        "fees": sum((i.amount for i in fiat if i.kind == I.PLATFORM_FEE), Decimal("0")),
        "net": sum((i.amount for i in fiat), Decimal("0")),
        "tokens": tokens,
        "bill_protection": list(
            BillProtectionMonth.objects.filter(premise__organisation=organisation, month=date(year, month, 1))
            .select_related("premise")
            .order_by("premise_id")
        ),
    }
    return Statement(organisation=organisation, year=year, month=month, rows=rows, summary=summary)


COLUMNS = ["date", "item", "kind", "event", "premise", "quantity", "price_per_mwh", "amount", "asset", "memo"]


def statement_csv(statement: Statement) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(statement.rows)
    s = statement.summary
    buf.write("\n")
    for key in ("events", "delivered_kwh", "payments", "penalties", "fees", "net"):
        buf.write(f"# {key},{s[key]}\n")
    for asset, amount in sorted(s["tokens"].items()):
        buf.write(f"# tokens {asset},{amount}\n")
    for m in s["bill_protection"]:
        buf.write(
            f"# bill_protection {m.premise.name},metered_kwh {m.metered_kwh},baseline_kwh {m.baseline_kwh},"
            f"energy_with {m.energy_with},payments {m.payments},penalties {m.penalties},bill_with {m.bill_with},"
            f"bill_without {m.energy_without},topup {m.topup}\n"
        )
    return buf.getvalue()


def _protection_lines(statement: Statement) -> list[str]:
    """The bill-protection computation of each protected premise's month (ADR 0026), one line each."""
    return [
        f"Bill protection {m.premise.name}: with = tariff x {m.metered_kwh} kWh metered {m.energy_with}"
        f" - payments {m.payments} + penalties {-m.penalties} = {m.bill_with}; without = tariff x"
        f" {m.baseline_kwh} kWh baseline {m.energy_without}; top-up {m.topup} {m.currency}"
        for m in statement.summary.get("bill_protection", [])
    ]


def statement_pdf(statement: Statement) -> bytes:
    s = statement.summary
    c = s["currency"]
    lines: list[tuple[str, int]] = [
        (f"Statement {statement.year}-{statement.month:02d}", 16),
        (f"{statement.organisation.name} (participant {statement.organisation.pk})", 11),
        ("", 10),
        (f"Events: {s['events']}    Delivered energy: {s['delivered_kwh']} kWh", 10),
        (
            f"Payments: {s['payments']} {c}    Penalties: {s['penalties']} {c}    Fees: {s['fees']} {c}    Net: {s['net']} {c}",
            10,
        ),
        ("Tokens: " + (", ".join(f"{v} {k}" for k, v in sorted(s["tokens"].items())) or "none"), 10),
        ("", 10),
        *[(line, 8) for line in _protection_lines(statement)],
        *([("", 10)] if s["bill_protection"] else []),
        ("Date        Item     Kind                 Event   Quantity      Amount  Asset", 9),
    ]
    for r in statement.rows:
        lines.append(
            (
                f"{r['date']}  {r['item']:>7}  {r['kind']:<20} {r['event']!s:>6}  {r['quantity']!s:>10}  {r['amount']!s:>10}  {r['asset']}",
                9,
            )
        )
    return pdf_document(lines)


def tax_report(*, year: int, profile: str) -> dict:
    """Per payee, the year's reportable fiat income under ``profile``."""
    if profile not in TAX_PROFILES:
        raise ValueError(f"Unknown tax profile {profile!r}.")
    _check_year(year)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    currency = settings.SETTLEMENT_CURRENCY
    base = SettlementItem.objects.filter(currency=currency, delivery_start__gte=start, delivery_start__lt=end)
    gross = dict(base.filter(kind__in=INCOME_KINDS).values("payee").annotate(t=Sum("amount")).values_list("payee", "t"))
    penalties = dict(base.filter(kind=I.PENALTY).values("payee").annotate(t=Sum("amount")).values_list("payee", "t"))
    fees = dict(base.filter(kind=I.PLATFORM_FEE).values("payee").annotate(t=Sum("amount")).values_list("payee", "t"))
    counts = dict(base.values("payee").annotate(n=Count("id")).values_list("payee", "n"))
    names = dict(Organisation.objects.filter(pk__in=set(counts)).values_list("pk", "name"))
    threshold, provisional = us_1099_threshold(year) if profile == "us_1099_misc" else (Decimal("0"), False)
    rows = []
    for payee in sorted(counts):
        g = (gross.get(payee) or Decimal("0")).quantize(assets.CENT)
        row = {
            "payee": payee,
            "name": names.get(payee, ""),
            "gross": g,
            "penalties": (penalties.get(payee) or Decimal("0")).quantize(assets.CENT),
            "fees": (fees.get(payee) or Decimal("0")).quantize(assets.CENT),
            "items": counts[payee],
        }
        row["net"] = row["gross"] + row["penalties"] + row["fees"]
        if profile == "us_1099_misc":
            row["box3_other_income"] = g
            row["reportable"] = g >= threshold
        else:
            row["reportable"] = g != 0 or row["penalties"] != 0
        rows.append(row)
    return {
        "year": year,
        "profile": profile,
        "currency": currency,
        "threshold": threshold,
        "threshold_provisional": provisional,
        "rows": [r for r in rows if r["reportable"]],
        "below_threshold": [r["payee"] for r in rows if not r["reportable"]],
    }


def tax_report_csv(report: dict) -> str:
    buf = io.StringIO()
    cols = ["payee", "name", "gross", "penalties", "fees", "net", "items"] + (
        ["box3_other_income"] if report["profile"] == "us_1099_misc" else []
    )
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(report["rows"])
    buf.write(f"# profile,{report['profile']}\n# year,{report['year']}\n# currency,{report['currency']}\n")
    buf.write(f"# threshold,{report['threshold']}{' (provisional)' if report['threshold_provisional'] else ''}\n")
    return buf.getvalue()


__all__ = ["date", "statement_build", "statement_csv", "statement_pdf", "tax_report", "tax_report_csv"]
