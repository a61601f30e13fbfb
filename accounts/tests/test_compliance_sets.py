"""A portfolio's per-premise rules are evaluated once per kind of premise (``compliance.eligibility_key``): premises
with the same key pass and fail the same rules, whatever the figures quoted in the details."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from accounts import compliance


def _pattern(p, facts, agg, today):
    return [(r.rule, r.passed, r.blocking) for r in compliance.enrolment_eligibility(p, facts, agg, today)]


def test_premises_with_the_same_eligibility_key_pass_and_fail_the_same_rules():
    rng = random.Random(16)
    today = date(2030, 6, 3)
    profiles = [None, *compliance.PROFILES.values()]
    aggs = [
        compliance.AggregatorFacts(verified=True, licence_number="L1", licence_expires_on=None),
        compliance.AggregatorFacts(verified=False, licence_number="", licence_expires_on=None),
    ]
    by_key: dict[tuple, list] = {}
    for _ in range(4000):
        p = rng.choice(profiles)
        agg = rng.choice(aggs)
        facts = compliance.PremiseFacts(
            segment=rng.choice(["residential", "commercial", "industrial"]),
            meter_intervals=rng.choice([(), (5,), (15,), (60,), (15, 60)]),
            annual_kwh=rng.choice(
                [None, Decimal("0"), Decimal("999"), Decimal("1000"), Decimal(rng.randint(1, 40000))]
            ),
            owner_kyc_level=rng.choice([None, "basic", "enhanced"]),
        )
        key = (compliance.eligibility_key(p, facts), agg)
        by_key.setdefault(key, []).append(_pattern(p, facts, agg, today))
    assert len(by_key) > 50  # many kinds of premise were drawn
    for patterns in by_key.values():
        assert all(pattern == patterns[0] for pattern in patterns)
    # ... and the figures differ inside a key: the key is not the facts themselves
    same = compliance.PROFILES["US-FERC2222-PJM"]
    a = compliance.PremiseFacts("residential", (60,), Decimal("5000"), "basic")
    b = compliance.PremiseFacts("residential", (60,), Decimal("7000"), "basic")
    assert compliance.eligibility_key(same, a) == compliance.eligibility_key(same, b) and a != b
