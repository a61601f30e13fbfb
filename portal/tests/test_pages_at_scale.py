"""The consoles read set-based (issue #16): every page of the aggregator, the operator, the admin and the auditor
that the page benchmark measures (``bench/bench_pages.py``) makes the same number of queries, under its budget of
30, whether the aggregator holds 12 households or five times as many; and the dispatch console's premise picker is
a search, not a list of every premise. Query counts only: the timings are the benchmark's business."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from .pages_world import PAGES, households_add, pages_world

pytestmark = pytest.mark.django_db


def _queries(users) -> dict[tuple[str, str], int]:
    clients: dict[str, Client] = {}
    out = {}
    for role, url in PAGES:
        if role not in clients:
            clients[role] = Client()
            clients[role].force_login(users[role])
        client = clients[role]
        client.get(url)  # the first request warms what is kept per process
        with CaptureQueriesContext(connection) as q:
            response = client.get(url)
        assert response.status_code == 200, (role, url, response.status_code)
        out[(role, url)] = len(q.captured_queries)
    return out


def test_every_console_page_makes_the_same_queries_for_a_larger_fleet():
    world = pages_world(12)
    small = _queries(world["users"])
    households_add(world, start=12, count=48)
    large = _queries(world["users"])
    assert large == small
    assert max(large.values()) < 30, large


def test_the_compliance_page_counts_rules_per_premise_and_pages_the_failing_ones():
    world = pages_world(60)
    agg = Client()
    agg.force_login(world["users"]["aggregator"])
    page = agg.get("/compliance/").content.decode()
    # 54 enrolled (one in ten waits): owners 07, 27 and 47 are not verified, every tenth premise is commercial and
    # every tenth industrial with a basic KYC: 13 fail the KYC level, each listed once with its failing rules
    assert "54 enrolled premises; 13 fail at least one rule." in page
    assert "Home 00007: The premise owner is not verified (needs basic KYC)." in page
    assert "Home 00008: Owner verified at basic level (needs enhanced)." in page
    assert "<td>Owner&#x27;s identity check (KYC level)</td><td>41</td>" in page  # counted per rule: 41 pass
    assert "Page 1 of" not in page  # 13 rows: one page, no pager
    assert "aggregation 13.35 kW &lt; 100 kW minimum (FERC 2222, PJM)" in page  # 51 verified resources
    only_kyc = agg.get("/compliance/?rule=kyc_level").content.decode()
    assert "Premises failing “Owner&#x27;s identity check (KYC level)”" in only_kyc and "Home 00008" in only_kyc
    assert agg.get("/compliance/?rule=meter_validated").content.decode().count("<li><strong>") == 0


def test_the_dispatch_console_offers_a_search_not_every_premise():
    world = pages_world(30)
    op = Client()
    op.force_login(world["users"]["operator"])
    console = op.get("/activation/console/").content.decode()
    assert console.count('<option value="') - console.count('<option value="" disabled') <= 20 + 10  # + programs
    assert 'hx-get="/activation/console/premises/"' in console
    found = op.get("/activation/console/premises/", {"q": "Home 00017"}).content.decode()
    assert "Home 00017" in found and "Home 00018" not in found
    assert "No premise matches." in op.get("/activation/console/premises/", {"q": "nowhere"}).content.decode()
    outsider = Client()
    outsider.force_login(world["users"]["aggregator"])
    assert outsider.get("/activation/console/premises/", {"q": "Home"}).status_code == 403
