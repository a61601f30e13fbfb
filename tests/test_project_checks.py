"""Project hygiene a deploy depends on: migrations in step with models, production settings that pass Django's
deploy checks and refuse the dev chain key, a clean lint, and a compose file with the whole stack."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PRODUCTION_ENV = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CHAIN_RPC_URL",
    "CHAIN_PRIVATE_KEY",
)


def _env(**overrides: str) -> dict[str, str]:
    """The current environment without the test run's database, broker and settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(overrides)
    return env


def _production_env(**overrides: str) -> dict[str, str]:
    values = {
        "DJANGO_SETTINGS_MODULE": "flexplatform.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "flex.example.org",
        "DATABASE_URL": "postgres://flex:secret@db.example.org:5432/flexplatform",
        "REDIS_URL": "redis://redis.example.org:6379/0",
        "CHAIN_RPC_URL": "https://rpc.example.org",
        "CHAIN_PRIVATE_KEY": "0x" + secrets.token_hex(32),
    }
    return _env(**{**values, **overrides})


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_migrations_match_the_models():
    result = _manage(
        "makemigrations", "--check", "--dry-run", env=_env(DJANGO_SETTINGS_MODULE="flexplatform.settings.test")
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_pass_the_deploy_checks():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_anvils_development_key():
    for key in (ANVIL_DEV_KEY, ANVIL_DEV_KEY.upper().replace("0X", "0x"), ANVIL_DEV_KEY.removeprefix("0x")):
        result = _manage("check", env=_production_env(CHAIN_PRIVATE_KEY=key))
        assert result.returncode != 0, key
        assert "ImproperlyConfigured" in result.stderr
        assert "CHAIN_PRIVATE_KEY" in result.stderr


def test_production_settings_have_no_default_for_secrets():
    for name in ("DJANGO_SECRET_KEY", "CHAIN_PRIVATE_KEY", "DATABASE_URL"):
        env = _production_env()
        del env[name]
        result = _manage("check", env=env)
        assert result.returncode != 0, name
        assert name in result.stderr, name


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    ruff_cmd = str(ruff) if ruff.exists() else shutil.which("ruff")
    assert ruff_cmd, "ruff is not installed (requirements-dev.txt)"
    result = subprocess.run([ruff_cmd, "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_runs_the_whole_stack():
    path = ROOT / "docker-compose.yml"
    if not path.exists():
        pytest.skip("docker-compose.yml is not written yet")
    compose = yaml.safe_load(path.read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "anvil"} <= set(services)
    for name in ("web", "worker", "beat"):
        service = services[name]
        env = service.get("environment", {})
        assert env.get("DJANGO_SETTINGS_MODULE") == "flexplatform.settings.production", name
        missing = [var for var in PRODUCTION_ENV if var not in env]
        assert not missing, (name, missing)
        assert ANVIL_DEV_KEY.removeprefix("0x") not in str(env.get("CHAIN_PRIVATE_KEY", "")).lower(), name
        assert {"postgres", "redis"} <= set(service.get("depends_on", {})), name
    command = {name: " ".join(services[name]["command"]) for name in ("worker", "beat")}
    assert "celery" in command["worker"] and "worker" in command["worker"]
    assert "celery" in command["beat"] and "beat" in command["beat"]
