"""Project hygiene a deploy depends on: migrations in step with models, production settings that pass Django's
deploy checks and refuse the dev chain key, a clean lint, the layer contracts of ADR 0017, modules of one
responsibility (at most 600 lines), ADRs numbered uniquely with a status, and a compose file with the whole stack."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
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
MAX_MODULE_LINES = 600


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


def test_each_apps_migrations_form_one_chain():
    """A linear history per app: no merge migrations, one leaf, one parent in the app per migration."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    for app in ("accounts", "assessment", "market", "activation", "settlement"):
        assert len(loader.graph.leaf_nodes(app)) == 1, loader.graph.leaf_nodes(app)
        for key, migration in loader.disk_migrations.items():
            if key[0] != app:
                continue
            parents = [dep for dep in migration.dependencies if dep[0] == app]
            assert len(parents) == (0 if key[1].startswith("0001_") else 1), (key, parents)
            assert "merge" not in key[1], key


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


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the tree at ``root`` with the contracts in its pyproject.toml."""
    lint = Path(sys.executable).with_name("lint-imports")
    lint_cmd = str(lint) if lint.exists() else shutil.which("lint-imports")
    assert lint_cmd, "import-linter is not installed (requirements-dev.txt)"
    env = {**_env(), "PYTHONPATH": str(root)}
    return subprocess.run(
        [lint_cmd, "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_imports_keep_the_layer_order():
    """No app imports a later app, not even inside a function (ADR 0017); no production module reads demo data."""
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _contract_modules(config: dict) -> set[str]:
    """Every module the contracts name, so that a stand-in tree holds them all."""
    names = set(config["root_packages"])
    for contract in config["contracts"]:
        for layer in contract.get("layers", []):
            names |= {part.strip().strip("()") for part in re.split(r"[|:]", layer)}
        for name in (*contract.get("source_modules", []), *contract.get("forbidden_modules", [])):
            names.add(name.replace(".*", ".selectors"))
    return names


def _stand_in_tree(tmp_path: Path, imports: dict[str, str]) -> Path:
    """A tree of empty modules under the project's own contracts; ``imports`` maps a module to its source."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for name in _contract_modules(config) | set(imports):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            package = tmp_path.joinpath(*parts[:depth])
            package.mkdir(exist_ok=True)
            package.joinpath("__init__.py").touch()
        if len(parts) == 1:
            tmp_path.joinpath(name).mkdir(exist_ok=True)
            path = tmp_path / name / "__init__.py"
        else:
            path = tmp_path.joinpath(*parts[:-1], parts[-1] + ".py")
        path.write_text(imports.get(name, ""))
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    return tmp_path


DOWNWARD = {
    "flexplatform.urls": "import portal\n",
    "demo": "import settlement\nimport assessment.synthetic\n",
    "portal": "import settlement\nimport market\n",
    "settlement": "import activation\n",
    "activation": "import market\n",
    "market": "import assessment\n",
    "assessment": "import accounts\n",
    "accounts": "import flexplatform.errors\n",
    "flexplatform.api": "from flexplatform import errors, snapshots, transactions\n",
    "accounts.tests": "import settlement\n",
}


def test_the_layer_contracts_keep_a_tree_that_imports_downward(tmp_path):
    result = _lint_imports(_stand_in_tree(tmp_path, DOWNWARD))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("importer", "source", "reported"),
    [
        ("accounts.selectors", "import market.selectors\n", "accounts is not allowed to import market"),
        (
            "assessment.selectors",
            "def f():\n    from activation import x\n",
            "assessment is not allowed to import activation",
        ),
        ("flexplatform.api", "import accounts\n", "flexplatform.api is not allowed to import accounts"),
        ("settlement", "import portal\n", "settlement is not allowed to import portal"),
        ("portal", "import demo\n", "portal is not allowed to import demo"),
        (
            "assessment.selectors",
            "import assessment.synthetic\n",
            "assessment.selectors is not allowed to import assessment.synthetic",
        ),
    ],
)
def test_the_layer_contracts_refuse_an_upward_import(tmp_path, importer, source, reported):
    result = _lint_imports(_stand_in_tree(tmp_path, {**DOWNWARD, importer: source}))
    assert result.returncode != 0, result.stdout
    assert reported in " ".join(result.stdout.split()), result.stdout


def _hand_written_modules() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listed.stdout.split() if "/migrations/" not in name]


def test_no_hand_written_module_is_over_600_lines():
    """A module over 600 lines does many things: split it by responsibility (STYLE.md)."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in _hand_written_modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_adrs_are_numbered_uniquely_with_a_status_and_indexed():
    adr_dir = ROOT / "docs" / "adr"
    adrs = sorted(adr_dir.glob("[0-9][0-9][0-9][0-9]-*.md"))
    numbers = [path.name[:4] for path in adrs]
    assert len(adrs) >= 16, "the ADRs are missing"
    assert len(numbers) == len(set(numbers)), sorted(n for n in numbers if numbers.count(n) > 1)
    index = (adr_dir / "README.md").read_text()
    for path in adrs:
        status = re.search(r"^Status: (Accepted|Proposed|Deprecated|Superseded by \d{4})\b", path.read_text(), re.M)
        assert status, f"{path.name} has no Status: line"
        assert f"({path.name})" in index, f"{path.name} is missing from docs/adr/README.md"


def test_readme_is_an_entry_point_with_the_reference_in_docs():
    """The README leads (what it is, the two commands, the app map, the architecture, links) under 20 KB; the
    reference lives in docs/ and every relative link in the docs resolves."""
    readme = ROOT / "README.md"
    assert readme.stat().st_size < 20_000, readme.stat().st_size
    pages = [readme, *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://", "mailto:")) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
    for name in ("configuration.md", "api.md", "operations.md", "verifying-payments.md"):
        assert f"docs/{name}" in readme.read_text(), name


def test_every_environment_variable_is_documented():
    """Every variable the code reads from the environment has its row in docs/configuration.md."""
    read = re.compile(r"""(?:env(?:\.\w+)?\(\s*|os\.environ(?:\.get)?[\[(]\s*|getenv\(\s*)["']([A-Z][A-Z0-9_]+)["']""")
    sources = [p for p in _hand_written_modules() if p.relative_to(ROOT).parts[0] not in ("bench", "docs")]
    names = {name for path in sources for name in read.findall(path.read_text())}
    assert "DATABASE_URL" in names and "CHAIN_PRIVATE_KEY" in names
    table = (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in table)
    assert not missing, missing
