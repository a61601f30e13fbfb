"""Enrolment terms and portfolio splits in the browser's pages (ADR 0024): the aggregator publishes terms, the
owner sees them on the consent step and accepts a version, and both sides' compensation pages show the split.
Refusals first: terms out of range, a consent without the aggregator's terms."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Consent, ConsentTerms, Membership
from settlement.services.runs import settlement_run_execute
from settlement.tests.factories import DAY, NOW, event_make, world_make

pytestmark = pytest.mark.django_db
R = Membership.Role


def _login(org, role, name):
    user = get_user_model().objects.create(username=name, email=f"{name}@x.test")
    Membership.objects.create(user=user, organisation=org, role=role)
    c = Client()
    c.force_login(user)
    return c


def test_terms_published_shown_at_consent_accepted_and_the_split_on_both_sides():
    w = world_make(n=2, aggregator_members=1, tag="pt")
    agg = _login(w.aggregator, R.AGGREGATOR, "agg")
    owner = _login(w.consumers[0], R.CONSUMER, "own")
    bad = agg.post(
        "/aggregator/terms/",
        {
            "revenue_share_pct": "150",
            "fee_per_kw_month": "0",
            "member_penalty_pct": "25",
            "payment_frequency": "monthly",
        },
    )
    assert bad.status_code == 200 and b"errorlist" in bad.content
    assert owner.get("/aggregator/terms/").status_code == 403  # a consumer publishes no terms
    assert owner.post("/aggregator/terms/", {"revenue_share_pct": "1", "member_penalty_pct": "1"}).status_code == 403
    assert b"No terms published" in agg.get("/aggregator/terms/").content
    ok = agg.post(
        "/aggregator/terms/",
        {
            "revenue_share_pct": "20",
            "fee_per_kw_month": "0",
            "member_penalty_pct": "25",
            "payment_frequency": "monthly",
        },
    )
    assert ok.status_code == 302
    page = agg.get("/aggregator/terms/")
    assert b"v1 (in force)" in page.content and b"keeps 20.00 % of revenue" in page.content
    assert b'data-testid="terms-link"' in agg.get("/aggregator/").content
    # the owner sees the terms on the consent step
    step = owner.get("/onboarding/consent/")
    assert b'data-testid="aggregator-terms"' in step.content
    assert b"you bear 25.00 % of penalties (the aggregator 75.00 %); paid monthly" in step.content
    consent = {"premise": w.premises[0].pk, "aggregator": w.aggregator.pk, "scopes": ["interval_readings"], "months": 6}
    refused = owner.post("/onboarding/consent/", consent)  # terms not accepted
    assert refused.status_code == 200 and b"Accept the aggregator" in refused.content
    assert not Consent.objects.exists()
    terms = w.aggregator.commercial_terms.get()
    assert owner.post("/onboarding/consent/", {**consent, "terms": terms.pk}).status_code == 302
    c = Consent.objects.get()
    assert ConsentTerms.objects.get(consent=c).terms == terms
    # an event of the member's premise sold by the aggregator, after the consent: 2 kWh x 200 / 1000 = 0.40;
    # fee 20 % = 0.08; member 0.32
    Consent.objects.filter(pk=c.pk).update(granted_at=DAY - timedelta(days=1))
    event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=17),
        delivered=[D("1"), D("1")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    for client in (owner, agg):
        page = client.get("/compensation/")
        assert b'data-testid="portfolio-split"' in page.content
        assert b'data-testid="split-fee-total">0.08' in page.content
        assert b'data-testid="split-share-total">0.32' in page.content
    # the statement shows the split too
    csv = owner.get(f"/api/v1/settlement/statements/{DAY.year}/{DAY.month}.csv").content.decode()
    assert "# portfolio aggregator_fee,0.08" in csv and "# portfolio member_share,0.32" in csv
