"""Fiat payouts in a real (headless) Chromium: the participant gives bank details (IBAN checked) and follows each
payout; finance creates a run, downloads its pain.001 and imports the bank's camt.054 with refused entries shown."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from demo import TOTP_SECRET
from settlement.tests.factories import tokens_grant, world_make

from .browser_support import chromium  # noqa: F401 - the Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
R = Membership.Role
CAMT = Path(__file__).parents[2] / "settlement" / "tests" / "fixtures" / "camt054_payouts.xml"


def _session(org, role, name) -> str:
    user = get_user_model().objects.create(username=name, email=f"{name}@payouts.test")
    Membership.objects.create(user=user, organisation=org, role=role)
    if role == R.ADMIN:
        totp_activate(user=user, secret=TOTP_SECRET)  # MFA is required for admins
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def payees(settings):
    """A consumer owed 12.34 EUR without bank details yet, a second owed 5.05 EUR with them, and finance. All
    database work happens here, before the browser's event loop starts."""
    from settlement.services.payouts import bank_account_set

    settings.SETTLEMENT_CURRENCY = "EUR"
    w = world_make(n=2, tag="pb")
    tokens_grant(w.consumers[0], "EUR", D("12.34"), "pb-0")
    tokens_grant(w.consumers[1], "EUR", D("5.05"), "pb-1")
    bank_account_set(organisation=w.consumers[1], holder_name="Bernd", iban="DE02500105170137075030", bic="INGDDEFFXXX")
    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    return {
        "consumer": _session(w.consumers[0], R.CONSUMER, "pbc"),
        "admin": _session(platform, R.ADMIN, "pba"),
        "org": w.consumers[0].pk,
        "other": w.consumers[1].pk,
    }


def _page(browser, live_server, session):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    host = live_server.url.split("//")[1].split(":")[0]
    context.add_cookies([{"name": "sessionid", "value": session, "domain": host, "path": "/"}])
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    return page, failed


def test_participant_gives_bank_details_and_finance_pays_out(payees, live_server, chromium):  # noqa: F811
    consumer, failed = _page(chromium, live_server, payees["consumer"])
    consumer.goto(f"{live_server.url}/payouts/")
    assert consumer.locator("[data-testid=owed]").inner_text() == "12.34 EUR"
    consumer.fill("input[name=holder_name]", "Anna Example")
    consumer.fill("input[name=iban]", "DE02 1203 0000 0000 2020 52")  # one digit wrong: the mod-97 check fails
    consumer.fill("input[name=bic]", "BYLADEM1001")
    consumer.click("[data-testid=bank-form] button")
    flash = consumer.locator("[data-testid=flash]").inner_text()
    assert "Invalid bank details" in flash and "iban" in flash
    assert consumer.locator("[data-testid=bank-saved]").count() == 0
    consumer.fill("input[name=iban]", "DE02 1203 0000 0000 2020 51")
    consumer.click("[data-testid=bank-form] button")
    assert "DE02120300000000202051" in consumer.locator("[data-testid=bank-saved]").inner_text()

    admin, admin_failed = _page(chromium, live_server, payees["admin"])
    admin.goto(f"{live_server.url}/payouts/console/")
    owed = admin.locator("[data-testid=owed]").inner_text()
    assert "pb Consumer 0\t12.34\tyes" in owed and "pb Consumer 1\t5.05\tyes" in owed
    admin.click("[data-testid=run-form] button")
    assert "2 payouts, 17.39 EUR" in admin.locator("[data-testid=flash]").inner_text()
    consumer.reload()
    assert consumer.locator("[data-testid=payouts] [data-status]").inner_text() == "Pending"

    with admin.expect_download() as download:
        admin.locator("[data-testid^=download-]").first.click()
    document = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.startswith("pain001-")
    e2e = "<EndToEndId>FLEX-"
    assert document.count(e2e.encode()) == 2 and b"<CtrlSum>17.39</CtrlSum>" in document
    admin.reload()
    assert admin.locator("[data-testid=payouts] [data-status=exported]").count() == 2
    consumer.reload()
    assert consumer.locator("[data-testid=payouts] [data-status]").inner_text() == "Exported to the bank"

    # the bank's debit notification: ours booked at 12.34, the other at 5.00 (it was 5.05), one unknown
    ids = {
        row.split("\t")[1]: row.split("\t")[0]
        for row in admin.locator("[data-testid=payouts] tbody tr").all_inner_texts()
    }
    ours = next(i for i in ids.values() if i.endswith(f"-{payees['org']}"))
    theirs = next(i for i in ids.values() if i.endswith(f"-{payees['other']}"))
    camt = (
        CAMT.read_text()
        .replace("{E2E_OK}", ours)
        .replace("{AMOUNT_OK}", "12.34")
        .replace("{E2E_MISMATCH}", theirs)
        .replace("{MSG_ID}", "x")
        .replace("{PMT_INF_ID}", "x")
    )
    admin.set_input_files(
        "input[name=camt054]", files=[{"name": "camt054.xml", "mimeType": "application/xml", "buffer": camt.encode()}]
    )
    admin.click("[data-testid=camt-form] button")
    assert "1 paid, 3 entries refused" in admin.locator("[data-testid=flash]").inner_text()
    errors = admin.locator("[data-testid=camt-error]").all_inner_texts()
    assert errors[0] == (
        f"Entry 2 (NtryRef 2026030600002, EndToEndId {theirs}): Payout {theirs} is 5.05 EUR; the bank booked 5.00 EUR."
    )
    assert "No payout has EndToEndId FLEX-999999-1." in errors[1] and "A credit" in errors[2]
    consumer.reload()
    assert consumer.locator("[data-testid=payouts] [data-status]").inner_text() == "Paid"
    assert consumer.locator("[data-testid=owed]").inner_text() == "0.00 EUR"
    assert not failed and not admin_failed, failed + admin_failed
