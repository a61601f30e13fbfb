"""Who may see and do what: the REST API and the portal per role, the OpenAPI document, and payment proofs."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

import demo
from accounts.models import Premise
from activation.models import DREvent
from market.models import ClearingRun, FlexibilityOffer, FlexibilityRequest
from settlement.models import SettlementItem

ERROR_KEYS = {"code", "detail", "fields"}
LIST_ENDPOINTS = [
    "/api/v1/accounts/premises/",
    "/api/v1/market/offers/",
    "/api/v1/market/requests/",
    "/api/v1/market/awards/",
    "/api/v1/activation/events/",
    "/api/v1/settlement/items/",
]
CONSUMERS = [f"consumer{n:02d}@demo.flex" for n in range(1, 7)]  # the small world's six consumers


def _portal_client(email: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(email=email))
    return client


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _items_of(email: str):
    return SettlementItem.objects.filter(payee__memberships__user__email=email)


@pytest.mark.django_db
def test_anonymous_api_calls_are_refused_in_the_error_format():
    client = APIClient()
    for url in LIST_ENDPOINTS:
        response = client.get(url)
        assert response.status_code in (401, 403), url
        assert set(response.json()) == ERROR_KEYS, url
    assert client.get("/api/v1/settlement/items/1/proof/").status_code in (401, 403)


def test_wrong_role_is_refused(world, api_for):
    start, end = demo.event_window(world.day)
    request_body = {
        "zone": "sub-east-1",
        "kw": "5.000",
        "max_price_per_mwh": "200.00",
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
    }
    premise = world.premises[0]
    offer_body = {
        "premise": premise.pk,
        "zone": premise.grid_zone.code,
        "kw": "0.100",
        "price_per_mwh": "100.00",
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
    }
    refusals = [
        ("consumer01@demo.flex", "/api/v1/market/requests/", request_body),
        ("aggregator@demo.flex", "/api/v1/market/requests/", request_body),
        ("operator@demo.flex", "/api/v1/market/offers/", offer_body),
    ]
    for email, url, body in refusals:
        response = api_for(email).post(url, body, format="json")
        assert response.status_code == 403, (email, url)
        assert set(response.json()) == ERROR_KEYS
    # Reading the other side's list is refused as well.
    assert api_for("operator@demo.flex").get("/api/v1/market/offers/").status_code == 403
    assert api_for("consumer01@demo.flex").get("/api/v1/market/requests/").status_code == 403
    assert FlexibilityRequest.objects.count() == 0
    assert FlexibilityOffer.objects.count() == 0


def test_premises_are_visible_to_owner_aggregator_and_zone_operator_only(world, api_for):
    premises = {p.name: p.pk for p in world.premises}
    url = "/api/v1/accounts/premises/"
    assert _ids(api_for("consumer01@demo.flex").get(url)) == {premises["Household 01 site"]}
    assert _ids(api_for("consumer04@demo.flex").get(url)) == {premises["Business 04 site"]}
    enrolled = set(Premise.objects.filter(aggregator=world.aggregator).values_list("pk", flat=True))
    assert enrolled == {premises["Household 02 site"], premises["Household 03 site"]}
    assert _ids(api_for("aggregator@demo.flex").get(url)) == enrolled
    assert _ids(api_for("operator@demo.flex").get(url)) == set(premises.values())


def test_portal_pages_send_anonymous_to_login_and_refuse_other_roles(world):
    anonymous = Client().get("/consumer/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert _portal_client("consumer01@demo.flex").get("/operator/").status_code == 403
    assert _portal_client("consumer01@demo.flex").get("/aggregator/").status_code == 403
    assert _portal_client("operator@demo.flex").get("/consumer/").status_code == 403
    assert _portal_client("aggregator@demo.flex").get("/operator/").status_code == 403
    # The landing page sends each role to its own dashboard.
    assert _portal_client("consumer01@demo.flex").get("/")["Location"] == "/consumer/"
    assert _portal_client("operator@demo.flex").get("/")["Location"] == "/operator/"


@pytest.mark.django_db
def test_openapi_document_is_valid_and_docs_render():
    client = Client()
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)
    for path in ("/api/v1/market/offers/", "/api/v1/market/requests/", "/api/v1/settlement/items/{id}/proof/"):
        assert path in schema["paths"], path
    # Each POST documents its own body (nested "InputSerializer"s must not collapse into one component).
    bodies = {
        "/api/v1/market/offers/": {"premise", "kw", "price_per_mwh"},
        "/api/v1/market/requests/": {"zone", "kw", "max_price_per_mwh"},
        "/api/v1/settlement/proofs/verify/": {"period", "leaf", "proof"},
    }
    for path, fields in bodies.items():
        ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert set(component["required"]) >= fields, path
        assert "premise" not in component["properties"] or path.endswith("/offers/"), path
    as_json = client.get("/api/schema/?format=json")
    assert as_json.status_code == 200
    assert json.loads(as_json.content)["paths"].keys() == schema["paths"].keys()
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.django_db(transaction=True)
def test_after_a_market_day_each_role_sees_only_its_own_events_and_payments(
    small_world, api_for, django_assert_max_num_queries
):
    result = demo.market_day_run(world=small_world, day=small_world.day)
    assert result.payments > 0
    # every item but the platform fees (charged to the operator) and the aggregator's fees (paid to the aggregator)
    all_items = set(
        SettlementItem.objects.exclude(kind__in=["platform_fee", "aggregator_fee"]).values_list("pk", flat=True)
    )
    aggregator_fees = set(SettlementItem.objects.filter(kind="aggregator_fee").values_list("pk", flat=True))

    # Lists cost a fixed handful of queries, not one per row.
    for email, urls in (
        ("operator@demo.flex", [u for u in LIST_ENDPOINTS if "/offers/" not in u]),
        ("admin@demo.flex", ["/api/v1/market/awards/", "/api/v1/activation/events/", "/api/v1/settlement/items/"]),
    ):
        for url in urls:
            client = api_for(email)
            with django_assert_max_num_queries(6):
                assert client.get(url).status_code == 200, (email, url)

    seen_items: set[int] = set()
    for email in CONSUMERS:
        client = api_for(email)
        own_premises = set(
            Premise.objects.filter(organisation__memberships__user__email=email).values_list("pk", flat=True)
        )
        items = _ids(client.get("/api/v1/settlement/items/"))
        assert items == set(_items_of(email).values_list("pk", flat=True)), email
        seen_items |= items
        events = _ids(client.get("/api/v1/activation/events/"))
        assert events == set(DREvent.objects.filter(premise__in=own_premises).values_list("pk", flat=True)), email
    # Every payment went to one of these consumers, and none saw another's.
    assert seen_items == all_items
    assert all(len(_items_of(e)) < len(all_items) for e in CONSUMERS)

    enrolled_events = set(
        DREvent.objects.filter(premise__aggregator=small_world.aggregator).values_list("pk", flat=True)
    )
    assert _ids(api_for("aggregator@demo.flex").get("/api/v1/activation/events/")) == enrolled_events
    # the aggregator reads its fees (ADR 0024), which no consumer sees
    assert aggregator_fees <= _ids(api_for("aggregator@demo.flex").get("/api/v1/settlement/items/"))
    assert not aggregator_fees & seen_items
    assert _ids(api_for("operator@demo.flex").get("/api/v1/activation/events/")) == set(
        DREvent.objects.values_list("pk", flat=True)
    )

    # The dashboards show each role its data.
    payee = next(e for e in CONSUMERS if _items_of(e).exists())
    page = _portal_client(payee).get("/consumer/")
    assert page.status_code == 200
    earned = sum((i.amount for i in _items_of(payee).filter(currency="USD")), Decimal("0"))  # tokens aside
    assert page.context["earnings"] == earned
    text = page.content.decode()
    assert f"{earned:.2f} USD" in text
    premise_name = Premise.objects.get(organisation__memberships__user__email=payee).name
    assert premise_name in text
    # ... and the offers made for their premise (in the request clearing), never anyone else's.
    offers = page.context["my_offers"]
    assert offers and {o.premise.name for o in offers} == {premise_name}
    from portal.formatting import kw as kw_text

    assert f"{premise_name}: {kw_text(offers[0].kw)}" in text  # through the portal's one formatting layer
    others = [p.name for p in small_world.premises if p.name != premise_name]
    assert not any(name in text for name in others)

    page = _portal_client("aggregator@demo.flex").get("/aggregator/")
    assert page.status_code == 200
    enrolled = set(Premise.objects.filter(aggregator=small_world.aggregator).values_list("pk", flat=True))
    assert enrolled <= {r["premise"].pk for r in page.context["fleet"]["rows"]}  # the fleet: enrolled and consented
    assert page.context["enrolled"] == len(enrolled)
    assert "Household 02 site" in page.content.decode()

    page = _portal_client("operator@demo.flex").get("/operator/")
    assert page.status_code == 200
    # the runs in the operator's zones (accounts.policies.zone_scope): its requests' and its zones' auctions'
    # (the demo's zones are all the operator's, so the day-ahead auction's run too)
    auction_runs = ClearingRun.objects.filter(auction__isnull=False).count()
    # the day-ahead congestion auction and the day-ahead capacity auction (demo step 4c)
    assert auction_runs == 2 and len(page.context["runs"]) == result.requests + auction_runs == 4
    # every verified event's delivery: the awards' (the day's result) and the capacity reservations' calls
    from django.db.models import Sum

    from activation.models import EventVerification

    verified = EventVerification.objects.aggregate(t=Sum("delivered_kwh"))["t"]
    assert page.context["delivered_kwh"] == verified >= result.delivered_kwh > 0
    assert "sub-east-1" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_payment_proof_verifies_on_chain_and_a_tampered_one_does_not(small_world, api_for):
    demo.market_day_run(world=small_world, day=small_world.day)
    payee = next(e for e in CONSUMERS if _items_of(e).exists())
    stranger = next(e for e in CONSUMERS if e != payee)
    item = _items_of(payee).first()

    response = api_for(payee).get(f"/api/v1/settlement/items/{item.pk}/proof/")
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert bundle["item_id"] == item.pk
    assert bundle["status"] == "confirmed"
    assert int(bundle["leaf_values"][3]) == int(item.amount * 100)

    public = APIClient()  # anyone may check a proof, no login needed
    verdict = public.post("/api/v1/settlement/proofs/verify/", bundle, format="json")
    assert verdict.status_code == 200, verdict.content
    assert verdict.json()["valid"] is True
    assert verdict.json()["root_on_chain"] == bundle["root"]

    tampered = dict(bundle, leaf_values=list(bundle["leaf_values"]))
    tampered["leaf_values"][3] = str(int(bundle["leaf_values"][3]) + 100)  # one more dollar
    verdict = public.post("/api/v1/settlement/proofs/verify/", tampered, format="json")
    assert verdict.status_code == 200
    assert verdict.json()["valid"] is False

    denied = api_for(stranger).get(f"/api/v1/settlement/items/{item.pk}/proof/")
    assert denied.status_code == 404
    assert set(denied.json()) == ERROR_KEYS
