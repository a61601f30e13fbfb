"""The OpenADR 3.1.0 OpenAPI definition for tests: its schemas as JSON Schema (draft 4) and the document itself for
schemathesis, with the spec's one contradiction resolved.

Erratum (ADR 0022): 3.1.0 defines the returned ``ven`` as ``allOf: [objectMetadata, BlVenRequest]`` and
``resource`` as ``allOf: [objectMetadata, BlResourceRequest]``. ``objectMetadata.objectType`` must be one of
``objectTypes`` (VEN, RESOURCE...) while the request schemas' ``objectType`` must be ``BL_VEN_REQUEST`` /
``BL_RESOURCE_REQUEST``: no object satisfies both. The VTN answers ``objectType`` VEN / RESOURCE (as
``objectMetadata`` and the notification's discriminator say); the request discriminator is dropped from those two
response schemas only. Erratum 2: the JSON request bodies of POST and PUT are read as required (the document
leaves most optional; a write without its object is a 400). Nothing else is changed.
"""

from __future__ import annotations

import copy
from datetime import date
from functools import cache
from pathlib import Path

import jsonschema
import yaml

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openadr3" / "openadr3-3.1.0.yaml"


def _plain(node):
    """YAML reads unquoted examples such as 2023-06-15T09:30:00Z as datetimes; JSON has only their text."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, date):
        return node.isoformat().replace("+00:00", "Z")
    return node


@cache
def document() -> dict:
    """The 3.1.0 OpenAPI document with the erratum applied."""
    doc = _plain(yaml.safe_load(SPEC.read_text()))
    schemas = doc["components"]["schemas"]
    for returned, request in (("ven", "BlVenRequest"), ("resource", "BlResourceRequest")):
        server_side = copy.deepcopy(schemas[request])
        server_side["properties"].pop("objectType")
        server_side["required"] = [r for r in server_side["required"] if r != "objectType"]
        schemas[f"{request}Returned"] = server_side
        schemas[returned]["allOf"] = [
            {"$ref": "#/components/schemas/objectMetadata"},
            {"$ref": f"#/components/schemas/{request}Returned"},
        ]
    # Erratum 2: the writes' request bodies are optional in the document (no ``required: true`` on PUT and most
    # POST bodies); a write without its object cannot be carried out (400), so they are read as required.
    for item in doc["paths"].values():
        for method in ("post", "put"):
            body = item.get(method, {}).get("requestBody")
            if body is not None and "application/json" in body.get("content", {}):
                body["required"] = True
    return doc


@cache
def _definitions() -> dict:
    def fix(node):
        if isinstance(node, dict):
            node = {k: fix(v) for k, v in node.items() if k not in ("discriminator", "example")}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            return node
        if isinstance(node, list):
            return [fix(v) for v in node]
        if isinstance(node, str) and node.startswith("#/components/schemas/"):
            return "#/definitions/" + node.rsplit("/", 1)[1]
        return node

    return fix(copy.deepcopy(document()["components"]["schemas"]))


def valid(instance, name: str, many: bool = False) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` is a 3.1.0 ``name`` (or a list of them)."""
    ref = {"$ref": f"#/definitions/{name}"}
    schema = {"definitions": _definitions(), **({"type": "array", "items": ref} if many else ref)}
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(instance)


def problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:300])
    body = response.json()
    valid(body, "problem")
    assert body["status"] == status
    return body
