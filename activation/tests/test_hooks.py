"""The hooks activation and the other apps register at start-up (issue 13: lower layers never import higher
ones): assessment reads activation's facts through activation's provider, accounts reads metering and the
aggregation minimum through assessment's and the market's; market's committed awards reach activation."""

from decimal import Decimal

import pytest

from accounts import hooks as accounts_hooks
from activation import hooks as activation_hooks
from activation.models import Enrollment, EventVerification
from assessment import hooks as assessment_hooks
from assessment.selectors.metering import MeteringFacts
from market.models import Award
from market.services.gates import AggregationFacts


def test_the_providers_are_registered_at_start_up():
    assert isinstance(assessment_hooks.activation(), activation_hooks.ActivationFacts)
    assert isinstance(accounts_hooks.metering(), MeteringFacts)
    assert isinstance(accounts_hooks.aggregation(), AggregationFacts)


def test_without_activation_a_premise_has_no_history_and_full_capacity(monkeypatch):
    monkeypatch.setattr(assessment_hooks, "_activation", assessment_hooks._NoActivation())
    facts = assessment_hooks.activation()
    assert facts.event_days(premise_id=1, tz="UTC") == set()
    assert facts.verified_events(premise_id=1) == []
    assert (facts.derate(1), facts.suspended(1)) == (Decimal("1"), False)


@pytest.mark.django_db
def test_awards_committed_is_answered_by_activation():
    market_hooks = pytest.importorskip("market.hooks")  # arch-market-settlement's hook point (issue 13)
    # the receiver hands the ids in chunks to create_events_for_awards (eager in tests): an unknown award makes no
    # chunk, so nothing is sent and nothing made
    market_hooks.awards_committed.send(sender=None, award_ids=[987654])
    assert not Award.objects.exists()


def test_enrollments_and_verifications_renew_the_markets_capacity_answers():
    market_hooks = pytest.importorskip("market.hooks")
    sources = market_hooks.premise_sources()
    assert Enrollment in sources and EventVerification in sources
