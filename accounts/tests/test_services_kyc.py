"""KYC / KYB cases: the trading gate first (an unverified participant cannot offer), then the lifecycle, the
automatic rule checks, the manual review and the expiry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

import demo
from accounts import services as accounts_services
from accounts.kyc.providers import AutoApproveProvider, ManualReviewProvider
from accounts.kyc.services import (
    verification_case_create,
    verification_case_decide,
    verification_case_submit,
    verification_cases_expire,
    verification_document_add,
)
from accounts.models import AuditEntry, GridZone, Organisation, VerificationCase, VerificationDecision
from accounts.selectors import current_verification, organisation_trading_status
from assessment.services import flexibility_assess
from flexplatform.errors import ApplicationError, NotPermitted
from market.models import FlexibilityOffer
from market.services import offer_submit

PASSPORT = "passport"


def _consumer(name: str, *, holder: str | None = None):
    org = accounts_services.organisation_create(name=name, kind=Organisation.Kind.CONSUMER)
    user = accounts_services.user_create(
        email=f"{name.lower().replace(' ', '.')}@t.flex", password="x-pass-123", organisation=org
    )
    accounts_services.premise_create(
        organisation=org,
        name=f"{name} site",
        segment="residential",
        grid_zone=accounts_services.zone_create(code="z-test", name="Z"),
        utility_account_number="UA-1",
        utility_account_holder=holder or name,
    )
    return org, user


def _case(org, user, *, legal_name=None, number="X1234567", holder=None, expires_in_days=1000):
    case = verification_case_create(organisation=org, legal_name=legal_name or org.name, by=user)
    verification_document_add(
        case=case,
        doc_type=PASSPORT,
        number=number,
        holder_name=holder or legal_name or org.name,
        issuing_country="US",
        expires_on=timezone.now().date() + timedelta(days=expires_in_days),
        by=user,
    )
    return case


def _offer_args(world, premise):
    start, end = demo.event_window(world.day)
    a = flexibility_assess(premise=premise, window_start=start, window_end=end)
    return {
        "premise": premise,
        "zone": premise.grid_zone,
        "kw": a.capacity_kw,
        "price_per_mwh": Decimal("100.00"),
        "window_start": start,
        "window_end": end,
    }


def test_unverified_participant_cannot_offer(small_world, django_capture_on_commit_callbacks):
    household = small_world.premises[0]  # sells directly; verified by the demo's automatic provider
    assert organisation_trading_status(household.organisation).allowed
    case = current_verification(household.organisation)
    offer = offer_submit(seller=household.organisation, **_offer_args(small_world, household))
    # Verification lapses: trading is suspended, the open offer is withdrawn, a new offer is refused.
    later = case.verified_until + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):  # the market withdraws once the expiry commits
        assert verification_cases_expire(now=later) >= 1
    case.refresh_from_db()
    assert case.status == VerificationCase.Status.EXPIRED
    offer.refresh_from_db()
    assert offer.status == FlexibilityOffer.Status.CANCELLED
    status = organisation_trading_status(household.organisation)
    assert not status.allowed and "expired" in " ".join(status.reasons)
    with pytest.raises(NotPermitted) as exc:
        offer_submit(seller=household.organisation, **_offer_args(small_world, household))
    assert exc.value.code == "trading_suspended"
    assert verification_cases_expire(now=later) == 0  # idempotent
    assert AuditEntry.objects.filter(subject_id=case.pk, to_status="expired").count() == 1


@pytest.mark.django_db
def test_never_verified_participant_is_refused_with_the_reason():
    org, _ = _consumer("New Home")
    status = organisation_trading_status(org)
    assert not status.allowed
    assert "Not verified" in status.reasons[0]


@pytest.mark.django_db
def test_submit_without_identity_document_is_refused_and_nothing_changes():
    org, user = _consumer("Paper Less")
    case = verification_case_create(organisation=org, legal_name="Paper Less", by=user)
    with pytest.raises(ApplicationError) as exc:
        verification_case_submit(case=case, by=user, provider=AutoApproveProvider())
    assert "documents" in exc.value.fields
    case.refresh_from_db()
    assert case.status == VerificationCase.Status.DRAFT


@pytest.mark.django_db
def test_one_open_case_per_organisation():
    org, user = _consumer("Twice Home")
    verification_case_create(organisation=org, legal_name="Twice Home", by=user)
    with pytest.raises(ApplicationError) as exc:
        verification_case_create(organisation=org, legal_name="Twice Home", by=user)
    assert exc.value.code == "case_open"


@pytest.mark.django_db
def test_expired_document_rejects_the_case_with_the_reason():
    org, user = _consumer("Old Passport")
    case = _case(org, user, expires_in_days=-1)
    case = verification_case_submit(case=case, by=user, provider=AutoApproveProvider())
    assert case.status == VerificationCase.Status.REJECTED
    rules = VerificationDecision.objects.get(case=case, provider="rules")
    assert rules.outcome == "reject" and rules.reasons[0]["rule"] == "document_expired"
    assert not organisation_trading_status(org).allowed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        ({"holder": "Someone Else"}, "holder_name_mismatch"),
        ({"utility_holder": "Landlord Person"}, "utility_account_name_mismatch"),
        ({"legal_name": "Ivan Sanctionov"}, "sanctions_match"),
        ({"legal_name": "SANCTIONOV, Ivan"}, "sanctions_match"),
    ],
)
def test_rule_findings_refer_the_case_to_manual_review(setup, rule):
    org, user = _consumer("Flag Home", holder=setup.get("utility_holder", setup.get("legal_name")))
    case = _case(org, user, legal_name=setup.get("legal_name"), holder=setup.get("holder"))
    case = verification_case_submit(case=case, by=user, provider=AutoApproveProvider())
    assert case.status == VerificationCase.Status.IN_REVIEW
    assert rule in {f["rule"] for f in case.review_flags}
    assert not VerificationDecision.objects.filter(case=case, provider="auto").exists()


@pytest.mark.django_db
def test_same_identity_in_two_organisations_is_flagged():
    a, ua = _consumer("Alpha Home", holder="Jo Smith")
    b, ub = _consumer("Beta Home", holder="Jo Smith")
    verification_case_submit(
        case=_case(a, ua, legal_name="Jo Smith", number="SAME-1"), by=ua, provider=AutoApproveProvider()
    )
    second = verification_case_submit(
        case=_case(b, ub, legal_name="Jo Smith", number="same 1"), by=ub, provider=AutoApproveProvider()
    )
    assert second.status == VerificationCase.Status.IN_REVIEW
    flag = next(f for f in second.review_flags if f["rule"] == "identity_in_other_organisation")
    assert "Alpha Home" in flag["detail"]


@pytest.mark.django_db
def test_sanctions_list_path_is_configurable(settings, tmp_path):
    listed = tmp_path / "list.csv"
    listed.write_text("name,type,programme,country\nClean Looking Name,individual,TEST,XX\n")
    settings.KYC_SANCTIONS_LIST_PATH = str(listed)
    org, user = _consumer("Clean Looking Name")
    case = verification_case_submit(case=_case(org, user), by=user, provider=AutoApproveProvider())
    assert [f["rule"] for f in case.review_flags] == ["sanctions_match"]


@pytest.mark.django_db
def test_manual_review_queue_decision_needs_an_admin_and_a_reason(settings):
    settings.KYC_VALIDITY_DAYS = 30
    org, user = _consumer("Queue Home")
    case = verification_case_submit(case=_case(org, user), by=user, provider=ManualReviewProvider())
    assert case.status == VerificationCase.Status.IN_REVIEW
    with pytest.raises(NotPermitted):
        verification_case_decide(case=case, reviewer=user, approve=True, reason="self-approval")
    platform = accounts_services.organisation_create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = accounts_services.user_create(email="rev@t.flex", password="x-pass-123", organisation=platform)
    with pytest.raises(ApplicationError):
        verification_case_decide(case=case, reviewer=admin, approve=True, reason=" ")
    now = timezone.now()
    case = verification_case_decide(
        case=case, reviewer=admin, approve=True, reason="Passport checked by hand.", now=now
    )
    assert case.status == VerificationCase.Status.VERIFIED
    assert case.verified_until == now + timedelta(days=30)
    assert organisation_trading_status(org).allowed
    with pytest.raises(ApplicationError):  # decided once only
        verification_case_decide(case=case, reviewer=admin, approve=False, reason="again")
    trail = list(AuditEntry.objects.filter(subject_type="verification_case", subject_id=case.pk).order_by("at", "id"))
    assert [(e.from_status, e.to_status) for e in trail] == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "verified"),
    ]
    assert trail[-1].actor == admin and trail[-1].reason == "Passport checked by hand."


@pytest.mark.django_db
def test_verification_never_outlives_the_identity_document():
    org, user = _consumer("Short Doc")
    case = verification_case_submit(case=_case(org, user, expires_in_days=10), by=user, provider=AutoApproveProvider())
    assert case.status == VerificationCase.Status.VERIFIED
    assert case.verified_until.date() == timezone.now().date() + timedelta(days=11)


def test_demo_participants_are_verified_through_the_provider(small_world):
    for org in Organisation.objects.filter(kind__in=["consumer", "aggregator"]):
        case = current_verification(org)
        assert case is not None, org
        assert list(case.decisions.values_list("provider", "outcome")) == [("rules", "pass"), ("auto", "approve")]
    assert get_user_model().objects.filter(email="operator@demo.flex").exists()
    assert GridZone.objects.get(code="iso-east").jurisdiction == demo.JURISDICTION
