"""The OpenADR 3.0.1 spec's component schemas as JSON Schema (draft 4), to validate the VTN's bodies in tests
(``activation.openadr_spec`` builds them; this checks with the stock draft-4 format checker too)."""

from __future__ import annotations

import jsonschema

from activation import openadr_spec

VERSION = "3.0.1"
SPEC = openadr_spec.spec_path(VERSION)


def schema(name: str, many: bool = False) -> dict:
    return openadr_spec.schema(VERSION, name, many=many)


def valid(instance, name_or_schema, many: bool = False) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` conforms (OpenAPI 3.0 schemas are draft 4)."""
    s = schema(name_or_schema, many) if isinstance(name_or_schema, str) else name_or_schema
    jsonschema.Draft4Validator(s, format_checker=openadr_spec.FORMATS).validate(instance)


def problem(response, status: int) -> dict:
    """The response is the spec's ``problem`` with that status."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:300])
    body = response.json()
    valid(body, "problem")
    assert body["status"] == status
    return body
