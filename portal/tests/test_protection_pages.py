"""The bill-protection and tax pages refuse the wrong role or tenant, and change nothing when they refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.mfa import totp_activate
from accounts.models import Consent, Enrolment, Membership, Organisation, TaxProfile
from demo import TOTP_SECRET
from settlement.models import BillProtectionEnrolment, PremiseTariff
from settlement.tests.factories import world_make

pytestmark = pytest.mark.django_db
R = Membership.Role


def _login(org, role, name):
    user = get_user_model().objects.create(username=name, email=f"{name}@x.test")
    Membership.objects.create(user=user, organisation=org, role=role)
    if role in (R.ADMIN, R.GRID_OPERATOR):
        totp_activate(user=user, secret=TOTP_SECRET)
    c = Client()
    c.force_login(user)
    return c, user


def test_refusals_on_the_pages():
    w = world_make(n=2, tag="pp")
    c1, _ = _login(w.consumers[1], R.CONSUMER, "c1")
    # another tenant's premise: refused, nothing stored
    r = c1.post("/protection/", {"action": "opt_in", "premise": w.premises[0].pk}, follow=True)
    assert "Refused: Not your premise." in r.content.decode()
    r = c1.post("/protection/", {"action": "tariff", "premise": w.premises[0].pk, "kind": "flat", "rate": "0.2"})
    assert not BillProtectionEnrolment.objects.exists() and not PremiseTariff.objects.exists()
    # a bad tariff names the field
    r = c1.post(
        "/protection/",
        {
            "action": "tariff",
            "premise": w.premises[1].pk,
            "kind": "tou",
            "rate": "0.1",
            "period_from_0": "9",
            "period_to_0": "10:00",
            "period_rate_0": "0.3",
        },
        follow=True,
    )
    assert "periods.0.from" in r.content.decode() and not PremiseTariff.objects.exists()
    # a consumer may not fund the pool, nor read another organisation's statement
    r = c1.post("/protection/", {"action": "fund", "amount": "5", "reference": "x"}, follow=True)
    assert "Refused: Only platform admins" in r.content.decode()
    assert c1.get(f"/tax/{w.consumers[0].pk}/2026.pdf").status_code == 403
    assert c1.get(f"/tax/{w.consumers[1].pk}/2026.xls").status_code == 404
    assert c1.get(f"/tax/{w.consumers[1].pk}/2026.csv").status_code == 200
    # a grid operator has no bill-protection page; an auditor reads it and the statements, and writes nothing
    op, _ = _login(w.operator, R.GRID_OPERATOR, "op")
    assert op.get("/protection/").status_code == 403
    platform = Organisation.objects.create(name="PP Platform", kind=Organisation.Kind.PLATFORM)
    aud, _ = _login(platform, R.AUDITOR, "aud")
    assert aud.get("/protection/").status_code == 200
    assert aud.post("/protection/", {"action": "fund", "amount": "5", "reference": "x"}).status_code == 403
    assert aud.get(f"/tax/{w.consumers[0].pk}/2026.csv").status_code == 200
    r = aud.post("/tax/", {"country": "DE", "tax_id": "DE123456789"}, follow=True)
    assert not TaxProfile.objects.exists()


def test_an_aggregator_lists_and_reads_only_members_whose_terms_share_billing():
    w = world_make(n=2, tag="pa")
    agg = Organisation.objects.create(name="PA Agg", kind=Organisation.Kind.AGGREGATOR)
    client, user = _login(agg, R.AGGREGATOR, "agg")
    owner = get_user_model().objects.create(username="o", email="o@x.test")
    for premise, scopes in ((w.premises[0], ["interval_readings", "billing"]), (w.premises[1], ["interval_readings"])):
        consent = Consent.objects.create(
            premise=premise,
            aggregator=agg,
            granted_by=owner,
            scopes=scopes,
            purpose=Consent.Purpose.FLEXIBILITY_AGGREGATION,
            granted_at=datetime(2026, 1, 1, tzinfo=UTC),
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
        Enrolment.objects.create(premise=premise, aggregator=agg, consent=consent, starts_at=consent.granted_at)
    page = client.get("/tax/").content.decode()
    assert w.consumers[0].name in page and w.consumers[1].name not in page
    assert client.get(f"/tax/{w.consumers[0].pk}/2026.csv").status_code == 200
    assert client.get(f"/tax/{w.consumers[1].pk}/2026.csv").status_code == 403
