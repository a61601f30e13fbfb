"""Proofs for users: the API bundle and its download, the portal payment page, the public verify endpoint,
and the standalone script ``docs/verify_bundle.py`` run against a bundle on anvil (no platform code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, Organisation
from accounts.services import organisation_create, user_create
from settlement.chain import AnvilProcess
from settlement.services import anchoring
from settlement.services.anchoring import periods_anchor_closed
from settlement.tests.anchoring_helpers import anvil_node, closed_hours, items_create  # noqa: F401 - fixture

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "docs" / "verify_bundle.py"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anchored(settings, anvil_node: AnvilProcess):  # noqa: F811
    settings.CHAIN_RPC_URL = anvil_node.url
    anchoring._client.cache_clear()
    payee = organisation_create(name="Proof household", kind=Organisation.Kind.CONSUMER)
    other = organisation_create(name="Other household", kind=Organisation.Kind.CONSUMER)
    user_create(email="payee@proof.test", password="x", organisation=payee, role=Membership.Role.CONSUMER)
    user_create(email="other@proof.test", password="x", organisation=other, role=Membership.Role.CONSUMER)
    items = items_create(closed_hours(2), payee=payee)
    items_create(closed_hours(1, hours_ago=40), payee=other)
    periods_anchor_closed()
    yield items
    anchoring._client.cache_clear()


def _api(email: str | None) -> APIClient:
    from django.contrib.auth import get_user_model

    client = APIClient()
    if email:
        client.force_authenticate(get_user_model().objects.get(email=email))
    return client


def _portal(email: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(email=email))
    return client


def test_bundle_download_and_public_verification(anchored) -> None:
    item = anchored[4]
    bundle = _api("payee@proof.test").get(f"/api/v1/settlement/items/{item.pk}/proof/").json()
    assert bundle["status"] == "confirmed" and bundle["leaf_count"] == 3
    assert bundle["tx_hash"].startswith("0x") and bundle["block_number"] > 0

    download = _api("payee@proof.test").get(f"/api/v1/settlement/items/{item.pk}/proof/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="payment-{item.pk}-proof.json"'
    assert json.loads(download.content) == bundle
    assert _api("other@proof.test").get(f"/api/v1/settlement/items/{item.pk}/proof/download/").status_code == 404
    assert _api(None).get(f"/api/v1/settlement/items/{item.pk}/proof/download/").status_code in (401, 403)

    # The endpoint behind the public /verify/ page takes the downloaded file as it is, without login.
    public = APIClient()
    verdict = public.post("/api/v1/settlement/proofs/verify/", json.loads(download.content), format="json").json()
    assert verdict["valid"] is True and verdict["verified_on_chain"] is True
    assert verdict["root_on_chain"] == bundle["root"] and verdict["leaf_count"] == 3

    tampered = dict(
        bundle,
        leaf_values=[*bundle["leaf_values"][:3], str(int(bundle["leaf_values"][3]) + 1), bundle["leaf_values"][4]],
    )
    assert public.post("/api/v1/settlement/proofs/verify/", tampered, format="json").json()["valid"] is False
    wrong_proof = dict(bundle, proof=[("0x" + "11" * 32)] + bundle["proof"][1:])
    result = public.post("/api/v1/settlement/proofs/verify/", wrong_proof, format="json").json()
    assert result["valid"] is False and result["verified_on_chain"] is False
    bad = public.post("/api/v1/settlement/proofs/verify/", {"period": -1, "leaf": "0x12", "proof": []}, format="json")
    assert bad.status_code == 400 and set(bad.json()["fields"]) >= {"period", "leaf"}

    # A bundle naming another contract is refused: only the platform's published contract counts.
    nowhere = dict(bundle, contract_address="0x" + "12" * 20)
    elsewhere = public.post("/api/v1/settlement/proofs/verify/", nowhere, format="json").json()
    assert elsewhere["valid"] is False and "not the platform's published anchoring contract" in elsewhere["summary"]

    page = Client().get("/verify/")
    assert page.status_code == 200 and 'data-testid="bundle-file"' in page.content.decode()


def test_portal_payment_page_shows_the_proof_and_a_verify_button(anchored) -> None:
    item = anchored[0]
    bundle = _api("payee@proof.test").get(f"/api/v1/settlement/items/{item.pk}/proof/").json()
    payee = _portal("payee@proof.test")

    dashboard = payee.get("/consumer/").content.decode()
    assert f"/payments/{item.pk}/" in dashboard

    page = payee.get(f"/payments/{item.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for value in [bundle["leaf"], bundle["root"], bundle["tx_hash"], str(bundle["block_number"]), *bundle["proof"]]:
        assert value in html
    for value in bundle["leaf_values"]:
        assert value in html
    assert 'data-testid="verify-button"' in html
    assert f"/api/v1/settlement/items/{item.pk}/proof/download/" in html
    assert _portal("other@proof.test").get(f"/payments/{item.pk}/").status_code == 404
    assert Client().get(f"/payments/{item.pk}/").status_code == 302  # to the login page


def test_standalone_script_verifies_a_bundle_on_anvil(anchored, anvil_node: AnvilProcess, tmp_path: Path) -> None:  # noqa: F811
    item = anchored[2]
    bundle = json.loads(_api("payee@proof.test").get(f"/api/v1/settlement/items/{item.pk}/proof/download/").content)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(bundle))
    tampered = tmp_path / "tampered.json"
    values = list(bundle["leaf_values"])
    values[3] = str(int(values[3]) * 10)
    # A forger recomputes the leaf from the edited values: the chain still refuses it.
    from settlement.merkle import leaf_hash

    forged_leaf = leaf_hash(
        (int(values[0]), bytes.fromhex(values[1][2:]), bytes.fromhex(values[2][2:]), int(values[3]), int(values[4]))
    )
    tampered.write_text(json.dumps(dict(bundle, leaf_values=values, leaf="0x" + forged_leaf.hex())))

    pin = tmp_path / "flexplatform-anchor.json"  # kept once from the platform, then trusted
    pin.write_bytes(Client().get("/.well-known/flexplatform-anchor.json").content)

    def run(path: Path) -> subprocess.CompletedProcess:
        # -I: isolated mode, the project is not importable: the script needs only web3 and the bundle.
        return subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-I", str(SCRIPT), str(path), anvil_node.url, "--anchor-file", str(pin)],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        )  # fmt: skip

    ok = run(good)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("VALID: payment") and f"payment {item.pk} of" in ok.stdout
    assert bundle["root"] in ok.stdout
    forged = run(tampered)
    assert forged.returncode == 1, forged.stderr
    assert "NOT VALID" in forged.stdout
    assert "docs/verify_bundle.py" in (PROJECT_ROOT / "README.md").read_text()
