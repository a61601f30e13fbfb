"""The Wallet & claims page without a browser: who may open it, the wallet endpoints' refusals (a clear error
naming the field, nothing changed), linking by signature, and the proof bundle download."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from eth_account import Account
from eth_account.messages import encode_defunct

from accounts.models import Membership, WalletLink
from settlement import assets
from settlement.chain import reset_eth_tester
from settlement.merkle import keccak256
from settlement.services.claims import claims_epoch_close
from settlement.tests.factories import tokens_grant, world_make

pytestmark = pytest.mark.django_db
KEY = "0x" + keccak256(b"tokens page wallet").hex()


def _user(org, role=Membership.Role.CONSUMER):
    email = f"{uuid.uuid4().hex[:8]}@t.flex"
    user = get_user_model().objects.create_user(username=email, email=email, password="x")
    Membership.objects.create(user=user, organisation=org, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def _post(client, name, body):
    return client.post(f"/tokens/{name}/", data=json.dumps(body), content_type="application/json")


def test_refusals():
    w = world_make(n=1)
    assert Client().get("/tokens/").status_code == 302  # sign in first
    _, auditor = _user(w.operator, Membership.Role.AUDITOR)  # reads everything, but holds no tokens
    assert auditor.get("/tokens/").status_code == 403
    assert _post(auditor, "wallet/nonce", {"address": Account.from_key(KEY).address}).status_code == 403
    _, consumer = _user(w.consumers[0])
    assert consumer.get("/tokens/wallet/nonce/").status_code == 405
    bad = _post(consumer, "wallet/nonce", {"address": "0x123"})
    assert bad.status_code == 400 and "address" in bad.json()["fields"]
    bad = _post(consumer, "wallet/nonce", {"address": Account.from_key(KEY).address, "chain_id": "x"})
    assert bad.status_code == 400 and "chain_id" in bad.json()["fields"]
    garbage = consumer.post("/tokens/wallet/link/", data="{not json", content_type="application/json")
    assert garbage.status_code == 400 and "body" in garbage.json()["fields"]
    unknown = _post(consumer, "wallet/link", {"message": "hello", "signature": "0x00"})
    assert unknown.status_code == 400
    assert not WalletLink.objects.exists()


def test_link_by_signature_then_bundle():
    w = world_make(n=1)
    org = w.consumers[0]
    user, consumer = _user(org)
    wallet = Account.from_key(KEY)
    issued = _post(consumer, "wallet/nonce", {"address": wallet.address, "chain_id": 31337})
    assert issued.status_code == 201
    message = issued.json()["message"]
    other = Account.from_key("0x" + keccak256(b"someone else").hex())
    forged = other.sign_message(encode_defunct(text=message)).signature.hex()
    assert _post(consumer, "wallet/link", {"message": message, "signature": "0x" + forged}).status_code == 400
    signature = wallet.sign_message(encode_defunct(text=message)).signature.hex()
    linked = _post(consumer, "wallet/link", {"message": message, "signature": "0x" + signature})
    assert linked.status_code == 200 and linked.json()["address"] == wallet.address
    replay = _post(consumer, "wallet/link", {"message": message, "signature": "0x" + signature})
    assert replay.status_code == 409  # a fresh signature for every change
    page = consumer.get("/tokens/")
    assert wallet.address in page.content.decode() and "Change wallet" in page.content.decode()

    tokens_grant(org, assets.ENERGY, Decimal("3.25"), "page")
    name = f"tokens-page-{uuid.uuid4().hex[:8]}"
    with override_settings(CHAIN_RPC_URL=f"eth-tester://{name}", CHAIN_TOKEN_ADDRESS=""):
        epoch = claims_epoch_close()
        page = consumer.get("/tokens/").content.decode()
        assert 'data-testid="claim-FLEX-NRG"' in page and "3.25" in page
        bundle = consumer.get("/tokens/claims.json")
    reset_eth_tester(name)
    data = json.loads(bundle.content)
    assert bundle["Content-Disposition"].startswith("attachment")
    assert data["root"] == epoch.root and data["claims"][0]["account"] == wallet.address.lower()
    assert data["claims"][0]["cumulative"] == "325"
