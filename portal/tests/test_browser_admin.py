"""The admin decides a KYC case from its case page in a real (headless) Chromium: a click, not a URL (#16).

The decide form used to sit inside Django's change form; the browser dropped the nested form and the button
submitted the outer one (403). This test clicks the button as a reviewer does and reads what the page says."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts import services as accounts_services
from accounts.kyc.providers import ManualReviewProvider
from accounts.kyc.services import verification_case_create, verification_case_submit, verification_document_add
from accounts.mfa import totp_activate
from accounts.models import Organisation, VerificationCase
from accounts.selectors.compliance import organisation_compliance

from .browser_support import chromium  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def review(tmp_path, settings):
    """A consumer's case in review with an uploaded passport scan, and a signed-in admin's session cookie.
    All database work happens here, before the browser's event loop starts."""
    settings.KYC_DOCUMENT_ROOT = str(tmp_path / "kyc")
    org = accounts_services.organisation_create(name="Browser Person", kind=Organisation.Kind.CONSUMER)
    owner = accounts_services.user_create(email="bp@t.flex", password="x-pass-123", organisation=org)
    case = verification_case_create(organisation=org, legal_name="Browser Person", by=owner)
    verification_document_add(
        case=case,
        doc_type="passport",
        number="BP1",
        holder_name="Browser Person",
        expires_on=timezone.now().date() + timedelta(days=400),
        file=SimpleUploadedFile("scan.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"),
        by=owner,
    )
    case = verification_case_submit(case=case, by=owner, provider=ManualReviewProvider())
    assert case.status == VerificationCase.Status.IN_REVIEW
    platform = accounts_services.organisation_create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = accounts_services.user_create(email="reviewer@t.flex", password="x-pass-123", organisation=platform)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    totp_activate(user=admin, secret="JBSWY3DPEHPK3PXP")
    client = Client()
    client.force_login(admin)
    return {"case": case, "org": org, "session": client.cookies["sessionid"].value}


def _in_thread(fn):
    """ORM reads while Playwright's loop lives in this thread run in another thread (Django refuses sync ORM
    calls beside a running event loop); the live server's transactions are committed, so it sees them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def test_admin_approves_a_case_by_clicking_on_its_page_and_the_participant_may_trade(review, live_server, chromium):  # noqa: F811
    context = chromium.new_context()
    context.add_cookies([{"name": "sessionid", "value": review["session"], "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/accounts/verificationcase/")
    page.locator("#result_list tr", has_text="Browser Person").get_by_role("link").first.click()
    # The reviewer opens the uploaded scan from the case page: a private route, not a public media URL.
    link = page.get_by_role("link", name="Open scan.pdf")
    href = link.get_attribute("href")
    assert "/media/" not in href and href.endswith("/")
    scan = context.request.get(f"{live_server.url}{href}")
    assert scan.status == 200 and scan.body().startswith(b"%PDF")
    page.get_by_label("Approve").check()
    page.get_by_label("Reason").fill("Passport matches the holder; sanctions list clear.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    body = page.inner_text("body")
    page.screenshot(path="/tmp/flex_admin_kyc_decided.png", full_page=True)  # noqa: S108 - an artefact to look at
    context.close()
    assert "Forbidden" not in body
    assert "Browser Person): approved." in body  # the success message
    assert "Verified" in body  # the case's status on its page
    assert "Passport matches the holder" in body  # the reason, in the case's audit trail

    def trading_rule():
        case = VerificationCase.objects.get(pk=review["case"].pk)
        verified = next(r for r in organisation_compliance(review["org"]) if r.rule == "verified")
        return case.status, verified.passed

    assert _in_thread(trading_rule) == (VerificationCase.Status.VERIFIED, True)


@pytest.fixture
def auditor_session():
    from accounts.models import Membership

    platform = accounts_services.organisation_create(name="Audit Firm", kind=Organisation.Kind.PLATFORM)
    auditor = accounts_services.user_create(
        email="auditor@t.flex", password="x-pass-123", organisation=platform, role=Membership.Role.AUDITOR
    )
    owner_org = accounts_services.organisation_create(name="Case Person", kind=Organisation.Kind.CONSUMER)
    owner = accounts_services.user_create(email="cp@t.flex", password="x-pass-123", organisation=owner_org)
    verification_case_create(organisation=owner_org, legal_name="Case Person", by=owner)
    client = Client()
    client.force_login(auditor)
    return client.cookies["sessionid"].value


def test_the_auditor_clicks_through_every_section_and_meets_no_write_control(auditor_session, live_server, chromium):  # noqa: F811
    from portal.audit import SECTIONS

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": auditor_session, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/audit/")
    seen = {}
    for section in SECTIONS:
        page.goto(f"{live_server.url}/audit/")
        page.get_by_test_id("audit-sections").get_by_role("link", name=section.title, exact=True).click()
        page.wait_for_load_state()
        seen[section.slug] = page.locator("h1").inner_text()
        # no control that writes: the only buttons are "Search" and "Sign out"
        buttons = {b.strip() for b in page.locator("main button, main input[type=submit]").all_inner_texts()}
        assert buttons <= {"Search", ""}, (section.slug, buttons)
    page.goto(f"{live_server.url}/audit/verification-cases/")
    page.get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    case_heading = page.locator("h1").inner_text()
    page.screenshot(path="/tmp/flex_auditor_case.png", full_page=True)  # noqa: S108 - an artefact to look at
    context.close()
    assert seen == {s.slug: s.title for s in SECTIONS}
    assert "Case Person" in case_heading
