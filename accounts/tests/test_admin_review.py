"""The KYC review queue in the admin console: listed, decided with a reason, refused without one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts import services as accounts_services
from accounts.kyc.providers import ManualReviewProvider
from accounts.kyc.services import verification_case_create, verification_case_submit, verification_document_add
from accounts.mfa import totp_activate
from accounts.models import Organisation, VerificationCase


@pytest.fixture
def queued(db):
    org = accounts_services.organisation_create(name="Queue Person", kind=Organisation.Kind.CONSUMER)
    user = accounts_services.user_create(email="q@t.flex", password="x-pass-123", organisation=org)
    case = verification_case_create(organisation=org, legal_name="Queue Person", by=user)
    verification_document_add(
        case=case,
        doc_type="passport",
        number="Q1",
        holder_name="Queue Person",
        expires_on=timezone.now().date() + timedelta(days=400),
    )
    return verification_case_submit(case=case, by=user, provider=ManualReviewProvider())


def _admin_client():
    platform = accounts_services.organisation_create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = accounts_services.user_create(email="boss@t.flex", password="x-pass-123", organisation=platform)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    totp_activate(user=admin, secret="JBSWY3DPEHPK3PXP")
    client = Client()
    client.force_login(admin)
    return client


def test_review_queue_lists_and_decides_cases(queued):
    client = _admin_client()
    listing = client.get("/admin/accounts/verificationcase/", follow=True)
    assert listing.status_code == 200 and b"Queue Person" in listing.content
    page = client.get(f"/admin/accounts/verificationcase/{queued.pk}/change/")
    assert page.status_code == 200 and b'data-testid="decide"' in page.content
    url = f"/admin/accounts/verificationcase/{queued.pk}/decide/"
    refused = client.post(url, {"decision": "approve", "reason": ""})
    assert refused.status_code == 200
    queued.refresh_from_db()
    assert queued.status == VerificationCase.Status.IN_REVIEW
    done = client.post(url, {"decision": "approve", "reason": "Documents checked."})
    assert done.status_code == 302
    queued.refresh_from_db()
    assert queued.status == VerificationCase.Status.VERIFIED


def test_admin_without_mfa_is_sent_to_totp_setup(queued):
    admin = get_user_model().objects.create_user(
        username="nomfa", email="nomfa@t.flex", password="x", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/accounts/verificationcase/")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"
