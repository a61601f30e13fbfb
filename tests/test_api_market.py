"""The market's REST API as sellers and grid operators use it: offers, requests, clearing and awards.

Every refusal answers in the platform's one error format and leaves nothing behind.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

import demo
from accounts import services as accounts_services
from accounts.models import GridZone
from assessment.services import flexibility_assess
from market.models import Award, FlexibilityOffer, FlexibilityRequest
from market.services import offer_submit

OFFERS = "/api/v1/market/offers/"
REQUESTS = "/api/v1/market/requests/"
AWARDS = "/api/v1/market/awards/"
TOKEN = "/api/v1/accounts/auth/token/"
ERROR_KEYS = {"code", "detail", "fields"}


def _iso(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _token_client(email: str) -> APIClient:
    """Log in the way an integration would: exchange email and password for a token."""
    from accounts.tests.helpers import totp_now

    client = APIClient()
    body = {"username": email, "password": demo.PASSWORD}
    if email in ("operator@demo.flex", "admin@demo.flex"):  # MFA: a current TOTP code as well
        body["otp"] = totp_now(demo.TOTP_SECRET)
    response = client.post(TOKEN, body, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


@pytest.fixture
def assessed(small_world):
    """Household 01 (consumer01, sells directly) assessed for the demo's event window."""
    start, end = demo.event_window(small_world.day)
    premise = small_world.premises[0]
    assessment = flexibility_assess(premise=premise, window_start=start, window_end=end)
    assert assessment.capacity_kw > Decimal("0.01")
    return premise, assessment


def _offer_body(premise, assessment, **overrides) -> dict:
    body = {
        "premise": premise.pk,
        "zone": premise.grid_zone.code,
        "kw": str(assessment.capacity_kw),
        "price_per_mwh": "150.00",
        "window_start": _iso(assessment.window_start),
        "window_end": _iso(assessment.window_end),
    }
    body.update(overrides)
    return body


def test_token_endpoint_refuses_a_wrong_password(world):
    response = APIClient().post(TOKEN, {"username": "consumer01@demo.flex", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS


def test_invalid_offers_are_refused_naming_the_field_and_create_nothing(assessed):
    premise, assessment = assessed
    client = _token_client("consumer01@demo.flex")
    start = assessment.window_start
    cases = [
        ("kw", {"kw": "-5.000"}),
        ("zone", {"zone": "no-such-zone"}),
        ("window_end", {"window_end": _iso(start - timedelta(hours=1))}),
        # A naive time (no offset) is ambiguous: refused, never silently read as UTC.
        ("window_start", {"window_start": start.replace(tzinfo=None).isoformat()}),
    ]
    for field, override in cases:
        before = FlexibilityOffer.objects.count()
        response = client.post(OFFERS, _offer_body(premise, assessment, **override), format="json")
        assert response.status_code == 400, (field, response.content)
        body = response.json()
        assert set(body) == ERROR_KEYS, field
        assert field in body["fields"], (field, body)
        assert FlexibilityOffer.objects.count() == before, field
    assert FlexibilityOffer.objects.count() == 0
    # The same body without the defect is accepted: the refusals above were about the named field.
    assert client.post(OFFERS, _offer_body(premise, assessment), format="json").status_code == 201


def test_offer_within_assessed_capacity_is_listed_and_one_above_is_refused(assessed):
    premise, assessment = assessed
    client = _token_client("consumer01@demo.flex")
    capacity = assessment.capacity_kw

    too_much = client.post(OFFERS, _offer_body(premise, assessment, kw=str(capacity + Decimal("0.001"))), format="json")
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "over_capacity"
    assert "kw" in too_much.json()["fields"]
    assert FlexibilityOffer.objects.count() == 0

    created = client.post(OFFERS, _offer_body(premise, assessment), format="json")
    assert created.status_code == 201, created.content
    offer = created.json()
    assert offer["premise"] == premise.pk
    assert offer["zone"] == premise.grid_zone.code
    assert Decimal(offer["kw"]) == capacity
    assert offer["status"] == "open"
    listed = client.get(OFFERS)
    assert listed.status_code == 200
    assert [o["id"] for o in listed.json()["results"]] == [offer["id"]]

    # The whole capacity is now committed: even a watt more is refused.
    more = client.post(OFFERS, _offer_body(premise, assessment, kw="0.001"), format="json")
    assert more.status_code == 400
    assert more.json()["code"] == "over_capacity"
    assert FlexibilityOffer.objects.count() == 1


def test_offer_without_assessment_for_the_window_is_refused(assessed):
    premise, assessment = assessed
    client = _token_client("consumer01@demo.flex")
    later = {
        "window_start": _iso(assessment.window_start + timedelta(days=1)),
        "window_end": _iso(assessment.window_end + timedelta(days=1)),
    }
    response = client.post(OFFERS, _offer_body(premise, assessment, **later), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "not_assessed"
    assert FlexibilityOffer.objects.count() == 0


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(assessed, api_for):
    premise, assessment = assessed
    client = api_for("consumer01@demo.flex")
    third = (assessment.capacity_kw / 3).quantize(Decimal("0.001"))
    body = _offer_body(premise, assessment, kw=str(third))

    first = client.post(OFFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="offer-key-1")
    again = client.post(OFFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="offer-key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert FlexibilityOffer.objects.count() == 1

    changed = client.post(OFFERS, {**body, "price_per_mwh": "99.00"}, format="json", HTTP_IDEMPOTENCY_KEY="offer-key-1")
    assert changed.status_code == 409
    assert set(changed.json()) == ERROR_KEYS
    assert FlexibilityOffer.objects.count() == 1

    # A new key is a new order.
    other = client.post(OFFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="offer-key-2")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert FlexibilityOffer.objects.count() == 2


def test_consumer_may_not_offer_another_consumers_premise(small_world, api_for):
    start, end = demo.event_window(small_world.day)
    other = small_world.premises[3]  # Business 04, not consumer01's; assessed, so only ownership is in the way
    assessment = flexibility_assess(premise=other, window_start=start, window_end=end)
    response = api_for("consumer01@demo.flex").post(OFFERS, _offer_body(other, assessment), format="json")
    assert response.status_code == 403
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert "premise" in body["fields"]
    assert FlexibilityOffer.objects.count() == 0


def test_operator_request_in_its_zone_is_cleared_and_awards_are_visible(
    small_world, api_for, django_capture_on_commit_callbacks
):
    start, end = demo.event_window(small_world.day)
    household, business = small_world.premises[0], small_world.premises[4]  # both on feeder-e1a, sub-east-1
    offers = {}
    for premise, price in ((household, Decimal("120.00")), (business, Decimal("90.00"))):
        capacity = flexibility_assess(premise=premise, window_start=start, window_end=end).capacity_kw
        offers[premise.pk] = offer_submit(
            seller=premise.organisation,
            premise=premise,
            zone=premise.grid_zone,
            kw=capacity,
            price_per_mwh=price,
            window_start=start,
            window_end=end,
        )
    # Enough for all of the cheaper business offer and half of the household's.
    want = (offers[business.pk].kw + offers[household.pk].kw / 2).quantize(Decimal("0.001"))

    operator = _token_client("operator@demo.flex")
    body = {
        "zone": "sub-east-1",
        "kw": str(want),
        "max_price_per_mwh": "200.00",
        "window_start": _iso(start),
        "window_end": _iso(end),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(REQUESTS, body, format="json", HTTP_IDEMPOTENCY_KEY="rq-1")
    assert response.status_code == 201, response.content
    reused = operator.post(REQUESTS, {**body, "kw": "1.000"}, format="json", HTTP_IDEMPOTENCY_KEY="rq-1")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert response.json()["zone"] == "sub-east-1"

    requests = operator.get(REQUESTS).json()["results"]
    assert [(r["id"], r["status"]) for r in requests] == [(response.json()["id"], "cleared")]
    awards = operator.get(AWARDS).json()["results"]
    by_premise = {a["premise"]: a for a in awards}
    assert set(by_premise) == {household.pk, business.pk}
    assert Decimal(by_premise[business.pk]["kw"]) == offers[business.pk].kw
    assert Decimal(by_premise[household.pk]["kw"]) == want - offers[business.pk].kw
    # Uniform price: both paid the marginal (household's) price.
    assert {Decimal(a["clearing_price_per_mwh"]) for a in awards} == {Decimal("120.00")}

    # Each seller sees its own award only.
    assert [a["premise"] for a in api_for("consumer01@demo.flex").get(AWARDS).json()["results"]] == [household.pk]
    assert api_for("consumer04@demo.flex").get(AWARDS).json()["results"] == []


def test_operator_request_outside_its_service_area_is_forbidden(world, api_for):
    start, end = demo.event_window(world.day)
    accounts_services.zone_create(code="iso-west", name="ISO West", kind=GridZone.Kind.ISO_ZONE)
    response = api_for("operator@demo.flex").post(
        REQUESTS,
        {
            "zone": "iso-west",
            "kw": "10.000",
            "max_price_per_mwh": "200.00",
            "window_start": _iso(start),
            "window_end": _iso(end),
        },
        format="json",
    )
    assert response.status_code == 403
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert "zone" in body["fields"]
    assert FlexibilityRequest.objects.count() == 0


def test_invalid_operator_requests_are_refused_naming_the_field(world, api_for):
    start, end = demo.event_window(world.day)
    client = api_for("operator@demo.flex")
    valid = {
        "zone": "sub-east-1",
        "kw": "10.000",
        "max_price_per_mwh": "200.00",
        "window_start": _iso(start),
        "window_end": _iso(end),
    }
    cases = [
        ("kw", {"kw": "0"}),
        ("max_price_per_mwh", {"max_price_per_mwh": "-1.00"}),
        ("window_end", {"window_end": _iso(start)}),
        ("window_end", {"window_end": end.replace(tzinfo=None).isoformat()}),
    ]
    for field, override in cases:
        response = client.post(REQUESTS, {**valid, **override}, format="json")
        assert response.status_code == 400, (field, override, response.content)
        body = response.json()
        assert set(body) == ERROR_KEYS
        assert field in body["fields"], (field, body)
    assert FlexibilityRequest.objects.count() == 0
    assert Award.objects.count() == 0
