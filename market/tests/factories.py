"""Test data for the market: accredited capacity for a premise and window, qualifications, stakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from assessment.models import Baseline, FlexibilityAssessment
from market.models import ResourceQualification

DAY = datetime(2030, 6, 3, tzinfo=UTC)  # a delivery day far enough ahead for every gate


def accredit(premise, start: datetime, end: datetime, kw) -> FlexibilityAssessment:
    """The assessment app's output for a window (what ``accredited_capacity_kw`` reads)."""
    meter = premise.meters.first()
    baseline, _ = Baseline.objects.get_or_create(
        meter=meter,
        method="test",
        window_start=start,
        window_end=end,
        defaults={"total_kwh": Decimal("0"), "computed_at": timezone.now()},
    )
    return FlexibilityAssessment.objects.create(
        premise=premise,
        baseline=baseline,
        window_start=start,
        window_end=end,
        baseline_kw=Decimal(kw) * 2,
        capacity_kw=Decimal(kw),
        method="test",
        assessed_at=timezone.now(),
    )


def accredit_day(premises, kw, day: datetime = DAY) -> None:
    for p in premises:
        accredit(p, day - timedelta(days=1), day + timedelta(days=2), kw)


def qualify(premise, product: str, response_seconds="0.5", sustain_minutes=60) -> ResourceQualification:
    return ResourceQualification.objects.create(
        premise=premise,
        product=product,
        response_seconds=Decimal(response_seconds),
        sustain_minutes=sustain_minutes,
        tested_at=timezone.now(),
    )


def stake_deposit(*, organisation, amount: Decimal, business_key: str) -> Decimal:
    """Grant the organisation Governance tokens and lock them as a stake (once per key); returns the stake."""
    from settlement import assets
    from settlement.models import LedgerAccount
    from settlement.services.ledger import account_for, journal_post, platform_account
    from settlement.services.staking import stake_lock, staked_collateral

    journal_post(
        business_key=f"test-grant:{business_key}",
        memo="tokens granted for the test",
        legs=[
            (platform_account(LedgerAccount.Kind.TREASURY, assets.GOVERNANCE), -amount),
            (
                account_for(organisation=organisation, kind=LedgerAccount.Kind.PARTICIPANT, asset=assets.GOVERNANCE),
                amount,
            ),
        ],
    )
    stake_lock(
        organisation=organisation,
        asset=assets.GOVERNANCE,
        amount=amount,
        locked_until=timezone.now() + timedelta(days=365),
        business_key=business_key,
    )
    return staked_collateral(organisation)


def one_owner(mw, indices) -> tuple:
    """A new verified consumer organisation that owns the world's premises ``indices``: one seller whose sell
    orders pool several of them as members. Returns (organisation, premises)."""
    from accounts.models import Organisation, Premise
    from demo import verify_participant

    org = Organisation.objects.create(name="Several sites", kind=Organisation.Kind.CONSUMER)
    verify_participant(org, user=None, number="BR-SEVERAL-SITES", segment=Premise.Segment.COMMERCIAL)
    premises = [mw.premise(i) for i in indices]
    for p in premises:
        p.organisation = org
        p.save(update_fields=["organisation"])
    return org, premises
