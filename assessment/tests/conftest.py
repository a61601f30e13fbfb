"""Fixtures for meter data tests: two consumers with a meter each, an aggregator, an operator and an admin."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts import services as acc
from accounts.consents import consent_grant, enrolment_create
from accounts.mfa import totp_activate
from accounts.models import Consent, GridZone, Organisation, Premise
from demo import TOTP_SECRET, verify_participant

TZ = "America/New_York"


@pytest.fixture
def meter_world(db):
    iso = acc.zone_create(code="iso-t", name="ISO T")
    feeder = acc.zone_create(code="feeder-t1", name="Feeder T1", kind=GridZone.Kind.FEEDER, parent=iso)
    other_zone = acc.zone_create(code="iso-other", name="ISO Other")
    operator = acc.organisation_create(name="T DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[iso])
    far_operator = acc.organisation_create(
        name="Far DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[other_zone]
    )
    aggregator = acc.organisation_create(name="T Aggregator", kind=Organisation.Kind.AGGREGATOR)
    platform = acc.organisation_create(name="T Platform", kind=Organisation.Kind.PLATFORM)
    alice_org = acc.organisation_create(name="Alice", kind=Organisation.Kind.CONSUMER)
    bob_org = acc.organisation_create(name="Bob", kind=Organisation.Kind.CONSUMER)
    alice_site = acc.premise_create(
        organisation=alice_org, name="Alice home", segment=Premise.Segment.RESIDENTIAL, grid_zone=feeder,
        timezone=TZ,
    )  # fmt: skip
    bob_site = acc.premise_create(
        organisation=bob_org, name="Bob shop", segment=Premise.Segment.COMMERCIAL, grid_zone=feeder, timezone=TZ
    )
    Premise.objects.filter(pk=alice_site.pk).update(utility_account_number="ACCT-ALICE-1")
    Premise.objects.filter(pk=bob_site.pk).update(utility_account_number="ACCT-BOB-1")
    users = {}
    for email, org in [
        ("alice@t.test", alice_org),
        ("bob@t.test", bob_org),
        ("agg@t.test", aggregator),
        ("op@t.test", operator),
        ("far-op@t.test", far_operator),
        ("admin@t.test", platform),
    ]:
        users[email.split("@")[0]] = acc.user_create(email=email, password="pw-123456789", organisation=org)
    for name in ("op", "far-op", "admin"):  # operators and admins must have MFA
        totp_activate(user=users[name], secret=TOTP_SECRET)
    # Alice's home is enrolled with the aggregator, with her consent (the only way to enrol); both are verified.
    verify_participant(aggregator, user=users["agg"], number="REG-T-AGG", segment=None)
    verify_participant(alice_org, user=users["alice"], number="P-ALICE-1", segment=Premise.Segment.RESIDENTIAL)
    consent_grant(
        premise=alice_site,
        aggregator=aggregator,
        by=users["alice"],
        scopes=[Consent.Scope.INTERVAL_READINGS],
        expires_at=timezone.now() + timedelta(days=365),
    )
    enrolment_create(premise=alice_site, aggregator=aggregator, by=users["agg"])
    alice_site.refresh_from_db()
    return SimpleNamespace(
        alice_meter=acc.meter_create(premise=alice_site, meter_id="A-1", interval_minutes=15),
        bob_meter=acc.meter_create(premise=bob_site, meter_id="B-1", interval_minutes=15),
        alice_site=alice_site,
        bob_site=bob_site,
        users=users,
    )
