"""The onboarding wizard: account -> premise -> consent -> KYC upload, through the portal."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import Consent, GridZone, Organisation, Premise, VerificationCase


def test_wizard_walks_a_new_consumer_to_a_submitted_kyc_case(small_world):
    user = get_user_model().objects.create_user(username="new@t.flex", email="new@t.flex", password="x-pass-123")
    client = Client()
    client.force_login(user)
    first = client.get("/onboarding/", follow=True)
    assert b'data-testid="step-account"' in first.content and b"0 % done" in first.content
    # An existing organisation's name is refused, never joined.
    taken = client.post("/onboarding/account/", {"name": "Household 01"})
    assert taken.status_code == 200 and not Organisation.objects.filter(memberships__user=user).exists()
    assert client.post("/onboarding/account/", {"name": "New Home"}).status_code == 302
    feeder = GridZone.objects.get(code="feeder-e1a")
    premise = {
        "name": "New site",
        "segment": "residential",
        "grid_zone": feeder.pk,
        "address": "1 New St",
        "utility_account_number": "UA-9",
        "utility_account_holder": "New Home",
        "tariff": "TOU-A",
        "timezone": "America/New_York",
    }
    assert client.post("/onboarding/premise/", premise).status_code == 302
    site = Premise.objects.get(name="New site")
    consent = {
        "premise": site.pk,
        "aggregator": small_world.aggregator.pk,
        "scopes": ["interval_readings"],
        "months": 6,
    }
    assert client.post("/onboarding/consent/", consent).status_code == 302
    assert Consent.objects.get(premise=site).expires_at > timezone.now() + timedelta(days=170)
    kyc = {
        "legal_name": "New Home",
        "doc_type": "passport",
        "number": "N1",
        "issuing_country": "US",
        "expires_on": (timezone.now().date() + timedelta(days=800)).isoformat(),
    }
    assert client.post("/onboarding/kyc/", kyc).status_code == 302
    case = VerificationCase.objects.get(organisation__name="New Home")
    assert case.status == VerificationCase.Status.IN_REVIEW
    done = client.get("/onboarding/")
    assert b"100 % done" in done.content and b'data-testid="done"' in done.content
