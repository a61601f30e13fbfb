"""Bill protection and tax statements in a real (headless) Chromium (ADR 0026): the consumer opts in, sets a
time-of-use tariff and reads the monthly computation (a settled month with its top-up, and the months so far);
enters a tax identifier (a wrong format first) and downloads the annual statement as PDF and CSV; another tenant is
refused; an auditor reads the statement and the pool; an admin funds the pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from accounts.mfa import totp_activate
from accounts.models import Membership, Meter, Organisation, Premise
from accounts.services import user_create
from assessment.models import MeterReading
from settlement.services.penalties import penalty_settle
from settlement.services.protection import (
    bill_protection_month_settle,
    bill_protection_opt_in,
    bill_protection_pool_fund,
    month_first,
    premise_tariff_set,
)
from settlement.services.runs import settlement_run_execute
from settlement.tests.factories import DAY, NOW, event_make, world_make

from .browser_support import chromium  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECRET = "JBSWY3DPEHPK3PXP"
SHOT = Path("/tmp/flex_bill_protection.png")  # noqa: S108 - a test artefact to look at


def _session(user) -> str:
    c = Client()
    c.force_login(user)
    return c.cookies["sessionid"].value


@pytest.fixture
def protected_world():
    """March 2026 settled for the consumer's house (flat 0.20: top-up 2.60, as in the service tests); a garage
    with 4 kWh metered 18:00-19:00 UTC on the 2nd of last month. All ORM work before the browser's loop."""
    w = world_make(n=2, tag="bp")
    house = w.premises[0]
    event = event_make(
        w, house, start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("8"), delivered=[D("2")] * 4
    )
    slots = {DAY + timedelta(hours=10, minutes=15 * i) for i in range(4)}
    meter = house.meters.get()
    MeterReading.objects.bulk_create(
        [
            MeterReading(meter=meter, start=t, kwh=D("0") if t in slots else D("0.5"))
            for t in (DAY + timedelta(minutes=15 * i) for i in range(96))
        ]
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    penalty_settle(event_id=event.pk, payee=w.consumers[0], amount=D("5.00"), reason="short", business_key="bp")
    c0 = user_create(email="c0@bp.test", password="pw-12345678", organisation=w.consumers[0], verified=True)
    c1 = user_create(email="c1@bp.test", password="pw-12345678", organisation=w.consumers[1], verified=True)
    platform = Organisation.objects.create(name="BP Platform", kind=Organisation.Kind.PLATFORM)
    admin = user_create(email="admin@bp.test", password="pw-12345678", organisation=platform, verified=True)
    auditor = user_create(
        email="aud@bp.test", password="pw-12345678", organisation=platform, role=Membership.Role.AUDITOR, verified=True
    )
    auditor.memberships.filter(role=Membership.Role.ADMIN).delete()
    for u in (admin, auditor):
        totp_activate(user=u, secret=SECRET)
    premise_tariff_set(user=c0, premise=house, kind="flat", rate="0.20", valid_from=datetime(2026, 3, 1).date())
    bill_protection_opt_in(user=c0, premise=house, now=datetime(2026, 2, 15, tzinfo=UTC))
    bill_protection_pool_fund(user=admin, amount=D("10.00"), reference="wire-1")
    month = bill_protection_month_settle(
        premise_id=house.pk, month=datetime(2026, 3, 1).date(), now=datetime(2026, 4, 10, tzinfo=UTC)
    )
    assert month.topup == D("2.60")
    garage = Premise.objects.create(
        organisation=w.consumers[0], name="Garage", segment=Premise.Segment.RESIDENTIAL, grid_zone=w.zone
    )
    gm = Meter.objects.create(premise=garage, meter_id="bp-garage", interval_minutes=15)
    last = month_first(month_first(timezone.now().date()) - timedelta(days=1))
    t0 = datetime(last.year, last.month, 2, 18, tzinfo=UTC)
    MeterReading.objects.bulk_create(
        [MeterReading(meter=gm, start=t0 + timedelta(minutes=15 * i), kwh=D("1")) for i in range(4)]
    )
    return {
        "org": w.consumers[0],
        "garage": garage,
        "last": last,
        "cookies": {name: _session(u) for name, u in (("c0", c0), ("c1", c1), ("admin", admin), ("auditor", auditor))},
    }


def _page(browser, live_server, session):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def _download(page, selector) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_bill_protection_and_tax_statements_in_the_browser(protected_world, live_server, chromium):  # noqa: F811
    w = protected_world
    org, garage, last = w["org"], w["garage"], w["last"]

    # The consumer: the settled month, opting the garage in, its time-of-use tariff, the computation so far.
    page, errors = _page(chromium, live_server, w["cookies"]["c0"])
    page.goto(f"{live_server.url}/protection/")
    assert page.locator("h1").inner_text() == "Bill protection"
    settled = page.locator("[data-testid=settled-2026-03]").inner_text()
    for figure in ("46.0000", "54.0000", "9.20", "0.80", "-5.00", "13.40", "10.80", "2.60 USD"):
        assert figure in settled, (figure, settled)
    box = f"[data-testid=premise-{garage.pk}]"
    page.click(f"{box} [data-testid=opt-in]")
    assert "Protected since" in page.locator(f"{box} [data-testid=protected]").inner_text()
    page.select_option(f"{box} select[name=kind]", "tou")
    page.fill(f"{box} input[name=rate]", "0.10")
    page.fill(f"{box} input[name=valid_from]", last.isoformat())
    page.fill(f"{box} input[name=period_from_0]", "18:00")
    page.fill(f"{box} input[name=period_to_0]", "19:00")
    page.fill(f"{box} input[name=period_rate_0]", "0.50")
    page.click(f"{box} [data-testid=tariff-form] button[type=submit]")
    months = page.locator(f"{box} [data-testid=months]").inner_text()
    # 4 kWh in the 18:00-19:00 peak at 0.50 = 2.00 with and without (no event): no top-up
    assert f"{last:%Y-%m}\t4.0000\t4.0000\t2.00\t0.00\t0.00\t2.00\t2.00\t0.00 USD" in months, months
    assert "every day 18:00–19:00 at 0.50" in page.locator(box).inner_text()
    page.screenshot(path=str(SHOT), full_page=True)

    # The tax identifier: a wrong format is refused with the field named, then a right one is kept.
    page.goto(f"{live_server.url}/tax/")
    page.fill("input[name=country]", "DE")
    page.fill("input[name=tax_id]", "DE12345")
    page.click("[data-testid=tax-profile] button[type=submit]")
    assert "Not a DE tax identifier" in page.locator(".messages").inner_text()
    assert page.locator("[data-testid=tax-id]").inner_text() == "not provided"
    page.fill("input[name=country]", "de")
    page.fill("input[name=tax_id]", "de 123 456 789")
    page.click("[data-testid=tax-profile] button[type=submit]")
    assert page.locator("[data-testid=tax-id]").inner_text() == "DE123456789 (DE)"
    csv_text = _download(page, f"a[href='/tax/{org.pk}/2026.csv']").decode()
    # income 0.80 performance + 2.60 bill protection; 0.80 FLEX-GOV and 8.00 FLEX-NRG (1 per paid kWh, ADR 0024)
    # x 0.10 = 0.08 + 0.80; penalty -5.00: net 3.40 + 0.88 - 5.00 = -0.72
    for line in (
        "# tax_id,DE,DE123456789",
        "# fiat_income,3.40",
        "# token_income,0.88",
        "# penalties,-5.00",
        "# net,-0.72",
    ):
        assert line in csv_text, (line, csv_text)
    assert "fiat_income,,Bill protection top-up,USD,,,2.60,USD" in csv_text
    pdf = _download(page, f"a[href='/tax/{org.pk}/2026.pdf']")
    assert pdf.startswith(b"%PDF-1.4") and b"DE123456789" in pdf
    assert not errors, errors

    # Another tenant is refused.
    other, _ = _page(chromium, live_server, w["cookies"]["c1"])
    assert other.goto(f"{live_server.url}/tax/{org.pk}/2026.csv").status == 403

    # The auditor reads the statement and the pool (no forms); the admin funds the pool.
    auditor, errors = _page(chromium, live_server, w["cookies"]["auditor"])
    auditor.goto(f"{live_server.url}/tax/")
    assert org.name in auditor.locator("[data-testid=other-statements]").inner_text()
    assert "DE123456789" in _download(auditor, f"a[href='/tax/{org.pk}/2026.csv']").decode()
    auditor.goto(f"{live_server.url}/protection/")
    assert auditor.locator("[data-testid=pool-balance]").inner_text() == "7.4000"
    assert auditor.locator("[data-testid=pool] form").count() == 0
    admin, errors2 = _page(chromium, live_server, w["cookies"]["admin"])
    admin.goto(f"{live_server.url}/protection/")
    admin.fill("input[name=amount]", "5.00")
    admin.fill("input[name=reference]", "wire-2")
    admin.click("[data-testid=pool] button:has-text('Fund the pool')")
    assert admin.locator("[data-testid=pool-balance]").inner_text() == "12.4000"
    assert not errors and not errors2
