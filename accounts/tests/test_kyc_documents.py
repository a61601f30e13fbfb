"""KYC documents: stored outside every public path, opened from the case page by admins (and auditors) only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts import policies
from accounts import services as accounts_services
from accounts.kyc.documents import verification_document_open
from accounts.kyc.services import verification_case_create, verification_case_submit, verification_document_add
from accounts.mfa import totp_activate
from accounts.models import Membership, Organisation
from flexplatform.errors import NotFound

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def private_root(tmp_path, settings):
    settings.KYC_DOCUMENT_ROOT = str(tmp_path / "private-kyc")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path


@pytest.fixture
def uploaded(db, private_root):
    org = accounts_services.organisation_create(name="Doc Owner", kind=Organisation.Kind.CONSUMER)
    owner = accounts_services.user_create(email="owner@t.flex", password="x-pass-123", organisation=org)
    case = verification_case_create(organisation=org, legal_name="Doc Owner", by=owner)
    doc = verification_document_add(
        case=case,
        doc_type="passport",
        number="P123",
        holder_name="Doc Owner",
        expires_on=timezone.now().date() + timedelta(days=400),
        file=SimpleUploadedFile("passport.pdf", PDF, content_type="application/pdf"),
        by=owner,
    )
    verification_case_submit(case=case, by=owner)
    return {"owner": owner, "case": case, "doc": doc}


def _user(email, kind, role):
    org = accounts_services.organisation_create(name=email, kind=kind)
    return accounts_services.user_create(email=email, password="x-pass-123", organisation=org, role=role)


def test_the_file_is_stored_outside_media_and_has_no_url(uploaded, private_root):
    doc = uploaded["doc"]
    stored = private_root / "private-kyc" / doc.file.name
    assert stored.read_bytes() == PDF
    assert not (private_root / "media").exists()
    with pytest.raises(ValueError):  # base_url=None: no URL can be built for it
        doc.file.url  # noqa: B018


def test_the_owner_an_operator_and_an_aggregator_cannot_open_it(uploaded):
    doc = uploaded["doc"]
    refused = [
        uploaded["owner"],
        _user("op@t.flex", Organisation.Kind.GRID_OPERATOR, Membership.Role.GRID_OPERATOR),
        _user("agg@t.flex", Organisation.Kind.AGGREGATOR, Membership.Role.AGGREGATOR),
    ]
    for user in refused:
        assert not policies.kyc_documents_readable(user)
        with pytest.raises(NotFound):
            verification_document_open(user=user, document_id=doc.pk)


def test_an_auditor_and_an_admin_open_it(uploaded):
    auditor = _user("aud@t.flex", Organisation.Kind.PLATFORM, Membership.Role.AUDITOR)
    opened = verification_document_open(user=auditor, document_id=uploaded["doc"].pk)
    assert opened.file.read() == PDF and opened.content_type == "application/pdf" and opened.inline
    opened.file.close()


def test_the_case_page_links_the_document_and_the_route_streams_it_to_admins_only(uploaded):
    admin_org = accounts_services.organisation_create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = accounts_services.user_create(email="boss@t.flex", password="x-pass-123", organisation=admin_org)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    totp_activate(user=admin, secret="JBSWY3DPEHPK3PXP")
    client = Client()
    client.force_login(admin)
    case, doc = uploaded["case"], uploaded["doc"]
    page = client.get(f"/admin/accounts/verificationcase/{case.pk}/change/")
    link = f"/admin/accounts/verificationcase/{case.pk}/documents/{doc.pk}/"
    assert page.status_code == 200 and link.encode() in page.content
    response = client.get(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == PDF
    assert client.get(f"/admin/accounts/verificationcase/{case.pk}/documents/{doc.pk + 999}/").status_code == 404
    outsider = Client()
    outsider.force_login(uploaded["owner"])
    assert outsider.get(link).status_code in (302, 404)  # not staff: sent to the admin login, never the file
