"""Monthly statements (CSV, PDF) and annual tax reports with hand-computed numbers and thresholds."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest

from settlement.pdf import pdf_document
from settlement.services.penalties import penalty_settle
from settlement.services.runs import settlement_run_execute
from settlement.services.statements import (
    statement_build,
    statement_csv,
    statement_pdf,
    tax_report,
    tax_report_csv,
    us_1099_threshold,
)

from .factories import DAY, NOW, event_make, world_make

pytestmark = pytest.mark.django_db


def _world():
    w = world_make(n=2)
    # consumer 0: 8 kWh x 100 = 0.80; consumer 1: 4 kWh at 300,000/MWh = 1,200.00 (a big industrial payment)
    e0 = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4
    )
    event_make(
        w, w.premises[1], start=DAY + timedelta(hours=11), price=D("300000"), target_kw=D("4"), delivered=[D("1")] * 4
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    penalty_settle(event_id=e0.pk, payee=w.consumers[0], amount=D("0.30"), reason="late", business_key="s")
    return w


def test_monthly_statement_summary_csv_and_pdf():
    w = _world()
    s = statement_build(organisation=w.consumers[0], year=2026, month=3)
    assert s.summary["events"] == 1
    assert s.summary["delivered_kwh"] == D("8")
    assert s.summary["payments"] == D("0.80")
    assert s.summary["penalties"] == D("-0.30")
    assert s.summary["net"] == D("0.50")
    # Energy tokens per delivered kWh paid (energy-token-1): 8 kWh -> 8.00; Governance 8 / 10 -> 0.80
    assert s.summary["tokens"] == {"FLEX-GOV": D("0.80"), "FLEX-NRG": D("8.00")}
    text = statement_csv(s)
    assert text.splitlines()[0].startswith("date,item,kind,event")
    assert "# net,0.50" in text and "# tokens FLEX-GOV,0.80" in text
    pdf = statement_pdf(s)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert b"Statement 2026-03" in pdf and b"Penalties: -0.30 USD" in pdf
    assert statement_build(organisation=w.consumers[0], year=2026, month=4).rows == []


def test_pdf_cross_reference_table_points_at_every_object():
    pdf = pdf_document([(f"line {i} (with parens) \\ back", 9) for i in range(150)])  # three pages
    xref_at = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
    assert pdf[xref_at:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf)]
    for n, off in enumerate(offsets, start=1):
        assert pdf[off:].startswith(f"{n} 0 obj".encode())
    assert b"/Count 3" in pdf and b"line 149 \\(with parens\\) \\\\ back" in pdf


def test_us_1099_thresholds_by_year():
    assert us_1099_threshold(2025) == (D("600"), False)
    assert us_1099_threshold(2026) == (D("2000"), False)
    assert us_1099_threshold(2028) == (D("2000"), True)  # inflation-adjusted figure not yet known


def test_tax_reports_us_threshold_and_eu_summary():
    w = _world()
    us = tax_report(year=2026, profile="us_1099_misc")
    assert us["threshold"] == D("2000")
    # consumer 1 earned 1,200.00 < 2,000: not reportable in 2026 (it would have been under the $600 rule)
    assert us["rows"] == [] and set(us["below_threshold"]) >= {w.consumers[0].pk, w.consumers[1].pk}
    eu = tax_report(year=2026, profile="eu_annual")
    by = {r["payee"]: r for r in eu["rows"]}
    assert by[w.consumers[1].pk]["gross"] == D("1200.00")
    assert by[w.consumers[0].pk]["gross"] == D("0.80") and by[w.consumers[0].pk]["penalties"] == D("-0.30")
    assert by[w.consumers[0].pk]["net"] == D("0.50")
    assert w.operator.pk not in by  # the operator only paid fees: it is no payee
    assert "# profile,eu_annual" in tax_report_csv(eu)
    with pytest.raises(ValueError):
        tax_report(year=2026, profile="mars")
