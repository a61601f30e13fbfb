"""Compensation API: roles refused and allowed, disputes end to end, statements, tax export, governance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.models import Membership, Organisation
from settlement import assets
from settlement.models import Dispute, SettlementItem, SettlementRun

from .factories import DAY, contract_make, event_make, readings_make, tokens_grant, world_make

pytestmark = pytest.mark.django_db
R = Membership.Role


def _client(org, role, name):
    user = get_user_model().objects.create(username=name, email=f"{name}@x.test")
    if org is not None:
        Membership.objects.create(user=user, organisation=org, role=role)
    c = APIClient()
    c.force_authenticate(user)
    return c, user


@pytest.fixture
def setup():
    w = world_make(n=2)
    readings_make(w.premises[0], day=DAY)
    contract_make(w, w.consumers[0], premise=w.premises[0])
    event_make(
        w, w.premises[0], start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("4"), delivered=[D("1")] * 4
    )
    from accounts.models import Organisation

    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin, _ = _client(platform, R.ADMIN, "admin")
    consumer, _ = _client(w.consumers[0], R.CONSUMER, "c0")
    other, _ = _client(w.consumers[1], R.CONSUMER, "c1")
    operator, _ = _client(w.operator, R.GRID_OPERATOR, "op")
    return w, admin, consumer, other, operator


def test_runs_admin_only_and_idempotent(setup):
    w, admin, consumer, other, operator = setup
    body = {"window_start": DAY.isoformat(), "window_end": (DAY + timedelta(days=1)).isoformat()}
    assert consumer.post("/api/v1/settlement/runs/", body, format="json").status_code == 403
    assert operator.get("/api/v1/settlement/runs/").status_code == 403
    r = admin.post("/api/v1/settlement/runs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201 and r.data["attempts"] == 1 and r.data["items_created"] > 0
    again = admin.post("/api/v1/settlement/runs/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.data == r.data and SettlementRun.objects.get().attempts == 1
    other_body = {**body, "window_end": (DAY + timedelta(days=2)).isoformat()}
    reused = admin.post("/api/v1/settlement/runs/", other_body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert reused.status_code == 409 and reused.data["code"] == "idempotency_key_reused"
    assert SettlementRun.objects.count() == 1
    bad = admin.post(
        "/api/v1/settlement/runs/", {"window_start": DAY.isoformat(), "window_end": DAY.isoformat()}, format="json"
    )
    assert bad.status_code == 400 and "window_end" in bad.data["fields"]
    assert len(admin.get("/api/v1/settlement/runs/").data["results"]) == 1


def test_dispute_flow_and_permissions(setup):
    w, admin, consumer, other, operator = setup
    admin.post(
        "/api/v1/settlement/runs/",
        {"window_start": DAY.isoformat(), "window_end": (DAY + timedelta(days=1)).isoformat()},
        format="json",
    )
    item = SettlementItem.objects.get(kind="performance")
    url = f"/api/v1/settlement/items/{item.pk}/disputes/"
    assert other.post(url, {"reason": "mine?"}, format="json").status_code == 404
    assert admin.post(url, {"reason": "x"}, format="json").status_code == 403
    assert consumer.post(url, {"reason": ""}, format="json").status_code == 400
    r = consumer.post(url, {"reason": "interval missing"}, format="json")
    assert r.status_code == 201
    d = r.data["id"]
    assert consumer.post(url, {"reason": "again"}, format="json").status_code == 409
    assert (
        consumer.post(
            f"/api/v1/settlement/disputes/{d}/resolve/",
            {"uphold": True, "resolution": "x", "adjustment": "1.00"},
            format="json",
        ).status_code
        == 403
    )
    r = admin.post(
        f"/api/v1/settlement/disputes/{d}/resolve/",
        {"uphold": True, "resolution": "re-read", "adjustment": "0.10"},
        format="json",
    )
    assert r.status_code == 200 and r.data["status"] == Dispute.Status.UPHELD
    history = consumer.get(f"/api/v1/settlement/disputes/{d}/").data["history"]
    assert [h["action"] for h in history] == ["dispute.opened", "dispute.upheld"]
    assert other.get(f"/api/v1/settlement/disputes/{d}/").status_code == 404
    assert [x["id"] for x in consumer.get("/api/v1/settlement/disputes/").data["results"]] == [d]
    assert other.get("/api/v1/settlement/disputes/").data["results"] == []


def test_statements_and_tax_export(setup):
    w, admin, consumer, other, operator = setup
    admin.post(
        "/api/v1/settlement/runs/",
        {"window_start": DAY.isoformat(), "window_end": (DAY + timedelta(days=1)).isoformat()},
        format="json",
    )
    csv = consumer.get("/api/v1/settlement/statements/2026/3.csv")
    assert csv.status_code == 200 and csv["Content-Type"] == "text/csv" and b"performance" in csv.content
    pdf = consumer.get("/api/v1/settlement/statements/2026/03.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert operator.get("/api/v1/settlement/statements/2026/3.csv").status_code == 403
    assert consumer.get("/api/v1/settlement/tax/2026/eu_annual.csv").status_code == 403
    tax = admin.get("/api/v1/settlement/tax/2026/eu_annual.csv")
    assert tax.status_code == 200 and w.consumers[0].name.encode() in tax.content
    assert admin.get("/api/v1/settlement/tax/2026/mars.csv").status_code == 400


def test_staking_governance_and_withdrawal_over_api(setup):
    w, admin, consumer, other, operator = setup
    tokens_grant(w.consumers[0], assets.GOVERNANCE, D("40"), "api")
    until = "2099-01-01T00:00:00Z"
    assert (
        operator.post(
            "/api/v1/settlement/stakes/", {"asset": "FLEX-GOV", "amount": "10", "locked_until": until}, format="json"
        ).status_code
        == 403
    )
    r = consumer.post(
        "/api/v1/settlement/stakes/",
        {"asset": "FLEX-GOV", "amount": "25", "locked_until": until},
        format="json",
        HTTP_IDEMPOTENCY_KEY="s1",
    )
    assert r.status_code == 201
    stake_body = {"asset": "FLEX-GOV", "amount": "25", "locked_until": until}
    again = consumer.post("/api/v1/settlement/stakes/", stake_body, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    assert (again.status_code, again.data) == (201, r.data)
    reused = consumer.post(
        "/api/v1/settlement/stakes/", {**stake_body, "amount": "26"}, format="json", HTTP_IDEMPOTENCY_KEY="s1"
    )
    assert reused.status_code == 409 and reused.data["code"] == "idempotency_key_reused"
    bal = consumer.get("/api/v1/settlement/balances/").data
    assert bal["FLEX-GOV"] == {"free": "15.0000", "staked": "25.0000"} and bal["staked_collateral"] == "25.00"
    p = consumer.post(
        "/api/v1/settlement/proposals/", {"parameter": "platform_fee_pct", "new_value": "3"}, format="json"
    )
    assert p.status_code == 201
    assert (
        other.post(
            "/api/v1/settlement/proposals/", {"parameter": "platform_fee_pct", "new_value": "3"}, format="json"
        ).status_code
        == 403
    )
    v = consumer.post(f"/api/v1/settlement/proposals/{p.data['id']}/votes/", {"support": True}, format="json")
    assert v.status_code == 201 and v.data["weight"] == "25.00"
    assert admin.post(f"/api/v1/settlement/proposals/{p.data['id']}/execute/").status_code == 409  # voting not ended
    assert consumer.get("/api/v1/settlement/parameters/").data["platform_fee_pct"] == "2"
    # Tokens leave the platform only as on-chain claims to a SIWE-linked wallet (ADR 0023): the unsigned wallet
    # endpoint and token withdrawals are gone.
    assert consumer.post("/api/v1/settlement/wallet/", {"address": "0x" + "1" * 40}, format="json").status_code == 404
    body = {"asset": "FLEX-GOV", "amount": "5"}
    assert consumer.post("/api/v1/settlement/withdrawals/", body, format="json").status_code == 405
    assert consumer.get("/api/v1/settlement/withdrawals/").status_code == 200


# Auditors read every settlement record (README "Roles": auditors read everything, write nothing): balances, stakes,
# withdrawals, statements, items and their proofs, disputes; one organisation named by ``?organisation=<id>``, or all.
SETTLEMENT = "/api/v1/settlement"


@pytest.fixture
def auditor(setup):
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    return _client(platform, R.AUDITOR, "auditor")[0]


def test_auditor_reads_every_settlement_record(setup, auditor):
    w, admin, consumer, other, operator = setup
    admin.post(
        f"{SETTLEMENT}/runs/",
        {"window_start": DAY.isoformat(), "window_end": (DAY + timedelta(days=1)).isoformat()},
        format="json",
    )
    tokens_grant(w.consumers[0], assets.GOVERNANCE, D("40"), "api")
    until = "2099-01-01T00:00:00Z"
    assert (
        consumer.post(
            f"{SETTLEMENT}/stakes/", {"asset": "FLEX-GOV", "amount": "25", "locked_until": until}, format="json"
        ).status_code
        == 201
    )
    org = w.consumers[0].pk

    balances = auditor.get(f"{SETTLEMENT}/balances/", {"organisation": org})
    assert balances.status_code == 200 and balances.data["FLEX-GOV"]["staked"] == "25.0000"
    assert balances.data == consumer.get(f"{SETTLEMENT}/balances/").data  # what the organisation itself reads
    unnamed = auditor.get(f"{SETTLEMENT}/balances/")
    assert unnamed.status_code == 400 and "organisation" in unnamed.data["fields"]
    assert auditor.get(f"{SETTLEMENT}/balances/", {"organisation": 10**9}).status_code == 404

    stakes = auditor.get(f"{SETTLEMENT}/stakes/")
    assert stakes.status_code == 200 and stakes.data["count"] == 1
    assert auditor.get(f"{SETTLEMENT}/stakes/", {"organisation": w.consumers[1].pk}).data["count"] == 0
    assert auditor.get(f"{SETTLEMENT}/withdrawals/").status_code == 200

    csv = auditor.get(f"{SETTLEMENT}/statements/2026/3.csv", {"organisation": org})
    assert csv.status_code == 200 and b"performance" in csv.content

    items = auditor.get(f"{SETTLEMENT}/items/")
    assert items.status_code == 200 and items.data["count"] > 0
    item_id = items.data["results"][0]["id"]
    assert auditor.get(f"{SETTLEMENT}/items/{item_id}/proof/").status_code in (200, 409)  # 409: period not sealed yet
    assert auditor.get(f"{SETTLEMENT}/disputes/").status_code == 200

    # ... and writes nothing
    assert (
        auditor.post(
            f"{SETTLEMENT}/stakes/", {"asset": "FLEX-GOV", "amount": "1", "locked_until": until}, format="json"
        ).status_code
        == 403
    )
    assert auditor.post(f"{SETTLEMENT}/items/{item_id}/disputes/", {"reason": "x"}, format="json").status_code == 403

    # participants still read only their own, whatever they name
    mine = consumer.get(f"{SETTLEMENT}/stakes/", {"organisation": w.consumers[1].pk})
    assert mine.status_code == 200 and mine.data["count"] == 1
    assert other.get(f"{SETTLEMENT}/stakes/").data["count"] == 0
    assert operator.get(f"{SETTLEMENT}/balances/").status_code == 403
