"""The OpenADR 3.0.1 spec's component schemas as JSON Schema (draft 4), to validate the VTN's bodies."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import jsonschema
import yaml

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openadr3" / "openadr3-3.0.1.yaml"


@cache
def _definitions() -> dict:
    comps = yaml.safe_load(SPEC.read_text())["components"]["schemas"]

    def fix(node):
        # OpenAPI 3.0 ``nullable`` -> JSON Schema; drop ``discriminator`` (not JSON Schema).
        if isinstance(node, dict):
            node = {k: fix(v) for k, v in node.items() if k != "discriminator"}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            return node
        if isinstance(node, list):
            return [fix(v) for v in node]
        if isinstance(node, str) and node.startswith("#/components/schemas/"):
            return "#/definitions/" + node.rsplit("/", 1)[1]
        return node

    return fix(copy.deepcopy(comps))


def schema(name: str, many: bool = False) -> dict:
    ref = {"$ref": f"#/definitions/{name}"}
    return {"definitions": _definitions(), **({"type": "array", "items": ref} if many else ref)}


def valid(instance, name_or_schema, many: bool = False) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` conforms (OpenAPI 3.0 schemas are draft 4)."""
    s = schema(name_or_schema, many) if isinstance(name_or_schema, str) else name_or_schema
    jsonschema.Draft4Validator(s, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(instance)


def problem(response, status: int) -> dict:
    """The response is the spec's ``problem`` with that status."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:300])
    body = response.json()
    valid(body, "problem")
    assert body["status"] == status
    return body
