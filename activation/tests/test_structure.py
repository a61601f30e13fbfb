"""Activation's structure, as rules (issue 13): no module calls another's private helper, one import cycle at most
(the on-commit enqueue of ``flush_outbox``), error codes from the enum, tasks enqueued from one place, modules
under 600 lines, no import of settlement beyond the one governed-parameter read still waiting for its move."""

from __future__ import annotations

import ast
from pathlib import Path

import activation

ROOT = Path(activation.__file__).parent
# services.outbox imports tasks inside ``_flush_enqueue`` (tasks import the services): the one allowed back edge.
ON_COMMIT_EDGE = ("activation.services.outbox", "activation.tasks")
# Read of a governed market parameter, to be imported from the market layer once it lives there (issue 13).
SETTLEMENT_READS = {("activation.services.penalties", "settlement.selectors")}


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent)
        if {"tests", "migrations"} & set(rel.parts):
            continue
        name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        out[name] = (path, ast.parse(path.read_text()))
    return out


def _imports(name: str, path: Path, tree: ast.Module):
    """(imported module, names) per import statement, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            yield module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def _resolve(target: str, modules) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def test_no_module_uses_another_modules_private_names():
    modules = _modules()
    offences = []
    for name, (path, tree) in modules.items():
        aliases = {}  # local name -> activation module it names
        for module, names in _imports(name, path, tree):
            for n in names:
                full = f"{module}.{n}"
                if full in modules:
                    aliases[n] = full
                elif n.startswith("_") and not n.startswith("__") and module.startswith("activation"):
                    offences.append(f"{name} imports {module}.{n}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(f"{name} uses {aliases[node.value.id]}.{node.attr}")
    assert offences == []


def test_module_imports_form_no_cycle_but_the_on_commit_enqueue():
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, (path, tree) in modules.items():
        for module, names in _imports(name, path, tree):
            for target in [module, *(f"{module}.{n}" for n in names)]:
                resolved = _resolve(target, modules)
                if resolved and resolved != name and (name, resolved) != ON_COMMIT_EDGE:
                    edges[name].add(resolved)
    state: dict[str, int] = {}

    def cycle_from(m, trail):
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                return [*trail, m, n]
            if n not in state and (found := cycle_from(n, [*trail, m])):
                return found
        state[m] = 2
        return None

    cycles = [c for m in sorted(modules) if m not in state and (c := cycle_from(m, []))]
    assert cycles == []


def test_services_enqueue_tasks_from_one_place_and_import_no_higher_app():
    modules = _modules()
    task_importers, settlement = set(), set()
    for name, (path, tree) in modules.items():
        for module, names in _imports(name, path, tree):
            targets = {module, *(f"{module}.{n}" for n in names)}
            if "activation.tasks" in targets and name.startswith("activation.services"):
                task_importers.add(name)
            if module.split(".")[0] in ("settlement", "portal", "demo"):
                settlement.add((name, module))
    assert task_importers <= {ON_COMMIT_EDGE[0]}
    assert settlement <= SETTLEMENT_READS


def test_error_codes_come_from_the_enum():
    """A refusal's ``code=`` is an ``ActivationErrorCode`` member, never a string literal."""
    literals = []
    for name, (_, tree) in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                        literals.append(f"{name}:{node.lineno} code={kw.value.value!r}")
    assert literals == []


def test_no_module_over_600_lines():
    long = {name: n for name, (path, _) in _modules().items() if (n := len(path.read_text().splitlines())) > 600}
    assert long == {}
