"""Annual tax statements per organisation (ADR 0026): refusals first (a tax id in a wrong format, the wrong role or
tenant reading), then a hand-computed year with token income valued at the governed price on the day received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.consents import consent_grant
from accounts.models import Consent, Enrolment, Membership, Organisation, TaxProfile
from accounts.policies import tax_statement_readable
from accounts.services import user_create
from accounts.tax_profiles import tax_profile_set
from flexplatform.errors import ApplicationError, NotPermitted
from settlement.services.penalties import penalty_settle
from settlement.services.runs import settlement_run_execute
from settlement.services.tax_statements import tax_statement_build, tax_statement_csv, tax_statement_pdf, token_prices

from .factories import DAY, NOW, event_make, parameter_govern, world_make

pytestmark = pytest.mark.django_db
DAY2 = datetime(2026, 3, 10, tzinfo=UTC)


def _user(email, org, role=None):
    return user_create(email=email, password="pw-12345678", organisation=org, role=role)


def _year():
    """Consumer 0: 2 March, 8 kWh x 100/MWh = 0.80, 0.80 FLEX-GOV and 8.00 FLEX-NRG (at the default 0.10 -> 0.08 and
    0.80); governance sets token_price 0.25 (executed 6 March); 10 March, 12 kWh = 1.20, 1.20 FLEX-GOV and 12.00
    FLEX-NRG (x 0.25 -> 0.30 and 3.00); a 0.30 penalty."""
    w = world_make(n=2, aggregator_members=0)
    p = w.premises[0]
    e0 = event_make(w, p, start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4)
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    parameter_govern(w.consumers[1], "token_price", D("0.25"), now=datetime(2026, 3, 5, tzinfo=UTC))
    event_make(w, p, start=DAY2 + timedelta(hours=10), price=D("100"), target_kw=D("12"), delivered=[D("3")] * 4)
    settlement_run_execute(window_start=DAY2, window_end=DAY2 + timedelta(days=1), now=DAY2 + timedelta(days=2))
    penalty_settle(event_id=e0.pk, payee=w.consumers[0], amount=D("0.30"), reason="short", business_key="p0")
    return w


# --- refusals ----------------------------------------------------------------------------------------------


def test_a_tax_id_in_a_wrong_format_is_refused_and_nothing_is_stored():
    w = world_make(n=1)
    u = _user("c0@example.com", w.consumers[0])
    for country, value, field in [
        ("DE", "DE12345", "tax_id"),
        ("NL", "NL123456789", "tax_id"),
        ("Germany", "1", "country"),
        ("US", "123-456", "tax_id"),
    ]:
        with pytest.raises(ApplicationError) as exc:
            tax_profile_set(user=u, organisation=w.consumers[0], country=country, tax_id=value)
        assert list(exc.value.fields) == [field], (country, value)
    assert not TaxProfile.objects.exists()
    other = _user("c1@example.com", Organisation.objects.create(name="Other", kind=Organisation.Kind.CONSUMER))
    with pytest.raises(NotPermitted):
        tax_profile_set(user=other, organisation=w.consumers[0], country="DE", tax_id="DE123456789")


def test_the_wrong_role_or_tenant_may_not_read_a_statement():
    w = world_make(n=2, aggregator_members=0)
    agg = Organisation.objects.create(name="Agg", kind=Organisation.Kind.AGGREGATOR)
    reader_other_tenant = _user("c1@example.com", w.consumers[1])
    operator = _user("op@example.com", w.operator)
    aggregator = _user("agg@example.com", agg)
    owner = _user("c0@example.com", w.consumers[0])
    for user in (reader_other_tenant, operator, aggregator):
        assert not tax_statement_readable(user, w.consumers[0])
        with pytest.raises(NotPermitted):
            tax_statement_build(user=user, organisation=w.consumers[0], year=2026)
    # The aggregator reads once the member's terms with it share billing data, and no longer when they end.
    consent = consent_grant(
        premise=w.premises[0],
        aggregator=agg,
        by=owner,
        scopes=[Consent.Scope.INTERVAL_READINGS],
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    # (the enrolment row as enrolment_create writes it; its KYC/KYB gates are not what this test is about)
    Enrolment.objects.create(premise=w.premises[0], aggregator=agg, consent=consent, starts_at=consent.granted_at)
    assert not tax_statement_readable(aggregator, w.consumers[0])  # enrolled, but billing not shared
    consent.scopes = [Consent.Scope.INTERVAL_READINGS, Consent.Scope.BILLING]
    consent.save(update_fields=["scopes"])
    assert tax_statement_readable(aggregator, w.consumers[0])
    assert not tax_statement_readable(aggregator, w.consumers[1])  # not its member
    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    auditor = _user("aud@example.com", platform, role=Membership.Role.AUDITOR)
    admin = _user("admin@example.com", platform)
    assert all(tax_statement_readable(u, w.consumers[0]) for u in (owner, auditor, admin))


# --- a hand-computed year ----------------------------------------------------------------------------------


def test_token_price_is_the_governed_one_in_force_that_day():
    w = world_make(n=1)
    parameter_govern(w.consumers[0], "token_price", D("0.25"), now=datetime(2026, 3, 5, tzinfo=UTC))
    prices = token_prices({datetime(2026, 3, 5).date(), datetime(2026, 3, 6).date(), datetime(2026, 3, 7).date()})
    # executed at 00:00 on 6 March: 5 March ends before it, 6 March after it
    assert [prices[k] for k in sorted(prices)] == [D("0.10"), D("0.25"), D("0.25")]


def test_annual_statement_hand_computed_csv_and_pdf():
    w = _year()
    owner = _user("c0@example.com", w.consumers[0])
    tax_profile_set(user=owner, organisation=w.consumers[0], country="de", tax_id="de 123 456 789")
    s = tax_statement_build(user=owner, organisation=w.consumers[0], year=2026)
    assert s.tax_id == "DE123456789" and s.country == "DE"
    assert s.income == {"Performance payment": D("2.00")}
    assert [(t["date"].isoformat(), t["asset"], t["quantity"], t["price"], t["value"]) for t in s.token_lines] == [
        ("2026-03-02", "FLEX-GOV", D("0.80"), D("0.10"), D("0.08")),
        ("2026-03-02", "FLEX-NRG", D("8.00"), D("0.10"), D("0.80")),  # Energy tokens: 1 per delivered kWh (ADR 0024)
        ("2026-03-10", "FLEX-GOV", D("1.20"), D("0.25"), D("0.30")),
        ("2026-03-10", "FLEX-NRG", D("12.00"), D("0.25"), D("3.00")),
    ]
    # token income 0.08 + 0.80 + 0.30 + 3.00 = 4.18; net 2.00 + 4.18 - 0.30 = 5.88
    assert (s.fiat_income, s.token_income, s.penalties, s.fees, s.net) == (
        D("2.00"),
        D("4.18"),
        D("-0.30"),
        D("0"),
        D("5.88"),
    )
    text = tax_statement_csv(s)
    assert text.splitlines()[0] == "section,date,category,asset,quantity,price,amount,currency"
    assert "token_income,2026-03-10,Governance tokens,FLEX-GOV,1.20,0.25" in text
    assert "# tax_id,DE,DE123456789" in text and "# net,5.88" in text
    pdf = tax_statement_pdf(s)
    assert pdf.startswith(b"%PDF-1.4") and b"Tax identifier: DE123456789 \\(DE\\)" in pdf and b"Net: 5.88 USD" in pdf
    # The operator's statement carries the platform fees it was charged (2 % of 0.80 and of 1.20: 0.02 + 0.02).
    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = _user("admin@example.com", platform)
    assert tax_statement_build(user=admin, organisation=w.operator, year=2026).fees == D("-0.04")
    assert tax_statement_build(user=owner, organisation=w.consumers[0], year=2025).net == 0
