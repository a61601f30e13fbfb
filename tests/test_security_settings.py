"""Production refuses the public development secrets (every anvil/hardhat key, the development SECRET_KEY) and has
secure cookies and HSTS; every response carries a Content-Security-Policy under which no inline script runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from flexplatform.core import checks as core_checks
from flexplatform.core import csp

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "0x" + "4f" * 32


def _production(**overrides) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "flexplatform.settings.production",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "flex.example",
        "DATABASE_URL": "sqlite:////tmp/flex-prod-check.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "CHAIN_RPC_URL": "http://127.0.0.1:8545",
        "CHAIN_PRIVATE_KEY": GOOD_KEY,
        **overrides,
    }
    code = (
        "import sys, django; from django.core.management import call_command; django.setup();"
        "from django.conf import settings as s;"
        "print('COOKIES', s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0);"
        "call_command('check', deploy=True, fail_level='ERROR')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_production_check_refuses_anvil_key_1_and_the_development_secret_and_accepts_real_ones():
    ok = _production()
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "COOKIES True True True" in ok.stdout
    key1 = _production(CHAIN_PRIVATE_KEY=settings.ANVIL_DEV_PRIVATE_KEYS[1])
    assert key1.returncode != 0 and "anvil" in key1.stderr
    dev_secret = _production(DJANGO_SECRET_KEY=settings.DEV_SECRET_KEY)
    assert dev_secret.returncode != 0 and "development secret key" in dev_secret.stderr


def test_the_deploy_check_names_every_one_of_the_ten_dev_keys(settings):
    assert len(set(settings.ANVIL_DEV_PRIVATE_KEYS)) == 10
    for key in settings.ANVIL_DEV_PRIVATE_KEYS:
        for spelling in (key, key.upper().replace("0X", "0x"), key.removeprefix("0x")):
            settings.CHAIN_PRIVATE_KEY = spelling
            ids = [e.id for e in core_checks.check_development_secrets()]
            assert "flexplatform.E001" in ids, spelling
    settings.CHAIN_PRIVATE_KEY = GOOD_KEY
    settings.SECRET_KEY = settings.DEV_SECRET_KEY
    assert [e.id for e in core_checks.check_development_secrets()] == ["flexplatform.E002"]


@pytest.mark.django_db
def test_every_page_has_a_csp_and_its_inline_scripts_carry_the_nonce(client):
    response = client.get("/market/prices/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    html = response.content.decode()
    inline = [a for a in re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) if "application/json" not in a]
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)  # data blocks (json_script) never run
    assert client.get("/market/prices/")["Content-Security-Policy"] != policy  # a fresh nonce per response
    api = client.get("/api/v1/market/prices/")
    assert "Content-Security-Policy" in api


def test_templates_have_no_inline_script_without_a_nonce_and_no_inline_handlers():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for attrs in re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", text):
            assert "nonce=" in attrs or "application/json" in attrs, path
        assert not re.search(r"\son[a-z]+\s*=\s*\"", text), f"inline event handler in {path}"


def test_policy_allows_no_third_party_origin_even_on_the_api_docs():
    for path in ("/api/docs/", "/api/redoc/", "/"):
        assert "https://" not in csp.policy("n", path=path), path  # Swagger UI and ReDoc come from our static files
