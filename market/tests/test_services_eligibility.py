"""The order path's kept answers (``market.services.eligibility``, ``flexplatform.snapshots``): reused while
nothing changes, and every kind of change reaches the next order once it commits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Consent
from assessment.models import MeterStatus
from flexplatform import snapshots
from flexplatform.errors import ApplicationError, NotPermitted
from market.services import eligibility

from .factories import accredit
from .test_services_realtime import E, S, sell

INPUT_TABLES = (
    "accounts_verificationcase",
    "accounts_consent",
    "accounts_enrolment",
    "assessment_flexibilityassessment",
    "assessment_availabilitydeclaration",
    "assessment_meterstatus",
    "activation_enrollment",
    "activation_eventverification",
    "settlement_marketparameter",
)


def _sell5(mw, kw):
    p5 = mw.premise(5)  # the factory, selling directly, under sub-east-1
    return sell(mw, p5.organisation, [(p5, Decimal(kw))], product="congestion", zone=mw.sub1)


def _committed(django_capture_on_commit_callbacks, change):
    """Run ``change`` as a committed transaction would end: its on-commit publications run."""
    with django_capture_on_commit_callbacks(execute=True):
        change()
    assert not snapshots._pending.names  # published, nothing left waiting


def _reads_inputs(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if any(t in q["sql"] for t in INPUT_TABLES)]


def test_a_second_order_reuses_the_answers_and_reads_only_what_must_be_live(mw):
    _sell5(mw, "10")
    snapshots.forget_pending()  # the fixtures' writes: as if committed before the orders came
    _sell5(mw, "10")  # keeps the answers this time
    with CaptureQueriesContext(connection) as ctx:
        _sell5(mw, "10")
    assert _reads_inputs(ctx) == []
    assert any("FOR UPDATE" in q["sql"] or "accounts_premise" in q["sql"] for q in ctx.captured_queries)


def test_a_lower_assessment_caps_the_next_order(mw, django_capture_on_commit_callbacks):
    p5 = mw.premise(5)
    snapshots.forget_pending()
    _sell5(mw, "10")
    _committed(django_capture_on_commit_callbacks, lambda: accredit(p5, S - timedelta(hours=1), E, 15))
    with pytest.raises(ApplicationError) as e:
        _sell5(mw, "10")
    assert e.value.code == "over_capacity" and "5.000 kW" in str(e.value.detail)


def test_an_availability_declaration_caps_the_next_order(mw, django_capture_on_commit_callbacks):
    from assessment.services import availability_declare

    p5 = mw.premise(5)
    snapshots.forget_pending()
    _sell5(mw, "10")
    _committed(
        django_capture_on_commit_callbacks,
        lambda: availability_declare(
            premise=p5, organisation=p5.organisation, available_kw=Decimal("12"), valid_until=E + timedelta(days=1)
        ),
    )
    with pytest.raises(ApplicationError) as e:
        _sell5(mw, "10")
    assert e.value.code == "over_capacity" and "2.000 kW" in str(e.value.detail)


def test_a_meter_losing_validation_stops_the_next_order(mw, django_capture_on_commit_callbacks):
    p5 = mw.premise(5)
    snapshots.forget_pending()
    _sell5(mw, "10")

    def invalidate_meter():
        status = MeterStatus.objects.get(meter__premise=p5)
        status.validated = False
        status.reasons = ["offline for 3 days"]
        status.save()

    _committed(django_capture_on_commit_callbacks, invalidate_meter)
    with pytest.raises(NotPermitted) as e:
        _sell5(mw, "10")
    assert "not validated" in str(e.value.detail)


def test_a_revoked_consent_takes_the_premise_out_of_the_aggregators_next_order(mw, django_capture_on_commit_callbacks):
    from accounts.consents import consent_revoke

    p1 = mw.premise(1)
    snapshots.forget_pending()
    sell(mw, mw.aggregator, [(p1, Decimal("1"))], product="congestion", zone=mw.sub1)
    consent = Consent.objects.get(premise=p1, aggregator=mw.aggregator, status=Consent.Status.ACTIVE)
    owner = p1.organisation.memberships.first().user
    _committed(django_capture_on_commit_callbacks, lambda: consent_revoke(consent=consent, by=owner))
    with pytest.raises(NotPermitted) as e:
        sell(mw, mw.aggregator, [(p1, Decimal("1"))], product="congestion", zone=mw.sub1)
    assert str(p1.pk) in str(e.value.fields["members"])


def test_a_change_inside_the_open_transaction_is_read_live_and_not_kept(mw):
    """Before its commit, the changing transaction sees its change; no copy of it is kept for others."""
    p5 = mw.premise(5)
    snapshots.forget_pending()
    _sell5(mw, "10")
    accredit(p5, S - timedelta(hours=1), E, 15)  # not committed: pending
    with pytest.raises(ApplicationError):
        _sell5(mw, "10")
    key = ("premise", p5.pk)
    tokens, _, profile = eligibility._snapshots._copies[key]
    assert max(a[4] for a in profile.assessments) == Decimal("80")  # the copy still holds the committed rows


def test_a_verification_ending_bounds_how_long_the_answer_is_kept(mw):
    from accounts.selectors import current_verification

    p5 = mw.premise(5)
    case = current_verification(p5.organisation)
    case.verified_until = timezone.now() + timedelta(seconds=30)
    case.save(update_fields=["verified_until"])
    facts, valid_for = eligibility._load_organisation(p5.organisation)
    assert facts.trading.allowed and 0 < valid_for <= 30


def test_a_deleted_api_token_is_refused_at_once(mw, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    from accounts.models import ApiToken
    from accounts.tokens import api_token_issue

    seller = mw.premise(5).organisation.memberships.first().user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=seller)[1]}")
    assert client.get("/api/v1/market/orders/").status_code == 200
    snapshots.forget_pending()
    assert client.get("/api/v1/market/orders/").status_code == 200  # the answer is kept now
    _committed(django_capture_on_commit_callbacks, lambda: ApiToken.objects.filter(user=seller).delete())
    assert client.get("/api/v1/market/orders/").status_code == 401


def test_an_aggregator_licence_ending_bounds_how_long_the_answer_is_kept(mw):
    agg = mw.aggregator
    agg.licence_expires_on = timezone.now().date()  # valid today, expired from the next UTC midnight
    agg.save(update_fields=["licence_expires_on"])
    facts, valid_for = eligibility._load_organisation(agg)
    assert facts.trading.allowed and 0 < valid_for <= 24 * 3600


def test_an_order_post_reads_its_tokens_in_one_round_trip(mw, monkeypatch):
    from rest_framework.test import APIClient

    from accounts.tokens import api_token_issue
    from market.tests.test_api_orders import ORDERS, _sell_body
    from tests.test_snapshots import CountingTokens

    store = CountingTokens()
    monkeypatch.setattr(snapshots, "_store", store)
    p5 = mw.premise(5)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=p5.organisation.memberships.first().user)[1]}")
    assert client.post(ORDERS, _sell_body(p5, kw="1"), format="json").status_code == 201
    assert len(store.calls) == 1 and f"premise:{p5.pk}" in store.calls[0]


def test_the_live_capacity_read_stops_at_what_decides_the_answer(mw, django_assert_num_queries):
    """Unassessed: the assessments and the meter only (2 queries); assessed and counted: all six."""
    from assessment.selectors import accredited_capacity_kw

    p5 = mw.premise(5)
    later = S + timedelta(days=30)
    with django_assert_num_queries(2):
        assert accredited_capacity_kw(premise=p5, start=later, end=later + timedelta(minutes=15)) is None
    with django_assert_num_queries(6):
        assert accredited_capacity_kw(premise=p5, start=S, end=E) == Decimal("80.000")


def test_a_portfolios_profiles_read_at_once_are_the_profiles_read_one_by_one(mw, django_assert_max_num_queries):
    """``order_facts`` loads the stale profiles of a portfolio's members together (``capacity_profiles``): the same
    profiles as ``capacity_profile`` per premise, whatever each premise's factors are."""
    from activation.models import Enrollment
    from activation.services import market_program
    from assessment.models import AvailabilityDeclaration
    from assessment.selectors import capacity_profile, capacity_profiles

    premises = mw.world.premises
    program = market_program()
    Enrollment.objects.create(program=program, premise=premises[1], committed_kw=5, safety_max_kw=5, derate="0.5")
    Enrollment.objects.create(
        program=program, premise=premises[2], committed_kw=5, safety_max_kw=5, status=Enrollment.Status.SUSPENDED
    )
    AvailabilityDeclaration.objects.create(
        premise=premises[3], declared_by=premises[3].organisation, available_kw=12, valid_from=S - timedelta(hours=1),
        valid_until=E + timedelta(hours=1), created_at=timezone.now(),
    )  # fmt: skip
    since = S - timedelta(days=2)
    ids = [p.pk for p in premises]
    with django_assert_max_num_queries(6):
        many = capacity_profiles(premise_ids=ids, since=since)
    assert many == {pid: capacity_profile(premise=pid, since=since) for pid in ids}
    assert many[premises[1].pk].derate == Decimal("0.5") and many[premises[2].pk].suspended
    assert many[premises[3].pk].declarations


def _past_window():
    """A 15-minute window that started two days ago (an order given a clock in the past: the demo's day)."""
    start = (timezone.now() - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(minutes=15)


def test_a_past_windows_portfolio_order_reads_its_members_capacity_at_once(mw):
    """An order for a window before what the kept profiles cover reads its members' profiles together (one read of
    each input, however many members), not each member's again (up to six queries a member; ADR 0048), and the
    capacity rule gives the same answers: within the accredited kW accepted, above it refused."""
    start, end = _past_window()
    members = [mw.premise(1), mw.premise(2)]
    for p in members:
        accredit(p, start - timedelta(hours=1), end + timedelta(hours=1), 20)
    snapshots.forget_pending()
    now = start - timedelta(hours=1)
    with CaptureQueriesContext(connection) as ctx:
        out = sell(mw, mw.aggregator, [(p, Decimal("15")) for p in members], product="congestion", zone=mw.iso,
                   start=start, end=end, now=now)  # fmt: skip
    assert out.order.kw == Decimal("30")
    reads = [q["sql"] for q in ctx.captured_queries if "assessment_flexibilityassessment" in q["sql"]]
    assert len(reads) == 1
    with pytest.raises(ApplicationError) as e:
        sell(mw, mw.aggregator, [(p, Decimal("10")) for p in members], product="congestion", zone=mw.iso,
             start=start, end=end, now=now)  # fmt: skip
    assert e.value.code == "over_capacity" and "5.000 kW" in str(e.value.detail)
    assert not any(k[0] == "premise" for k in eligibility._snapshots._copies)  # nothing kept from the past read


def test_entering_many_orders_for_one_aggregator_loads_its_facts_once(mw, monkeypatch):
    calls = []
    load = eligibility._load_organisation
    monkeypatch.setattr(eligibility, "_load_organisation", lambda org: calls.append(org.pk) or load(org))
    snapshots.forget_pending()
    p1 = mw.premise(1)
    for _ in range(4):
        sell(mw, mw.aggregator, [(p1, Decimal("1"))], product="congestion", zone=mw.sub1)
    assert calls == [mw.aggregator.pk]


def test_the_answers_end_is_read_on_each_tables_own_columns(mw, django_capture_on_commit_callbacks):
    """The verifications, consents and enrolments that bound how long a seller's answer is kept are read on their own
    tables' columns, one branch at a time (an OR across a join reads every row of the platform, once per seller);
    the same moments bound it: a consent on the household's own premise (for the household and for the
    aggregator holding it), the owner's verification of a premise the aggregator offers."""
    from accounts.selectors import current_verification

    p1, p5 = mw.premise(1), mw.premise(5)
    with CaptureQueriesContext(connection) as ctx:
        eligibility._load_organisation(p5.organisation)
    bounds = [q["sql"] for q in ctx.captured_queries if "MIN(" in q["sql"]]
    assert len(bounds) == 5 and not any("JOIN" in sql or " OR " in sql for sql in bounds)
    consent = Consent.objects.filter(premise=p1, status=Consent.Status.ACTIVE).first()
    soon = timezone.now() + timedelta(seconds=40)
    Consent.objects.filter(pk=consent.pk).update(expires_at=soon)  # on the household's own premise
    assert 0 < eligibility._load_organisation(p1.organisation)[1] <= 40
    assert 0 < eligibility._load_organisation(mw.aggregator)[1] <= 40
    Consent.objects.filter(pk=consent.pk).update(expires_at=soon + timedelta(days=300))
    case = current_verification(p1.organisation)
    case.verified_until = timezone.now() + timedelta(seconds=50)
    case.save(update_fields=["verified_until"])
    facts, valid_for = eligibility._load_organisation(mw.aggregator)  # the premise's owner, not the aggregator
    assert p1.pk in facts.offerable and 0 < valid_for <= 50
