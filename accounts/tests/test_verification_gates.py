"""Two gates on what may be offered, refusals first.

* A premise's revenue meter must be *validated* (ownership shown, ``METER_VALIDATION_MIN_DAYS`` of history at
  ``METER_VALIDATION_MIN_COMPLETENESS`` clean, not offline): otherwise it is not a verified resource, it has no
  accredited capacity, and its seller's offers are refused with the reason.
* FERC Order No. 2222 minimum aggregation size: an aggregator whose portfolio in an ISO is below the ISO's
  minimum cannot offer into that ISO's wholesale products; the compliance status names the rule and numbers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

import demo
from accounts import services as accounts_services
from accounts.consents import consent_grant, enrolment_create
from accounts.models import Consent, GridZone, Organisation, Premise
from accounts.terms import terms_current
from assessment.selectors import accredited_capacity_kw
from assessment.services import meter_status_refresh
from flexplatform.errors import ApplicationError, NotPermitted
from market.services import offer_submit
from market.services.gates import premises_offerable_by
from market.services.orders import order_submit
from market.tests.factories import DAY, accredit, accredit_day

VERIFIED = "/api/v1/accounts/resources/verified/"
COMPLIANCE = "/api/v1/accounts/compliance/"
S, E = DAY + timedelta(hours=17), DAY + timedelta(hours=17, minutes=15)


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def fresh(small_world):
    """A verified household with a brand-new meter (no history yet) in the operator's zone."""
    org = accounts_services.organisation_create(name="Fresh Home", kind=Organisation.Kind.CONSUMER)
    user = accounts_services.user_create(email="fresh@t.flex", password="x-pass-123", organisation=org)
    premise = accounts_services.premise_create(
        organisation=org,
        name="Fresh site",
        segment=Premise.Segment.RESIDENTIAL,
        grid_zone=GridZone.objects.get(code="feeder-e1a"),
        timezone=demo.TZ,
        utility_account_number="UA-FRESH",
        utility_account_holder="Fresh Home",
    )
    meter = accounts_services.meter_create(premise=premise, meter_id="FRESH-1")
    demo.verify_participant(org, user=user, number="P-FRESH", segment=Premise.Segment.RESIDENTIAL)
    return premise, meter


def _offer(premise, seller, kw="2"):
    start, end = demo.event_window(DAY.date())
    return offer_submit(
        seller=seller,
        premise=premise,
        zone=premise.grid_zone,
        kw=Decimal(kw),
        price_per_mwh=Decimal("90"),
        window_start=start,
        window_end=end,
    )


def test_unvalidated_meter_is_not_a_verified_resource_and_cannot_be_offered(small_world, fresh, api_for):
    premise, meter = fresh
    start, end = demo.event_window(DAY.date())
    accredit(premise, start - timedelta(hours=1), end + timedelta(hours=1), 5)
    meter_status_refresh(meter=meter)
    operator = api_for("operator@demo.flex")
    # Verified owner, consent-free direct seller, assessed: still not listed, 0 kW accredited, offers refused.
    assert premise.pk not in _ids(operator.get(VERIFIED))
    assert _ids(operator.get(VERIFIED)) == {p.pk for p in small_world.premises}
    assert accredited_capacity_kw(premise=premise, start=start, end=end) == Decimal("0")
    assert not premises_offerable_by(premise.organisation).filter(pk=premise.pk).exists()
    with pytest.raises(NotPermitted) as refused:
        _offer(premise, premise.organisation)
    assert "meter FRESH-1 is not validated" in refused.value.detail
    assert "0 days of history; 14 needed" in refused.value.detail
    with pytest.raises(NotPermitted) as refused_order:
        order_submit(
            organisation=premise.organisation,
            market="real_time",
            product="congestion",
            side="sell",
            zone=premise.grid_zone,
            members=[(premise, Decimal("2"))],
            price_per_mwh=Decimal("90"),
            delivery_start=S,
            delivery_end=E,
            now=DAY - timedelta(days=1),
        )
    assert "meter FRESH-1 is not validated" in refused_order.value.detail
    status = api_for("fresh@t.flex").get(COMPLIANCE).json()
    failing = {r["rule"]: r for r in status["failing"]}
    assert "Fresh site: meter FRESH-1 is not validated" in failing["meter_validated"]["detail"]
    assert failing["meter_validated"]["blocking"] is False and status["may_trade"] is True
    portal = Client()
    portal.force_login(get_user_model().objects.get(email="fresh@t.flex"))
    page = portal.get("/compliance/")
    assert page.status_code == 200 and b"meter FRESH-1 is not validated" in page.content
    admin = Client()
    admin.force_login(get_user_model().objects.get(email="admin@demo.flex"))
    meter_page = admin.get(f"/admin/accounts/meter/{meter.pk}/change/").content.decode()
    assert "0 days of history; 14 needed. Completeness 0.0% is below 90%. Meter has sent no data yet." in meter_page
    unvalidated = admin.get("/admin/accounts/meter/?status__validated__exact=0").content.decode()
    assert "FRESH-1" in unvalidated and "MTR-0001" not in unvalidated
    # Enough clean history, imported with the premise's utility account (ownership): validated and listed.
    demo.meter_history_load(meter=meter, until=small_world.day, days=21)
    listed = {r["id"]: r for r in operator.get(VERIFIED).json()["results"]}
    assert premise.pk in listed and listed[premise.pk]["meter_validated_at"] is not None
    assert accredited_capacity_kw(premise=premise, start=start, end=end) == Decimal("5.000")
    assert _offer(premise, premise.organisation).kw == Decimal("2")
    assert "meter_validated" not in {r["rule"] for r in api_for("fresh@t.flex").get(COMPLIANCE).json()["failing"]}


def test_a_meter_gone_offline_drops_an_enrolled_premise(small_world, api_for):
    premise = Premise.objects.get(name="Household 02 site")  # enrolled with the aggregator
    accredit_day([premise], 5)
    assert premises_offerable_by(small_world.aggregator).filter(pk=premise.pk).exists()
    # Three days without data: the meter is offline, no longer validated.
    status = meter_status_refresh(meter=premise.meters.get(), now=timezone.now() + timedelta(days=3))
    assert not status.validated and "Meter is offline." in status.reasons
    assert premise.pk not in _ids(api_for("operator@demo.flex").get(VERIFIED))
    assert not premises_offerable_by(small_world.aggregator).filter(pk=premise.pk).exists()
    with pytest.raises(NotPermitted) as refused:
        _offer(premise, small_world.aggregator)
    assert "Meter is offline." in refused.value.detail
    failing = api_for("aggregator@demo.flex").get(COMPLIANCE).json()["failing"]
    assert any(r["rule"] == "meter_validated" and "Household 02 site" in r["detail"] for r in failing)


def _wholesale(aggregator, members, product="energy"):
    return order_submit(
        organisation=aggregator,
        market="real_time",
        product=product,
        side="sell",
        zone=GridZone.objects.get(code="iso-east"),
        members=members,
        price_per_mwh=Decimal("90"),
        delivery_start=S,
        delivery_end=E,
        now=DAY - timedelta(days=1),
    )


def test_aggregation_below_the_iso_minimum_cannot_offer_wholesale(small_world, api_for):
    agg = small_world.aggregator
    p0, p1, p2 = small_world.premises[0], small_world.premises[1], small_world.premises[2]
    accredit_day([p1, p2], 31)  # the aggregator's PJM portfolio: 62 kW
    with pytest.raises(ApplicationError) as refused:
        _wholesale(agg, [(p1, Decimal("31")), (p2, Decimal("31"))])
    assert refused.value.code == "below_minimum_aggregation"
    assert "aggregation 62 kW < 100 kW minimum (FERC 2222, PJM)" in refused.value.detail
    with pytest.raises(ApplicationError) as capacity:  # every wholesale product, not only energy
        order_submit(
            organisation=agg,
            market="day_ahead",
            product="capacity",
            side="sell",
            zone=GridZone.objects.get(code="iso-east"),
            members=[(p1, Decimal("31"))],
            price_per_mwh=Decimal("90"),
            delivery_start=DAY + timedelta(hours=17),
            delivery_end=DAY + timedelta(hours=18),
            now=DAY - timedelta(days=1),
        )
    assert capacity.value.code == "below_minimum_aggregation"
    # Local (DSO) flexibility has no aggregation minimum.
    local = _wholesale(agg, [(p1, Decimal("10"))], product="congestion")
    assert local.order.kw == Decimal("10")
    # The compliance status (API, portal, admin) names the failing rule with the numbers.
    status = api_for("aggregator@demo.flex").get(COMPLIANCE).json()
    rule = next(r for r in status["failing"] if r["rule"] == "minimum_aggregation_size")
    assert rule["detail"].startswith("aggregation 62 kW < 100 kW minimum (FERC 2222, PJM)")
    assert status["may_trade"] is True  # it still trades locally
    assert status["aggregations"] == [
        {
            "jurisdiction": "US-FERC2222-PJM",
            "iso": "PJM",
            "kw": "62.000",
            "minimum_kw": "100",
            "premises": 2,
            "passed": False,
            "source": status["aggregations"][0]["source"],
        }
    ]
    assert "FERC Order No. 2222" in status["aggregations"][0]["source"]
    portal = Client()
    portal.force_login(get_user_model().objects.get(email="aggregator@demo.flex"))
    assert "aggregation 62 kW &lt; 100 kW minimum (FERC 2222, PJM)" in portal.get("/compliance/").content.decode()
    admin = Client()
    admin.force_login(get_user_model().objects.get(email="admin@demo.flex"))
    page = admin.get(f"/admin/accounts/organisation/{agg.pk}/change/")
    assert page.status_code == 200
    assert "aggregation 62 kW &lt; 100 kW minimum (FERC 2222, PJM)" in page.content.decode()
    # A third household joins the portfolio (its owner consents): 112 kW, the wholesale offer is accepted.
    owner = get_user_model().objects.get(email="consumer01@demo.flex")
    consent_grant(
        premise=p0,
        aggregator=agg,
        by=owner,
        scopes=[Consent.Scope.INTERVAL_READINGS, Consent.Scope.DEVICE_CONTROL],
        expires_at=timezone.now() + timedelta(days=365),
        terms=terms_current(agg),
    )
    enrolment_create(premise=p0, aggregator=agg)
    accredit_day([p0], 50)
    out = _wholesale(agg, [(p0, Decimal("50")), (p1, Decimal("21")), (p2, Decimal("31"))])  # p1: 10 kW sold locally
    assert out.order.kw == Decimal("102")
    status = api_for("aggregator@demo.flex").get(COMPLIANCE).json()
    assert "minimum_aggregation_size" not in {r["rule"] for r in status["failing"]}
    assert status["aggregations"][0]["kw"] == "112.000" and status["aggregations"][0]["passed"] is True


def test_nyiso_minimum_is_10_kw():
    from accounts import compliance

    nyiso = compliance.PROFILES["US-FERC2222-NYISO"]
    assert not compliance.aggregation_size_rule(nyiso, Decimal("9.5")).passed
    assert compliance.aggregation_size_rule(nyiso, Decimal("10")).passed
    assert compliance.aggregation_size_rule(compliance.PROFILES["EU-CEP"], Decimal("1")) is None
    assert all(
        p.min_aggregation_kw <= 100 for p in compliance.PROFILES.values() if p.min_aggregation_kw is not None
    )  # FERC Order 2222's cap


def test_compliance_page_is_for_consumers_and_aggregators_only(world):
    assert Client().get("/compliance/").status_code == 302  # anonymous: sign in first
    operator = Client()
    operator.force_login(get_user_model().objects.get(email="operator@demo.flex"))
    assert operator.get("/compliance/").status_code == 403  # the page is for sellers
    consumer = Client()
    consumer.force_login(get_user_model().objects.get(email="consumer01@demo.flex"))
    page = consumer.get("/compliance/")
    assert page.status_code == 200 and b"You may trade." in page.content
    assert b"no quality check has run" in page.content  # the world has no meter history: not validated yet


def test_refusal_for_someone_elses_premise_names_it_by_id_only(small_world, fresh):
    """Offering a premise one has no relation to is refused without revealing its owner's data (its name)."""
    premise, _meter = fresh
    other = small_world.premises[0]
    with pytest.raises(NotPermitted) as refused:
        _offer(other, premise.organisation)
    assert f"Premise {other.pk} is not yours" in refused.value.detail
    assert other.name not in refused.value.detail
