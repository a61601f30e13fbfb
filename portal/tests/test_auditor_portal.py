"""The auditor portal: every section readable by auditors (and admins), nobody else; no write control on any page
an auditor opens; pages cost the same queries at any table size; KYC documents opened from the case page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts import services as accounts_services
from accounts.kyc.services import verification_case_create, verification_document_add
from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from portal.audit import SECTIONS

pytestmark = pytest.mark.django_db
R = Membership.Role
POST_FORM = re.compile(rb"<form[^>]*method=\"post\"[^>]*>", re.I)


def _client(email, kind, role):
    org = accounts_services.organisation_create(name=email, kind=kind)
    user = accounts_services.user_create(email=email, password="x-pass-123", organisation=org, role=role)
    if role in (R.GRID_OPERATOR, R.ADMIN):
        totp_activate(user=user, secret="JBSWY3DPEHPK3PXP")
    client = Client()
    client.force_login(user)
    return client


def _write_forms(content: bytes) -> list[bytes]:
    """Every POST form on a page except signing out (which changes no record)."""
    return [f for f in POST_FORM.findall(content) if b"logout" not in f]


@pytest.fixture
def auditor():
    return _client("aud@t.flex", Organisation.Kind.PLATFORM, R.AUDITOR)


def _cases(n, start=0):
    for i in range(start, start + n):
        org = accounts_services.organisation_create(name=f"Person {i}", kind=Organisation.Kind.CONSUMER)
        user = accounts_services.user_create(email=f"p{i}@t.flex", password="x", organisation=org)
        verification_case_create(organisation=org, legal_name=f"Person {i}", by=user)


def test_other_roles_are_refused_every_audit_page():
    for email, kind, role in [
        ("c@t.flex", Organisation.Kind.CONSUMER, R.CONSUMER),
        ("a@t.flex", Organisation.Kind.AGGREGATOR, R.AGGREGATOR),
        ("o@t.flex", Organisation.Kind.GRID_OPERATOR, R.GRID_OPERATOR),
    ]:
        client = _client(email, kind, role)
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/ledger/").status_code == 403
    assert Client().get("/audit/").status_code == 302  # signed out: to the sign-in page


def test_an_auditor_lands_on_the_audit_home_reads_every_section_and_meets_no_write_control(auditor):
    _cases(3)
    home = auditor.get("/", follow=True)
    assert home.redirect_chain[-1][0] == "/audit/" and b"Read-only access" in home.content
    for section in SECTIONS:
        page = auditor.get(f"/audit/{section.slug}/")
        assert page.status_code == 200, section.slug
        assert section.title.encode() in page.content
        assert _write_forms(page.content) == [], section.slug
    cases = auditor.get("/audit/verification-cases/?q=Person 1")
    assert b"Person 1" in cases.content and b"Person 2" not in cases.content
    assert auditor.get("/audit/no-such-section/").status_code == 404


def test_an_auditor_is_not_offered_the_consumer_onboarding(auditor):
    response = auditor.get("/onboarding/")
    assert response.status_code == 302 and response["Location"] == "/audit/"


@pytest.mark.parametrize("slug", [s.slug for s in SECTIONS])
def test_a_section_page_costs_the_same_queries_at_any_size(auditor, slug):
    _cases(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        auditor.get(f"/audit/{slug}/")
    _cases(60, start=100)  # more than a page
    with CaptureQueriesContext(connection) as large:
        auditor.get(f"/audit/{slug}/")
    assert len(large.captured_queries) == len(small.captured_queries) <= 12


def test_the_auditor_opens_a_kyc_document_from_the_case_page(auditor, tmp_path, settings):
    settings.KYC_DOCUMENT_ROOT = str(tmp_path)
    org = accounts_services.organisation_create(name="Doc Person", kind=Organisation.Kind.CONSUMER)
    user = accounts_services.user_create(email="d@t.flex", password="x", organisation=org)
    case = verification_case_create(organisation=org, legal_name="Doc Person", by=user)
    doc = verification_document_add(
        case=case,
        doc_type="passport",
        number="D1",
        holder_name="Doc Person",
        expires_on=timezone.now().date() + timedelta(days=300),
        file=SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\nfake", content_type="image/png"),
        by=user,
    )
    page = auditor.get(f"/audit/cases/{case.pk}/")
    link = f"/audit/documents/{doc.pk}/"
    assert page.status_code == 200 and link.encode() in page.content and _write_forms(page.content) == []
    opened = auditor.get(link)
    assert opened.status_code == 200 and b"".join(opened.streaming_content).startswith(b"\x89PNG")
    consumer = Client()
    consumer.force_login(user)
    assert consumer.get(link).status_code == 404  # the owner too: documents are for reviewers and auditors
