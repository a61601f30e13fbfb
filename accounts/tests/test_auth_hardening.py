"""Authentication hardening (issue 20): lockout shared by the sign-in page and the token endpoint (TOTP guesses
count), throttles on the token endpoint, API tokens that expire, rotate, are listed and revoked by their owner and
die on a password change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

import demo
from accounts import tokens
from accounts.models import ApiToken

from .helpers import totp_now

pytestmark = pytest.mark.django_db
TOKEN = "/api/v1/accounts/auth/token/"
TOKENS = "/api/v1/accounts/auth/tokens/"
PREMISES = "/api/v1/accounts/premises/"
CONSUMER = "consumer01@demo.flex"


def _obtain(client, email, password, **extra):
    return client.post(TOKEN, {"username": email, "password": password, **extra}, format="json")


def _page_login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_ten_wrong_passwords_on_the_token_endpoint_lock_the_account_there_and_on_the_page(world):
    api = APIClient()
    for _ in range(10):
        r = _obtain(api, CONSUMER, "wrong-password")
        assert r.status_code in (400, 429)
    locked = _obtain(api, CONSUMER, demo.PASSWORD)
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out"
    assert "token" not in locked.json()
    page = Client()
    response = _page_login(page, CONSUMER, demo.PASSWORD)
    assert response.status_code == 429 and not _signed_in(page)
    assert not ApiToken.objects.exists()


def test_ten_wrong_passwords_on_the_page_lock_the_token_endpoint(world):
    page = Client()
    for _ in range(10):
        _page_login(page, CONSUMER, "wrong-password")
    assert not _signed_in(page)
    r = _obtain(APIClient(), CONSUMER, demo.PASSWORD)
    assert r.status_code == 429 and r.json()["code"] == "locked_out"


def test_fewer_failures_do_not_lock_and_a_good_password_gets_a_token(world):
    api = APIClient()
    for _ in range(5):
        assert _obtain(api, CONSUMER, "wrong-password").status_code == 400
    ok = _obtain(api, CONSUMER, demo.PASSWORD)
    assert ok.status_code == 200 and ok.json()["token"] and ok.json()["state"] == "live"


def test_totp_guesses_are_limited(small_world):
    """An operator's right password with wrong TOTP codes: each wrong code counts, and after ten the right code
    gets no token either."""
    api = APIClient()
    for _ in range(10):
        r = _obtain(api, "operator@demo.flex", demo.PASSWORD, otp="000000")
        assert r.status_code in (403, 429)
    refused = _obtain(api, "operator@demo.flex", demo.PASSWORD, otp=totp_now(demo.TOTP_SECRET))
    assert refused.status_code == 429 and refused.json()["code"] == "locked_out"


def test_the_token_endpoint_is_throttled_per_account(world, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth_ip": "100/min", "auth_account": "3/min"},
    }
    api = APIClient()
    codes = [_obtain(api, CONSUMER, "wrong-password").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    # another account from the same address is not throttled by the first one's rate
    assert _obtain(api, "consumer02@demo.flex", demo.PASSWORD).status_code == 200


def _client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_tokens_expire(world, settings):
    settings.API_TOKEN_TTL_DAYS = 1
    user = get_user_model().objects.get(email=CONSUMER)
    token, key = tokens.api_token_issue(user=user)
    assert token.expires_at - token.created_at == timedelta(days=1)
    assert _client_with(key).get(PREMISES).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    token.save(update_fields=["name"])  # a save renews the kept authentication answers, as any change does
    assert _client_with(key).get(PREMISES).status_code == 401


def test_owner_lists_rotates_and_revokes_tokens(world):
    api = APIClient()
    first = _obtain(api, CONSUMER, demo.PASSWORD).json()
    second = _obtain(api, CONSUMER, demo.PASSWORD, name="ci").json()
    other = _obtain(api, "consumer02@demo.flex", demo.PASSWORD).json()
    me = _client_with(first["token"])
    listed = me.get(TOKENS).json()["results"]
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert all("token" not in t and "digest" not in t for t in listed)  # keys are never shown again
    # rotate: the old key dies at once, the new one works
    rotated = me.post(f"{TOKENS}{second['id']}/rotate/")
    assert rotated.status_code == 201 and rotated.json()["name"] == "ci"
    assert _client_with(second["token"]).get(PREMISES).status_code == 401
    assert _client_with(rotated.json()["token"]).get(PREMISES).status_code == 200
    # revoke: another's token is not found, one's own is revoked
    assert me.post(f"{TOKENS}{other['id']}/revoke/").status_code == 404
    assert _client_with(other["token"]).get(PREMISES).status_code == 200
    revoked = me.post(f"{TOKENS}{first['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert _client_with(first["token"]).get(PREMISES).status_code == 401
    assert ApiToken.objects.filter(digest=tokens.digest_of(first["token"])).exists()  # kept, as revoked


def test_tokens_die_when_the_password_changes(world):
    key = _obtain(APIClient(), CONSUMER, demo.PASSWORD).json()["token"]
    assert _client_with(key).get(PREMISES).status_code == 200
    user = get_user_model().objects.get(email=CONSUMER)
    user.set_password("a-new-long-password-42")
    user.save()
    response = _client_with(key).get(PREMISES)
    assert response.status_code == 401
    assert _obtain(APIClient(), CONSUMER, "a-new-long-password-42").status_code == 200


def test_only_digests_are_stored(world):
    key = _obtain(APIClient(), CONSUMER, demo.PASSWORD).json()["token"]
    row = ApiToken.objects.get()
    assert row.digest == tokens.digest_of(key) and key not in (row.digest, row.prefix) and key.startswith(row.prefix)


def test_portal_token_page_creates_rotates_and_revokes(world):
    page = Client()
    page.force_login(get_user_model().objects.get(email=CONSUMER))
    created = page.post("/settings/tokens/", {"action": "create", "name": "laptop"})
    assert created.status_code == 200
    key = created.context["new_key"]
    assert key and _client_with(key).get(PREMISES).status_code == 200
    token = ApiToken.objects.get(name="laptop")
    listed = page.get("/settings/tokens/")
    assert token.prefix in listed.content.decode()
    page.post("/settings/tokens/", {"action": "revoke", "token": token.pk})
    assert _client_with(key).get(PREMISES).status_code == 401
    # another user's token cannot be touched from the page
    stranger, _ = tokens.api_token_issue(user=get_user_model().objects.get(email="consumer02@demo.flex"))
    page.post("/settings/tokens/", {"action": "revoke", "token": stranger.pk})
    stranger.refresh_from_db()
    assert stranger.revoked_at is None


def test_the_address_is_locked_whatever_x_forwarded_for_claims(world):
    """Ten failures from one address on ten accounts lock the address; a client's own X-Forwarded-For does not
    give it a fresh one (no trusted proxy configured)."""
    api = APIClient()
    for i in range(10):
        api.post(
            TOKEN,
            {"username": f"nobody{i}@t.flex", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
    r = api.post(
        TOKEN, {"username": CONSUMER, "password": demo.PASSWORD}, format="json", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert r.status_code == 429 and r.json()["code"] == "locked_out"


def test_client_address_behind_trusted_proxies(rf, settings):
    from accounts.lockout import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    settings.AUTH_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.AUTH_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "198.51.100.7"  # what our proxy saw, not what the client wrote before it
