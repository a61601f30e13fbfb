"""``docs/claim_tokens.py`` claims with only web3 and the exported proof bundle, against anvil, with the platform
out of the loop; the platform then sees the claim like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.test import override_settings
from eth_account import Account

from settlement import assets
from settlement.chain import AnvilProcess, TokenClient
from settlement.chain.anvil import ANVIL_DEV_KEY, anvil_binary
from settlement.merkle import keccak256
from settlement.models import LedgerAccount
from settlement.selectors_claims import claims_bundle
from settlement.services.claims import claims_epoch_close, claims_sync
from settlement.services.ledger import balance_of
from settlement.tests.factories import tokens_grant, world_make
from settlement.tests.test_services_claims import siwe_link

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "claim_tokens.py"
KEY = "0x" + keccak256(b"standalone claimant").hex()
pytestmark = pytest.mark.django_db


@pytest.fixture
def anvil_url():
    if not anvil_binary().is_file():
        pytest.skip("anvil binary not found")
    node = AnvilProcess()
    node.start()
    try:
        with override_settings(CHAIN_RPC_URL=node.url, CHAIN_TOKEN_ADDRESS=""):
            yield node.url
    finally:
        node.stop()


def run_script(bundle: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CLAIM_PRIVATE_KEY": KEY}
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(SCRIPT), str(bundle), url, *extra], env=env, capture_output=True, text=True, timeout=120
    )


def test_standalone_script_claims_from_the_bundle(anvil_url, tmp_path):
    org = world_make(n=1).consumers[0]
    tokens_grant(org, assets.CAPACITY, D("4.2"), "c")
    tokens_grant(org, assets.GOVERNANCE, D("1"), "g")
    siwe_link(org, KEY)
    epoch = claims_epoch_close()
    funder = TokenClient(anvil_url, ANVIL_DEV_KEY)
    funder._rpc("anvil_setBalance", [Account.from_key(KEY).address, hex(10**19)])  # the wallet pays its own gas
    bundle = tmp_path / "flex-claims.json"
    bundle.write_text(json.dumps(claims_bundle(organisation=org)))
    no_key = subprocess.run(  # noqa: S603
        [sys.executable, str(SCRIPT), str(bundle), anvil_url],
        env={k: v for k, v in os.environ.items() if k != "CLAIM_PRIVATE_KEY"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_key.returncode == 2
    dry = run_script(bundle, anvil_url, "--dry-run")
    assert dry.returncode == 0 and "claiming 4.20" in dry.stdout, dry.stderr
    done = run_script(bundle, anvil_url, "--contract", epoch.deployment.address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "claimed in 0x" in done.stdout and "balance now 4.20" in done.stdout
    token = TokenClient(anvil_url, KEY, epoch.deployment.address)
    address = Account.from_key(KEY).address
    assert (token.balance_of(address, 1), token.balance_of(address, 5)) == (420, 100)
    again = run_script(bundle, anvil_url)
    assert again.returncode == 0 and "already claimed" in again.stdout
    # A tampered bundle (a bigger amount) is refused before anything is sent.
    data = json.loads(bundle.read_text())
    data["claims"][0]["cumulative"] = "99999"
    bundle.write_text(json.dumps(data))
    assert run_script(bundle, anvil_url).returncode == 1
    claims_sync()
    assert balance_of(organisation=org, kind=LedgerAccount.Kind.CLAIMED, asset=assets.CAPACITY) == D("4.2")
