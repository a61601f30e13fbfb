"""The annual tax statement of one organisation (CSV and PDF), for the participant, its aggregator where its terms
say so, admins and auditors (``accounts.policies.tax_statement_readable``; ADR 0026).

What it follows:

* income categories as IRS Form 1099-MISC reports them to a payee: demand-response incentive payments are
  box 3 "Other income" (IRS Instructions for Forms 1099-MISC and 1099-NEC), split here by kind; penalties and
  fees are shown apart, never netted into the gross (as the platform's ``tax_report``);
* token income: IRS Notice 2014-21 (Q&A-3) and Rev. Rul. 2023-14 treat digital assets received for services as
  income at their fair market value on the day received; the platform's value for a FLEX token is the governed
  ``token_price`` parameter in force at the end of that UTC day (the last executed governance proposal on it,
  else its default). A token item is received on its delivery day (the day its settlement item is dated);
* the payee's tax identifier from its tax profile (``accounts.TaxProfile``: VAT number in the VIES format, a
  US TIN), as an EU DAC7 platform report carries the seller's TIN/VAT number.

Fiat income is the fiat items of the income kinds paid to the organisation; token income every positive token
item (valued); penalties the fiat penalties plus slashed tokens (valued); fees the platform fees charged to it.
Net = fiat income + token income + penalties + fees (penalties and fees are negative).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from accounts import policies
from accounts.models import Organisation
from accounts.tax_profiles import tax_profile_of
from market.parameters import DEFAULTS

from .. import assets
from ..models import Proposal, SettlementItem
from ..pdf import pdf_document
from .statements import INCOME_KINDS, _check_year

I = SettlementItem.Kind  # noqa: E741
PRICE_PARAMETER = "token_price"
ZERO = Decimal("0")


def token_prices(days: set[date]) -> dict[date, Decimal]:
    """The governed token price in force at the end of each UTC day."""
    executed = list(
        Proposal.objects.filter(parameter=PRICE_PARAMETER, status=Proposal.Status.EXECUTED, executed_at__isnull=False)
        .order_by("executed_at", "pk")
        .values_list("executed_at", "new_value")
    )
    out = {}
    for day in days:
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        price = DEFAULTS[PRICE_PARAMETER]
        for at, value in executed:
            if at < end:
                price = value
        out[day] = price
    return out


@dataclass
class TaxStatement:
    organisation: Organisation
    year: int
    currency: str
    country: str
    tax_id: str
    legal_name: str
    income: dict[str, Decimal]  # fiat income per kind (display label)
    token_lines: list[dict] = field(default_factory=list)
    penalties: Decimal = ZERO
    token_penalties: Decimal = ZERO
    fees: Decimal = ZERO

    @property
    def fiat_income(self) -> Decimal:
        return sum(self.income.values(), ZERO)

    @property
    def token_income(self) -> Decimal:
        return sum((t["value"] for t in self.token_lines if t["value"] > 0), ZERO)

    @property
    def net(self) -> Decimal:
        return self.fiat_income + self.token_income + self.penalties + self.token_penalties + self.fees


def tax_statement_build(*, user, organisation: Organisation, year: int) -> TaxStatement:
    """The organisation's statement for ``year``; refused (403) unless ``user`` may read it."""
    policies.require_tax_statement_readable(user, organisation)
    _check_year(year)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    currency = settings.SETTLEMENT_CURRENCY
    items = list(
        SettlementItem.objects.filter(payee=organisation, delivery_start__gte=start, delivery_start__lt=end)
        .order_by("delivery_start", "pk")
        .values_list("kind", "currency", "amount", "delivery_start")
    )
    labels = dict(I.choices)
    income: dict[str, Decimal] = {}
    penalties = fees = ZERO
    tokens: dict[tuple[date, str, str], Decimal] = {}
    for kind, asset, amount, at in items:
        if asset == currency:
            if kind in INCOME_KINDS:
                income[labels.get(kind, kind)] = income.get(labels.get(kind, kind), ZERO) + amount
            elif kind == I.PENALTY:
                penalties += amount
            elif kind == I.PLATFORM_FEE:
                fees += amount
        elif assets.is_token(asset):
            key = (at.astimezone(UTC).date(), asset, kind)
            tokens[key] = tokens.get(key, ZERO) + amount
    prices = token_prices({d for d, _, _ in tokens})
    token_lines = []
    token_penalties = ZERO
    for (day, asset, kind), qty in sorted(tokens.items()):
        value = assets.money(qty * prices[day])
        line = {"date": day, "asset": asset, "kind": labels.get(kind, kind), "quantity": qty, "price": prices[day]}
        line["value"] = value
        if qty < 0:
            token_penalties += value
        token_lines.append(line)
    profile = tax_profile_of(organisation)
    return TaxStatement(
        organisation=organisation,
        year=year,
        currency=currency,
        country=profile.country if profile else "",
        tax_id=profile.tax_id if profile else "",
        legal_name=(profile.legal_name if profile and profile.legal_name else organisation.name),
        income={k: assets.money(v) for k, v in sorted(income.items())},
        token_lines=token_lines,
        penalties=assets.money(penalties),
        token_penalties=token_penalties,
        fees=assets.money(fees),
    )


def _summary(s: TaxStatement) -> list[tuple[str, Decimal]]:
    return [
        ("fiat_income", s.fiat_income),
        ("token_income", s.token_income),
        ("penalties", s.penalties),
        ("token_penalties", s.token_penalties),
        ("fees", s.fees),
        ("net", s.net),
    ]


def tax_statement_csv(s: TaxStatement) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "date", "category", "asset", "quantity", "price", "amount", "currency"])
    for label, amount in s.income.items():
        w.writerow(["fiat_income", "", label, s.currency, "", "", amount, s.currency])
    for t in s.token_lines:
        section = "token_income" if t["quantity"] >= 0 else "token_penalty"
        w.writerow(
            [section, t["date"].isoformat(), t["kind"], t["asset"], t["quantity"], t["price"], t["value"], s.currency]
        )
    w.writerow(["penalties", "", "Penalties", s.currency, "", "", s.penalties, s.currency])
    w.writerow(["fees", "", "Platform fees", s.currency, "", "", s.fees, s.currency])
    buf.write("\n")
    buf.write(f"# organisation,{s.organisation.pk},{s.legal_name}\n")
    buf.write(f"# tax_id,{s.country},{s.tax_id or 'not provided'}\n# year,{s.year}\n# currency,{s.currency}\n")
    for key, value in _summary(s):
        buf.write(f"# {key},{value}\n")
    return buf.getvalue()


def tax_statement_pdf(s: TaxStatement) -> bytes:
    c = s.currency
    lines: list[tuple[str, int]] = [
        (f"Annual tax statement {s.year}", 16),
        (f"{s.legal_name} (participant {s.organisation.pk})", 11),
        (f"Tax identifier: {s.tax_id or 'not provided'}{f' ({s.country})' if s.country else ''}", 11),
        ("", 10),
        (f"Fiat income (1099-MISC box 3 style, other income): {s.fiat_income} {c}", 10),
    ]
    lines += [(f"    {label:<40} {amount:>14} {c}", 9) for label, amount in s.income.items()]
    lines += [
        (f"Token income, valued at the governed token price on the day received: {s.token_income} {c}", 10),
        ("    Date        Asset      Kind                         Quantity     Price      Value", 9),
    ]
    lines += [
        (
            f"    {t['date'].isoformat()}  {t['asset']:<9}  {t['kind'][:26]:<26} {t['quantity']!s:>10} "
            f"{t['price']!s:>9} {t['value']!s:>10}",
            9,
        )
        for t in s.token_lines
    ] or [("    none", 9)]
    lines += [
        (f"Penalties: {s.penalties} {c}    Slashed tokens (valued): {s.token_penalties} {c}    Fees: {s.fees} {c}", 10),
        (f"Net: {s.net} {c}", 11),
        ("", 10),
        ("For information; the participant reports it under its own tax rules (ADR 0026).", 8),
    ]
    return pdf_document(lines)
