"""The compiled FlexAnchor contract, as committed in ``artifacts/FlexAnchor.json``.

The artifact is produced by ``contracts/compile.js`` (``npm run compile``): solc-js 0.8.37,
standard JSON, evmVersion ``prague``, optimizer 200 runs. ``node contracts/compile.js --check``
fails when it is stale (checked by ``settlement/tests/test_contract.py``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from _pysha3 import keccak_256

__all__ = ["ContractArtifact", "ErrorAbi", "artifact_path", "load_artifact"]

CONTRACT_NAME = "FlexAnchor"


@dataclass(frozen=True)
class ErrorAbi:
    """A custom error of the ABI: ``name(types...)`` and its 4-byte selector."""

    name: str
    types: tuple[str, ...]
    arg_names: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"

    @property
    def selector(self) -> bytes:
        return keccak_256(self.signature.encode("ascii")).digest()[:4]


@dataclass(frozen=True)
class ContractArtifact:
    """ABI, bytecode and build provenance of one compiled contract."""

    contract_name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    settings: dict[str, Any]
    sources_sha256: str

    @functools.cached_property
    def errors(self) -> dict[bytes, ErrorAbi]:
        """Custom errors (including inherited OpenZeppelin ones) by selector."""
        found = {}
        for item in self.abi:
            if item.get("type") == "error":
                error = ErrorAbi(
                    name=item["name"],
                    types=tuple(_canonical_type(i) for i in item.get("inputs", ())),
                    arg_names=tuple(i.get("name", "") for i in item.get("inputs", ())),
                )
                found[error.selector] = error
        return found


def _canonical_type(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def artifact_path(name: str = CONTRACT_NAME) -> Any:
    """Location of the artifact file inside the ``settlement.chain`` package."""
    return resources.files("settlement.chain").joinpath("artifacts", f"{name}.json")


@functools.cache
def load_artifact(name: str = CONTRACT_NAME) -> ContractArtifact:
    """Load (once per process) the committed artifact of contract ``name``."""
    data = json.loads(artifact_path(name).read_text(encoding="utf-8"))
    return ContractArtifact(
        contract_name=data["contractName"],
        abi=tuple(data["abi"]),
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compiler"]["version"],
        settings=data["compiler"]["settings"],
        sources_sha256=data["sourcesSha256"],
    )
