"""Auditors read every settlement record (README "Roles": auditors read everything, write nothing): balances,
stakes, withdrawals, statements, items and their proofs, disputes; each about one organisation named by
``?organisation=<id>`` or across all of them. They write none."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from accounts.models import Organisation
from settlement import assets

from .factories import DAY, tokens_grant
from .test_api_compensation import R, _client, setup  # noqa: F401 - the shared fixture

pytestmark = pytest.mark.django_db
BASE = "/api/v1/settlement"


@pytest.fixture
def auditor(setup):
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    return _client(platform, R.AUDITOR, "auditor")[0]


def test_auditor_reads_every_settlement_record(setup, auditor):
    w, admin, consumer, other, operator = setup
    admin.post(
        f"{BASE}/runs/",
        {"window_start": DAY.isoformat(), "window_end": (DAY + timedelta(days=1)).isoformat()},
        format="json",
    )
    tokens_grant(w.consumers[0], assets.GOVERNANCE, D("40"), "api")
    until = "2099-01-01T00:00:00Z"
    assert (
        consumer.post(
            f"{BASE}/stakes/", {"asset": "FLEX-GOV", "amount": "25", "locked_until": until}, format="json"
        ).status_code
        == 201
    )
    org = w.consumers[0].pk

    balances = auditor.get(f"{BASE}/balances/", {"organisation": org})
    assert balances.status_code == 200 and balances.data["FLEX-GOV"]["staked"] == "25.0000"
    assert balances.data == consumer.get(f"{BASE}/balances/").data  # what the organisation itself reads
    unnamed = auditor.get(f"{BASE}/balances/")
    assert unnamed.status_code == 400 and "organisation" in unnamed.data["fields"]
    assert auditor.get(f"{BASE}/balances/", {"organisation": 10**9}).status_code == 404

    stakes = auditor.get(f"{BASE}/stakes/")
    assert stakes.status_code == 200 and stakes.data["count"] == 1
    assert auditor.get(f"{BASE}/stakes/", {"organisation": w.consumers[1].pk}).data["count"] == 0
    assert auditor.get(f"{BASE}/withdrawals/").status_code == 200

    csv = auditor.get(f"{BASE}/statements/2026/3.csv", {"organisation": org})
    assert csv.status_code == 200 and b"performance" in csv.content

    items = auditor.get(f"{BASE}/items/")
    assert items.status_code == 200 and items.data["count"] > 0
    item_id = items.data["results"][0]["id"]
    assert auditor.get(f"{BASE}/items/{item_id}/proof/").status_code in (200, 409)  # 409: period not sealed yet
    assert auditor.get(f"{BASE}/disputes/").status_code == 200

    # ... and writes nothing
    assert (
        auditor.post(
            f"{BASE}/stakes/", {"asset": "FLEX-GOV", "amount": "1", "locked_until": until}, format="json"
        ).status_code
        == 403
    )
    assert auditor.post(f"{BASE}/withdrawals/", {"asset": "FLEX", "amount": "1"}, format="json").status_code == 403
    assert auditor.post(f"{BASE}/items/{item_id}/disputes/", {"reason": "x"}, format="json").status_code == 403

    # participants still read only their own, whatever they name
    mine = consumer.get(f"{BASE}/stakes/", {"organisation": w.consumers[1].pk})
    assert mine.status_code == 200 and mine.data["count"] == 1
    assert other.get(f"{BASE}/stakes/").data["count"] == 0
    assert operator.get(f"{BASE}/balances/").status_code == 403
