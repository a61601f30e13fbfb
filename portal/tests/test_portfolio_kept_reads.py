"""The aggregator's reads over its whole portfolio (the compliance page's FERC 2222 sums and per-premise rules, the
dashboard's capacity per hour) are kept per process for ``PORTFOLIO_KEPT_SECONDS`` and say when they were computed;
a change of the parties (here: one more household enrolled) recomputes them on the next request, committed
transactions and all (``flexplatform.snapshots``' ``parties`` token)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.consents import consent_revoke
from accounts.models import Consent, Enrolment

from .pages_world import pages_world

pytestmark = pytest.mark.django_db(transaction=True)


def _get(client, url):
    with CaptureQueriesContext(connection) as q:
        page = client.get(url).content.decode()
    return page, len(q.captured_queries)


def test_portfolio_reads_are_kept_then_recomputed_when_an_enrolment_changes():
    world = pages_world(10)
    agg = Client()
    agg.force_login(world["users"]["aggregator"])
    first, cold = _get(agg, "/compliance/")
    again, warm = _get(agg, "/compliance/")
    assert "9 enrolled premises" in first and warm < cold  # the portfolio read is kept: fewer queries
    stamp = re.search(r'data-testid="computed-at">Portfolio figures computed ([^;]+);', first).group(1)
    assert stamp in again and "kept up to 300 seconds" in again
    dash, dash_cold = _get(agg, "/aggregator/")
    _, dash_warm = _get(agg, "/aggregator/")
    assert 'data-testid="capacity-computed-at"' in dash and dash_warm < dash_cold
    # a household's consent is revoked (the service, committed): its enrolment ends, the parties changed
    consent = Consent.objects.filter(premise__enrolments__status=Enrolment.Status.ACTIVE, status="active").first()
    consent_revoke(consent=consent, by=world["users"]["admin"])  # the owner or a platform admin may
    after, recomputed = _get(agg, "/compliance/")
    assert "8 enrolled premises" in after, (cold, warm, recomputed)
    assert recomputed == cold  # computed again at once, with the same queries as the first time
    _, dash_again = _get(agg, "/aggregator/")
    assert dash_again == dash_cold
