"""Proofs pin the platform's published deployment (issue 20, item 1).

A forged deployment (a second FlexAnchor on the same chain, a made-up root, its address in a bundle) is INVALID
for all three verifiers; a tampered settlement row answers "no longer matches" (never a 500) and the audit names
the item; a chain node that is down answers 503 / a message; a bundle that is sealed but not anchored yet, or has
no leaf values, is refused in words.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, Organisation
from accounts.services import organisation_create, user_create
from settlement.chain import AnchorClient, reset_eth_tester
from settlement.chain.anvil import ANVIL_DEV_KEYS
from settlement.merkle import MerkleTree, leaf_hash
from settlement.merkle_leaves import format_leaf_value
from settlement.models import AnchorAlert, PeriodAnchor
from settlement.services import anchoring
from settlement.services.anchoring import period_seal, periods_anchor_closed
from settlement.services.audit import anchors_audit
from settlement.tests.anchoring_helpers import closed_hours, items_create

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_bundle.py"
VERIFY = "/api/v1/settlement/proofs/verify/"

pytestmark = pytest.mark.django_db(transaction=True)


def _script():
    spec = importlib.util.spec_from_file_location("verify_bundle", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def anchored(settings):
    name = f"pinned-{uuid.uuid4().hex[:8]}"
    settings.CHAIN_RPC_URL = f"eth-tester://{name}"
    anchoring._client.cache_clear()
    payee = organisation_create(name="Pinned household", kind=Organisation.Kind.CONSUMER)
    user_create(email="payee@pinned.test", password="x", organisation=payee, role=Membership.Role.CONSUMER)
    items = items_create(closed_hours(2), payee=payee)
    periods_anchor_closed()
    yield items
    anchoring._client.cache_clear()
    reset_eth_tester(name)


def _bundle(item) -> dict:
    from django.contrib.auth import get_user_model

    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(email="payee@pinned.test"))
    return api.get(f"/api/v1/settlement/items/{item.pk}/proof/").json()


def _forged_bundle(genuine: dict) -> dict:
    """Deploy our own FlexAnchor, anchor a root of made-up payments (one paying 1,000,000 USD) in it."""
    forger = AnchorClient(anchoring.chain_client().rpc_url, ANVIL_DEV_KEYS[1])
    forger.w3  # noqa: B018 - shares the in-process chain and funds the forger
    forger.deploy()
    period = genuine["period"] + 7 * 24 * 3600  # a period the real contract never anchored
    usd = b"USD".ljust(32, b"\0")
    values = [
        (999, bytes.fromhex(genuine["leaf_values"][1][2:]), usd, 100_000_000, period),
        (1000, bytes(32), usd, 1, period),
    ]
    tree = MerkleTree.of(values)
    forger.anchor(period, tree.root, len(values))
    return {
        **genuine,
        "item_id": 999,
        "leaf_values": format_leaf_value(values[0]),
        "leaf": "0x" + leaf_hash(values[0]).hex(),
        "proof": ["0x" + p.hex() for p in tree.proof(0)],
        "root": "0x" + tree.root.hex(),
        "period": period,
        "contract_address": forger.contract_address,
        "_forger": forger,
    }


def test_well_known_publishes_the_deployment_and_the_bundle_carries_it(anchored) -> None:
    published = Client().get("/.well-known/flexplatform-anchor.json")
    assert published.status_code == 200
    pin = published.json()
    deployment = PeriodAnchor.objects.first().deployment
    assert pin["contract_address"] == deployment.address and pin["chain_id"] == deployment.chain_id
    assert isinstance(pin["deployment_block"], int) and pin["deployment_block"] >= 0
    bundle = _bundle(anchored[0])
    assert bundle["published"] == pin


def test_a_forged_deployment_is_invalid_for_all_three_verifiers(anchored) -> None:
    genuine = _bundle(anchored[1])
    forged = _forged_bundle(genuine)
    forger = forged.pop("_forger")
    # The forged proof is perfectly valid against the forger's own contract...
    assert forger.verify(forged["period"], forged["proof"], forged["leaf"]) is True
    pin = Client().get("/.well-known/flexplatform-anchor.json").json()

    # 1. the API
    verdict = APIClient().post(VERIFY, forged, format="json").json()
    assert verdict["valid"] is False and verdict["verified"] is None
    assert "not the platform's published anchoring contract" in verdict["summary"]
    assert verdict["contract_address"] == pin["contract_address"]
    # ...and without naming a contract it is checked against the published one, which never anchored it.
    unnamed = APIClient().post(VERIFY, {**forged, "contract_address": None}, format="json").json()
    assert unnamed["valid"] is False and "holds no root for period" in unnamed["summary"]

    # 2. the public page
    page = Client().post("/verify/", {"bundle": json.dumps(forged)})
    html = page.content.decode()
    assert page.status_code == 200 and "NOT VALID" in html and "not the platform&#x27;s published" in html
    assert "1000000.00 USD" in html  # what the bundle claimed, in words

    # 3. the standalone script, pinned to the published address (the bundle's own address is ignored)
    script = _script()
    w3 = anchoring.chain_client().w3
    with pytest.raises(script.Refused, match="not the platform's published contract"):
        script.check(forged, w3, contract=pin["contract_address"], chain_id=pin["chain_id"])
    with pytest.raises(script.Refused, match="holds no root for period"):
        script.check({**forged, "contract_address": None}, w3, contract=pin["contract_address"])
    # The genuine bundle passes all three, and each says what was verified.
    assert APIClient().post(VERIFY, genuine, format="json").json()["valid"] is True
    line = script.check(genuine, w3, contract=pin["contract_address"], chain_id=pin["chain_id"])
    assert line.startswith("VALID: payment") and "1.30 USD" in line and pin["contract_address"] in line
    verdict = APIClient().post(VERIFY, genuine, format="json").json()
    assert verdict["verified"]["amount"] == "1.30" and verdict["verified"]["asset"] == "USD"
    assert verdict["verified"]["item_id"] == anchored[1].pk and verdict["summary"].startswith("VALID: payment")
    assert "VALID: payment" in Client().post("/verify/", {"bundle": json.dumps(genuine)}).content.decode()


def test_a_root_written_by_another_contract_is_not_enough(anchored) -> None:
    """The RootAnchored log must come from the published contract: a log from a copy does not count."""
    genuine = _bundle(anchored[0])
    script = _script()
    w3 = anchoring.chain_client().w3
    pin = Client().get("/.well-known/flexplatform-anchor.json").json()
    # Pinned to a forged copy that anchored the same root: the forger's log is from the wrong contract.
    forger = AnchorClient(anchoring.chain_client().rpc_url, ANVIL_DEV_KEYS[2])
    forger.w3  # noqa: B018
    forger.deploy()
    with pytest.raises(script.Refused, match="not the platform's published contract"):
        script.check(genuine, w3, contract=forger.contract_address)
    assert script.check(genuine, w3, contract=pin["contract_address"], from_block=pin["deployment_block"])


def test_a_tampered_row_answers_no_longer_matches_and_the_audit_names_the_item(anchored) -> None:
    from django.contrib.auth import get_user_model

    item = anchored[4]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE settlement_settlementitem SET amount = amount + 1 WHERE id = %s", [item.pk])
    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(email="payee@pinned.test"))
    for url in (f"/api/v1/settlement/items/{item.pk}/proof/", f"/api/v1/settlement/items/{item.pk}/proof/download/"):
        response = api.get(url)
        assert response.status_code == 409, url
        assert response.json()["code"] == "record_changed"
        assert "no longer matches the anchored root" in response.json()["detail"]
    portal = Client()
    portal.force_login(get_user_model().objects.get(email="payee@pinned.test"))
    page = portal.get(f"/payments/{item.pk}/")
    assert page.status_code == 200 and 'data-testid="record-changed"' in page.content.decode()
    assert "no longer matches the anchored root" in page.content.decode()
    assert api.get(f"/api/v1/settlement/items/{anchored[0].pk}/proof/").status_code == 200  # others unaffected

    anchors_audit()
    alert = AnchorAlert.objects.get(kind=AnchorAlert.Kind.DATABASE_CHANGED)
    assert f"item {item.pk} changed: amount (minor units) 130 -> 230" in alert.detail


def test_chain_node_down_is_a_clear_503_and_a_message(anchored, settings) -> None:
    genuine = _bundle(anchored[0])
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    anchoring._client.cache_clear()
    from settlement.models import ChainDeployment

    ChainDeployment.objects.update(rpc_url=settings.CHAIN_RPC_URL)  # the published deployment, on a dead node
    response = APIClient().post(VERIFY, genuine, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "chain_unavailable" and "cannot be reached" in response.json()["detail"]
    page = Client().post("/verify/", {"bundle": json.dumps(genuine)})
    assert page.status_code == 503 and "cannot be reached" in page.content.decode()
    script = _script()
    from web3 import Web3

    with pytest.raises(script.Refused, match="CANNOT CHECK"):
        script.check(genuine, Web3(Web3.HTTPProvider(settings.CHAIN_RPC_URL)), contract=genuine["contract_address"])


def test_sealed_but_not_anchored_and_missing_leaf_values_are_refused_in_words(anchored, tmp_path) -> None:
    genuine = _bundle(anchored[0])
    late = items_create(closed_hours(1, hours_ago=60), payee=anchored[0].payee)
    period_seal(period_id=late[0].period_id)  # sealed, root built, not sent to the chain yet
    sealed = _bundle(late[0])
    assert sealed["status"] == "built" and sealed["contract_address"] is None and not sealed["tx_hash"]
    script = _script()
    pin = Client().get("/.well-known/flexplatform-anchor.json").json()
    with pytest.raises(script.Refused, match="NOT ANCHORED YET"):
        script.check(sealed, anchoring.chain_client().w3, contract=pin["contract_address"])
    verdict = APIClient().post(VERIFY, sealed, format="json").json()
    assert verdict["valid"] is False and "not anchored (yet)" in verdict["summary"]
    # Without a pin the script refuses to check at all (the bundle's own address is not trusted).
    path = tmp_path / "b.json"
    path.write_text(json.dumps(sealed))
    assert script.main([str(path), "http://127.0.0.1:9"]) == script.CANNOT_CHECK

    no_values = {k: v for k, v in genuine.items() if k != "leaf_values"}
    page = Client().post("/verify/", {"bundle": json.dumps(no_values)}).content.decode()
    assert "no leaf values" in page and "VALID: payment" not in page
    api = APIClient().post(VERIFY, no_values, format="json")
    assert api.status_code == 400 and "leaf_values" in api.json()["fields"]
    with pytest.raises(script.Refused, match="no leaf values"):
        script.check(no_values, anchoring.chain_client().w3, contract=pin["contract_address"])


def test_period_beyond_uint64_is_a_400(anchored) -> None:
    genuine = _bundle(anchored[0])
    response = APIClient().post(VERIFY, {**genuine, "period": 2**64}, format="json")
    assert response.status_code == 400 and "period" in response.json()["fields"]
    page = Client().post("/verify/", {"bundle": json.dumps({**genuine, "period": 2**64})})
    assert page.status_code == 200 and "2^64-1" in page.content.decode()
