"""Accounts API: refusals first. Aggregators see only consenting premises; operators only their zones; auditors
read everything and write nothing; MFA for operators and admins; SIWE wallet linking; KYC and compliance."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from rest_framework.test import APIClient

import demo
from accounts import services as accounts_services
from accounts.models import AuditEntry, Membership, Organisation, Premise, WalletLink

from .helpers import totp_now

ERROR_KEYS = {"code", "detail", "fields"}
TOKEN = "/api/v1/accounts/auth/token/"


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_aggregator_sees_only_consenting_premises(small_world, api_for):
    agg = api_for("aggregator@demo.flex")
    consenting = set(Premise.objects.filter(consents__status="active").values_list("pk", flat=True))
    assert _ids(agg.get("/api/v1/accounts/premises/")) == consenting
    stranger = Premise.objects.get(name="Household 01 site")
    response = agg.post("/api/v1/accounts/enrolments/", {"premise": stranger.pk}, format="json")
    assert response.status_code == 404 and set(response.json()) == ERROR_KEYS
    # Revocation through the API removes the premise from the aggregator's view.
    consent = small_world.premises[1].consents.get(status="active")
    refused = api_for("consumer01@demo.flex").post(f"/api/v1/accounts/consents/{consent.pk}/revoke/", {}, format="json")
    assert refused.status_code == 404
    ok = api_for("consumer02@demo.flex").post(
        f"/api/v1/accounts/consents/{consent.pk}/revoke/", {"reason": "no"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "revoked"
    assert consent.premise_id not in _ids(agg.get("/api/v1/accounts/premises/"))


def test_consent_then_enrolment_through_the_api(small_world, api_for):
    premise = Premise.objects.get(name="Household 01 site")
    body = {
        "premise": premise.pk,
        "aggregator": small_world.aggregator.pk,
        "scopes": ["interval_readings"],
        "expires_at": (timezone.now() + timedelta(days=90)).isoformat(),
        "terms": small_world.aggregator.commercial_terms.get().pk,  # the aggregator's terms, accepted
    }
    assert api_for("aggregator@demo.flex").post("/api/v1/accounts/consents/", body, format="json").status_code == 403
    bad = api_for("consumer01@demo.flex").post("/api/v1/accounts/consents/", {**body, "scopes": ["x"]}, format="json")
    assert bad.status_code == 400 and any(k.startswith("scopes") for k in bad.json()["fields"])
    created = api_for("consumer01@demo.flex").post("/api/v1/accounts/consents/", body, format="json")
    assert created.status_code == 201, created.content
    enrol = api_for("aggregator@demo.flex").post("/api/v1/accounts/enrolments/", {"premise": premise.pk}, format="json")
    assert enrol.status_code == 201, enrol.content
    assert enrol.json()["consent"] == created.json()["id"]
    assert (
        api_for("consumer01@demo.flex")
        .post("/api/v1/accounts/enrolments/", {"premise": premise.pk}, format="json")
        .status_code
        == 403
    )


def test_operator_sees_only_verified_resources_in_its_own_zones(small_world, api_for):
    sub2 = small_world.premises[0].grid_zone.__class__.objects.get(code="sub-east-2")
    other = accounts_services.organisation_create(
        name="West DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[sub2]
    )
    accounts_services.user_create(email="west@t.flex", password="x-pass-123", organisation=other)
    url = "/api/v1/accounts/resources/verified/"
    everything = _ids(api_for("operator@demo.flex").get(url))
    assert everything == {p.pk for p in small_world.premises}
    in_sub2 = {p.pk for p in small_world.premises if p.grid_zone.parent.code == "sub-east-2"}
    assert in_sub2 and _ids(api_for("west@t.flex").get(url)) == in_sub2
    rows = api_for("operator@demo.flex").get(url).json()["results"]
    sellers = {r["name"]: r["seller"] for r in rows}
    assert sellers["Household 02 site"] == small_world.aggregator.name
    assert sellers["Household 01 site"] == "Household 01"
    assert api_for("consumer01@demo.flex").get(url).status_code == 403
    assert api_for("aggregator@demo.flex").get(url).status_code == 403


def _api_post_urls():
    out = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns, "")
    params = re.compile(r"<(?:(int|str|slug|path):)?\w+>")
    return [
        params.sub(lambda m: "1" if m.group(1) == "int" else "x", u)
        for u in out
        if u.startswith("api/v1/") and "(?P" not in u  # regex routes are GET-only file downloads
    ]


@pytest.mark.django_db(transaction=True)
def test_auditor_reads_everything_and_writes_nothing(small_world, api_for):
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    accounts_services.user_create(
        email="auditor@t.flex", password="x-pass-123", organisation=platform, role=Membership.Role.AUDITOR
    )
    auditor = api_for("auditor@t.flex")
    assert _ids(auditor.get("/api/v1/accounts/premises/")) == {p.pk for p in small_world.premises}
    audit = auditor.get("/api/v1/accounts/audit/")
    assert audit.status_code == 200 and audit.json()["count"] == AuditEntry.objects.count() > 0
    assert auditor.get("/api/v1/accounts/resources/verified/").status_code == 200
    assert auditor.get("/api/v1/market/offers/").status_code == 200
    from activation.models import DREvent  # noqa: PLC0415

    demo.market_day_run(world=small_world, day=small_world.day)
    assert _ids(auditor.get("/api/v1/activation/events/")) == set(DREvent.objects.values_list("pk", flat=True)) != set()
    urls = _api_post_urls()
    assert len(urls) > 10
    for url in urls:
        if "auth/token" in url or url.endswith("proofs/verify/"):
            continue  # signing in, and the public proof check (a POST that computes and stores nothing)
        response = auditor.post("/" + url, {}, format="json")
        assert response.status_code in (403, 405), (url, response.status_code)
    assert api_for("consumer01@demo.flex").get("/api/v1/accounts/audit/").status_code == 403
    assert api_for("operator@demo.flex").get("/api/v1/accounts/audit/").status_code == 403


def test_mfa_is_required_for_operator_tokens_and_portal(small_world):
    client = APIClient()
    no_code = client.post(TOKEN, {"username": "operator@demo.flex", "password": demo.PASSWORD}, format="json")
    assert no_code.status_code == 403 and no_code.json()["code"] == "mfa_required"
    wrong = client.post(
        TOKEN, {"username": "operator@demo.flex", "password": demo.PASSWORD, "otp": "000000"}, format="json"
    )
    assert wrong.status_code == 403
    ok = client.post(
        TOKEN,
        {"username": "operator@demo.flex", "password": demo.PASSWORD, "otp": totp_now(demo.TOTP_SECRET)},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["token"]
    # Consumers need no second factor.
    assert (
        client.post(TOKEN, {"username": "consumer01@demo.flex", "password": demo.PASSWORD}, format="json").status_code
        == 200
    )
    # An operator without an authenticator gets no token and is sent to TOTP setup in the portal.
    accounts_services.user_create(email="newop@t.flex", password="x-pass-123", organisation=small_world.operator)
    setup = client.post(TOKEN, {"username": "newop@t.flex", "password": "x-pass-123"}, format="json")
    assert setup.status_code == 403 and setup.json()["code"] == "mfa_setup_required"
    portal = Client()
    portal.force_login(get_user_model().objects.get(email="newop@t.flex"))
    response = portal.get("/operator/")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"
    assert portal.get("/accounts/2fa/totp/activate/").status_code in (200, 302)
    assert not response["Location"].startswith("/operator")


def test_wallet_linking_with_siwe(small_world, api_for):
    client = api_for("consumer01@demo.flex")
    wallet, other = Account.create(), Account.create()
    issued = client.post("/api/v1/accounts/wallet/nonce/", {"address": wallet.address}, format="json")
    assert issued.status_code == 201
    message = issued.json()["message"]
    assert message.startswith("testserver wants you to sign in with your Ethereum account:\n" + wallet.address)
    # A signature by another key is refused, nothing linked.
    forged = other.sign_message(encode_defunct(text=message)).signature.hex()
    bad = client.post("/api/v1/accounts/wallet/link/", {"message": message, "signature": forged}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "siwe_signature"
    assert not WalletLink.objects.exists()
    signature = wallet.sign_message(encode_defunct(text=message)).signature.hex()
    linked = client.post("/api/v1/accounts/wallet/link/", {"message": message, "signature": signature}, format="json")
    assert linked.status_code == 200 and linked.json()["address"] == wallet.address
    # Replaying the same signed message (re-linking) is refused: a new message and signature are needed.
    replay = client.post("/api/v1/accounts/wallet/link/", {"message": message, "signature": signature}, format="json")
    assert replay.status_code == 409
    # Another user cannot use this user's message.
    theirs = api_for("consumer02@demo.flex").post(
        "/api/v1/accounts/wallet/link/", {"message": message, "signature": signature}, format="json"
    )
    assert theirs.status_code == 400
    second = client.post("/api/v1/accounts/wallet/nonce/", {"address": other.address}, format="json").json()["message"]
    sig2 = other.sign_message(encode_defunct(text=second)).signature.hex()
    assert (
        client.post("/api/v1/accounts/wallet/link/", {"message": second, "signature": sig2}, format="json").status_code
        == 200
    )
    assert WalletLink.objects.get().address == other.address
    assert AuditEntry.objects.filter(subject_type="wallet").count() == 2


def test_kyc_and_compliance_through_the_api(small_world, api_for):
    org = accounts_services.organisation_create(name="Api Home", kind=Organisation.Kind.CONSUMER)
    accounts_services.user_create(email="apihome@t.flex", password="x-pass-123", organisation=org)
    client = api_for("apihome@t.flex")
    status = client.get("/api/v1/accounts/compliance/").json()
    assert status["may_trade"] is False and status["failing"][0]["rule"] == "verified"
    case = client.post("/api/v1/accounts/kyc/cases/", {"legal_name": "Api Home"}, format="json")
    assert case.status_code == 201
    pk = case.json()["id"]
    assert api_for("consumer01@demo.flex").post(f"/api/v1/accounts/kyc/cases/{pk}/submit/").status_code == 404
    early = client.post(f"/api/v1/accounts/kyc/cases/{pk}/submit/")
    assert early.status_code == 400 and "documents" in early.json()["fields"]
    doc = {
        "doc_type": "passport",
        "number": "A1",
        "holder_name": "Api Home",
        "issuing_country": "US",
        "expires_on": str(timezone.now().date() + timedelta(days=900)),
    }
    assert client.post(f"/api/v1/accounts/kyc/cases/{pk}/documents/", doc, format="multipart").status_code == 201
    submitted = client.post(f"/api/v1/accounts/kyc/cases/{pk}/submit/")
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"  # manual provider by default
    assert client.get("/api/v1/accounts/compliance/").json()["may_trade"] is False


@pytest.mark.django_db
def test_openapi_lists_the_accounts_endpoints():
    import yaml

    schema = yaml.safe_load(Client().get("/api/schema/").content)
    for p in ("/api/v1/accounts/enrolments/", "/api/v1/accounts/resources/verified/", "/api/v1/accounts/wallet/link/"):
        assert p in schema["paths"]
