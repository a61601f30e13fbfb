"""Consent and enrolment: no enrolment without consent; revocation drops the premise from offers; double
participation; expiry; jurisdiction eligibility at enrolment; every status change audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

import demo
from accounts import services as accounts_services
from accounts.consents import consent_grant, consent_revoke, consents_expire, enrolment_create
from accounts.models import AuditEntry, Consent, Enrolment, Organisation, Premise
from accounts.selectors import premises_represented_by, premises_visible_to
from accounts.terms import terms_current
from assessment.services import flexibility_assess
from flexplatform.errors import ApplicationError, Conflict, NotPermitted
from market.models import FlexibilityOffer
from market.services import offer_submit

User = get_user_model()


def _user(email):
    return User.objects.get(email=email)


def _enrolled(world) -> Premise:
    return Premise.objects.get(name="Household 02 site")


def _offer(world, premise, seller):
    start, end = demo.event_window(world.day)
    a = flexibility_assess(premise=premise, window_start=start, window_end=end)
    return offer_submit(
        seller=seller,
        premise=premise,
        zone=premise.grid_zone,
        kw=a.capacity_kw,
        price_per_mwh=Decimal("90.00"),
        window_start=start,
        window_end=end,
    )


def test_revoked_consent_drops_the_premise_from_offers(small_world, django_capture_on_commit_callbacks):
    premise = _enrolled(small_world)
    aggregator = small_world.aggregator
    offer = _offer(small_world, premise, aggregator)
    consent = Consent.objects.get(premise=premise, aggregator=aggregator, status="active")
    # Only the owner revokes.
    with pytest.raises(NotPermitted):
        consent_revoke(consent=consent, by=_user("aggregator@demo.flex"))
    with django_capture_on_commit_callbacks(execute=True):  # the market withdraws once the revocation commits
        consent_revoke(consent=consent, by=_user("consumer02@demo.flex"), reason="Moving out.")
    offer.refresh_from_db()
    assert offer.status == FlexibilityOffer.Status.CANCELLED
    assert not premises_represented_by(aggregator).filter(pk=premise.pk).exists()
    assert not premises_visible_to(_user("aggregator@demo.flex")).filter(pk=premise.pk).exists()
    with pytest.raises(NotPermitted):
        _offer(small_world, premise, aggregator)
    premise.refresh_from_db()
    assert premise.aggregator is None
    assert Enrolment.objects.get(premise=premise).status == Enrolment.Status.ENDED
    # The owner may now offer it directly (no longer enrolled elsewhere).
    assert premises_represented_by(premise.organisation).filter(pk=premise.pk).exists()
    trail = {
        (e.subject_type, e.from_status, e.to_status) for e in AuditEntry.objects.filter(at__gte=consent.granted_at)
    }
    assert ("consent", "active", "revoked") in trail and ("enrolment", "active", "ended") in trail
    with pytest.raises(ApplicationError):
        consent_revoke(consent=consent, by=_user("consumer02@demo.flex"))


def test_no_enrolment_without_consent(small_world):
    premise = Premise.objects.get(name="Household 01 site")  # not enrolled, no consent
    with pytest.raises(NotPermitted) as exc:
        enrolment_create(premise=premise, aggregator=small_world.aggregator, by=_user("aggregator@demo.flex"))
    assert exc.value.code == "no_consent"
    assert not Enrolment.objects.filter(premise=premise).exists()
    # The enrolled owner cannot sell the premise twice either.
    assert not premises_represented_by(_enrolled(small_world).organisation).exists()


def test_consent_scope_must_cover_interval_data(small_world):
    premise = Premise.objects.get(name="Household 01 site")
    consent_grant(
        premise=premise,
        aggregator=small_world.aggregator,
        by=_user("consumer01@demo.flex"),
        scopes=["billing"],
        expires_at=timezone.now() + timedelta(days=30),
        terms=terms_current(small_world.aggregator),
    )
    with pytest.raises(NotPermitted):
        enrolment_create(premise=premise, aggregator=small_world.aggregator, by=_user("aggregator@demo.flex"))


def test_double_participation_is_refused(small_world):
    premise = _enrolled(small_world)
    rival = accounts_services.organisation_create(name="Rival Flex", kind=Organisation.Kind.AGGREGATOR)
    accounts_services.aggregator_licence_set(organisation=rival, licence_number="PJM-DERA-9")
    demo.verify_participant(rival, user=None, number="REG-RIVAL", segment=None)
    consent_grant(
        premise=premise,
        aggregator=rival,
        by=_user("consumer02@demo.flex"),
        scopes=["interval_readings"],
        expires_at=timezone.now() + timedelta(days=30),
    )
    with pytest.raises(Conflict) as exc:
        enrolment_create(premise=premise, aggregator=rival)
    assert exc.value.code == "double_participation"
    # Another service is allowed.
    assert enrolment_create(premise=premise, aggregator=rival, service=Enrolment.Service.CAPACITY).status == "active"


def test_enrolment_checks_jurisdiction_eligibility(small_world):
    premise = Premise.objects.get(name="Household 01 site")
    aggregator = small_world.aggregator
    accounts_services.aggregator_licence_set(organisation=aggregator, licence_number="")
    consent_grant(
        premise=premise,
        aggregator=aggregator,
        by=_user("consumer01@demo.flex"),
        scopes=["interval_readings"],
        expires_at=timezone.now() + timedelta(days=30),
        terms=terms_current(aggregator),
    )
    with pytest.raises(ApplicationError) as exc:
        enrolment_create(premise=premise, aggregator=aggregator)
    assert exc.value.code == "not_eligible" and "aggregator_licence" in exc.value.fields


def test_expired_consent_stops_data_use_before_and_after_the_task(small_world):
    premise = _enrolled(small_world)
    consent = Consent.objects.get(premise=premise, status="active")
    later = consent.expires_at + timedelta(seconds=1)
    assert not premises_represented_by(small_world.aggregator, now=later).filter(pk=premise.pk).exists()
    assert consents_expire(now=later) == 2  # both households' consents
    consent.refresh_from_db()
    assert consent.status == Consent.Status.EXPIRED
    assert consents_expire(now=later) == 0


def test_consent_refuses_bad_input_and_strangers(small_world):
    premise = Premise.objects.get(name="Household 01 site")
    with pytest.raises(NotPermitted):
        consent_grant(
            premise=premise,
            aggregator=small_world.aggregator,
            by=_user("consumer02@demo.flex"),
            scopes=["interval_readings"],
            expires_at=timezone.now() + timedelta(days=3),
        )
    with pytest.raises(ApplicationError) as exc:
        consent_grant(
            premise=premise,
            aggregator=small_world.operator,
            by=_user("consumer01@demo.flex"),
            scopes=["nonsense"],
            expires_at=timezone.now() - timedelta(days=1),
        )
    assert set(exc.value.fields) == {"aggregator", "scopes", "expires_at"}
    assert not Consent.objects.filter(premise=premise).exists()
