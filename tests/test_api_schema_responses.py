"""The OpenAPI document (drf-spectacular) and the responses agree (issue 20): each response validates against
the schema the document gives for its operation (OpenAPI 3.0 ``nullable`` read as JSON Schema's null type)."""

from __future__ import annotations

import jsonschema
import pytest


def _json_schema(node, components):
    """OpenAPI 3.0 schema -> JSON Schema: ``$ref`` inlined, ``nullable: true`` -> ``null`` allowed."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {k: _json_schema(v, components) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture
def schema_for(api_for):
    document = api_for("admin@demo.flex").get("/api/schema/", {"format": "json"}).json()
    components = document["components"]["schemas"]

    def schema(path: str, method: str = "get", status: str = "200"):
        content = document["paths"][path][method]["responses"][status]["content"]
        return _json_schema(content["application/json"]["schema"], components)

    return schema


def test_premises_prices_and_audit_responses_match_the_schema(small_world, api_for, schema_for) -> None:
    from datetime import UTC, datetime, timedelta

    from accounts.models import AuditEntry, GridZone, Organisation, Premise
    from market.models import Auction, ClearingRun

    start = datetime(2026, 11, 2, tzinfo=UTC)
    auction = Auction.objects.create(
        market="day_ahead", product="congestion", zone=GridZone.objects.get(code="sub-east-1"),
        operator=Organisation.objects.filter(kind=Organisation.Kind.GRID_OPERATOR).first(),
        delivery_start=start, delivery_end=start + timedelta(hours=2), interval_minutes=60,
        gate_closure=start - timedelta(hours=12), status="cleared",
    )  # fmt: skip
    ClearingRun.objects.create(
        auction=auction, rule_version="test", awarded_kw="20.000", inputs={}, cleared_at=start,
        outputs={"intervals": [{"interval": 0, "clearing_price_per_mwh": "40.00", "volume_kw": "20.000"},
                               {"interval": 1, "clearing_price_per_mwh": None, "volume_kw": "0.000"}]},
    )  # fmt: skip
    assert Premise.objects.filter(aggregator=None).exists()  # the case the schema called "string"
    assert AuditEntry.objects.exists()
    cases = [
        ("consumer01@demo.flex", "/api/v1/accounts/premises/"),
        ("admin@demo.flex", "/api/v1/accounts/premises/"),
        (None, "/api/v1/market/prices/"),
        ("admin@demo.flex", "/api/v1/accounts/audit/"),
    ]
    for email, path in cases:
        response = api_for(email).get(path)
        assert response.status_code == 200, path
        body = response.json()
        assert body, path  # something to check
        jsonschema.validate(body, schema_for(path))
