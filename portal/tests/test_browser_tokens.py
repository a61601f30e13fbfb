"""A consumer links a wallet and claims FLEX tokens in a real (headless) Chromium, through an injected EIP-1193
provider (window.ethereum) that signs with a test key against a local anvil node: the platform never sees the key."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.test import override_settings
from eth_account import Account
from eth_account.messages import encode_defunct

import demo
from settlement import assets
from settlement.chain import AnvilProcess, TokenClient
from settlement.chain.anvil import ANVIL_DEV_KEYS, anvil_binary
from settlement.claims_tree import TOKEN_IDS
from settlement.tests.factories import tokens_grant, world_make

from .browser_support import chromium  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WALLET_KEY = ANVIL_DEV_KEYS[2]
PROVIDER_JS = """
window.ethereum = {
  isFlexTestWallet: true,
  request: async ({method, params}) => {
    const out = JSON.parse(await window.__flexWallet(method, JSON.stringify(params || [])));
    if (out.error) throw new Error(out.error);
    return out.result;
  },
};
"""


@pytest.fixture
def anvil_chain():
    if not anvil_binary().is_file():
        pytest.skip("anvil binary not found")
    node = AnvilProcess()
    node.start()
    try:
        with override_settings(CHAIN_RPC_URL=node.url, CHAIN_TOKEN_ADDRESS="", CHAIN_CONFIRMATIONS=1):
            yield node
    finally:
        node.stop()


@pytest.fixture
def token_holder(anvil_chain):
    """A consumer with Energy and Governance tokens, no wallet yet (all ORM work before the browser starts)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from accounts.models import Membership

    org = world_make(n=1, tag="tok").consumers[0]
    email = "holder@t.flex"
    user = get_user_model().objects.create_user(username=email, email=email, password=demo.PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    Membership.objects.create(user=user, organisation=org, role=Membership.Role.CONSUMER)
    tokens_grant(org, assets.ENERGY, Decimal("12.50"), "browser-e")
    return {"email": email, "org": org}


def wallet_handler(rpc_url: str, key: str):
    """The injected wallet's back end: answers EIP-1193 requests, signing with ``key``."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url))
    account = Account.from_key(key)
    calls: list[str] = []

    def handle(method: str, params_json: str) -> str:
        params = json.loads(params_json)
        calls.append(method)
        try:
            if method in ("eth_requestAccounts", "eth_accounts"):
                result = [account.address]
            elif method == "eth_chainId":
                result = hex(w3.eth.chain_id)
            elif method == "personal_sign":
                result = "0x" + account.sign_message(encode_defunct(text=params[0])).signature.hex().removeprefix("0x")
            elif method == "eth_sendTransaction":
                tx = params[0]
                call = {"from": account.address, "to": Web3.to_checksum_address(tx["to"]), "data": tx["data"]}
                base = w3.eth.get_block("latest")["baseFeePerGas"]
                call.update(
                    nonce=w3.eth.get_transaction_count(account.address, "pending"),
                    gas=int(w3.eth.estimate_gas(call) * 1.2),
                    chainId=w3.eth.chain_id,
                    maxFeePerGas=2 * base + 10**9,
                    maxPriorityFeePerGas=10**9,
                    type=2,
                )
                result = "0x" + bytes(w3.eth.send_raw_transaction(account.sign_transaction(call).raw_transaction)).hex()
            elif method == "eth_getTransactionReceipt":
                try:
                    r = w3.eth.get_transaction_receipt(params[0])
                    result = {"blockNumber": hex(r["blockNumber"]), "status": hex(r["status"])}
                except Exception:  # noqa: BLE001 - not mined yet
                    result = None
            else:
                return json.dumps({"error": f"unsupported method {method}"})
        except Exception as exc:  # noqa: BLE001 - surfaced to the page like a wallet's error
            return json.dumps({"error": str(exc)})
        return json.dumps({"result": result})

    return handle, calls


def _off_loop(fn):
    """Run ORM work in its own thread (Playwright's event loop runs in this one)."""
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", fn()))
    thread.start()
    thread.join()
    return out.get("value")


def test_consumer_links_a_wallet_by_signature_and_claims_from_the_browser(
    token_holder,
    anvil_chain,
    live_server,
    chromium,  # noqa: F811 - the fixture imported above
):
    from settlement.services.claims import claims_epoch_close

    handle, calls = wallet_handler(anvil_chain.url, WALLET_KEY)
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.expose_function("__flexWallet", handle)
    page.add_init_script(PROVIDER_JS)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", token_holder["email"])
    page.fill("input[name=password]", demo.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/tokens/")
    assert "No wallet linked" in page.locator("[data-testid=wallet-address]").inner_text()
    assert "12.50" in page.locator("[data-testid=token-balances]").inner_text()

    page.click("[data-testid=wallet-link]")
    address = Account.from_key(WALLET_KEY).address
    page.wait_for_selector(f"code[data-testid=wallet-address]:has-text('{address}')")
    assert "personal_sign" in calls

    # The daily job: tokens become claimable, root anchored (ORM work, so off Playwright's loop).
    contract = _off_loop(lambda: claims_epoch_close().deployment.address)
    page.reload()
    assert page.locator("[data-testid=claimable-FLEX-NRG]").inner_text() == "12.50"
    page.click("[data-testid=claim-FLEX-NRG]")
    page.wait_for_selector("[data-testid=claimed-FLEX-NRG]:has-text('12.50')", timeout=30_000)
    assert "eth_sendTransaction" in calls
    assert "0x" in page.locator("[data-testid=claims]").inner_text()
    assert page.locator("[data-testid=claimable-FLEX-NRG]").inner_text() == "0.00"
    assert not errors, errors
    token = TokenClient(anvil_chain.url, WALLET_KEY, contract)
    assert token.balance_of(address, TOKEN_IDS[assets.ENERGY]) == 1250
