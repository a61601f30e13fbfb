"""Small worlds for settlement tests: organisations, premises, meters, verified events, contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from accounts.models import GridZone, Meter, Organisation, Premise
from activation.models import DREvent, EventVerification, VerificationInterval
from assessment.models import Baseline, MeterReading
from market.models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest
from settlement import assets
from settlement.models import LedgerAccount, ParticipationContract
from settlement.services.ledger import journal_post, platform_account

DAY = datetime(2026, 3, 2, tzinfo=UTC)
NOW = DAY + timedelta(days=3)


@dataclass
class World:
    zone: GridZone
    operator: Organisation
    consumers: list[Organisation] = field(default_factory=list)
    premises: list[Premise] = field(default_factory=list)
    aggregator: Organisation | None = None


def world_make(*, n: int = 2, aggregator_members: int = 0, tag: str = "w") -> World:
    zone = GridZone.objects.create(code=f"{tag}-zone", name="Zone", kind=GridZone.Kind.SUBSTATION)
    operator = Organisation.objects.create(name=f"{tag} Operator", kind=Organisation.Kind.GRID_OPERATOR)
    world = World(zone=zone, operator=operator)
    if aggregator_members:
        world.aggregator = Organisation.objects.create(name=f"{tag} Aggregator", kind=Organisation.Kind.AGGREGATOR)
    for i in range(n):
        org = Organisation.objects.create(name=f"{tag} Consumer {i}", kind=Organisation.Kind.CONSUMER)
        premise = Premise.objects.create(
            organisation=org,
            name=f"P{i}",
            segment=Premise.Segment.RESIDENTIAL,
            grid_zone=zone,
            aggregator=world.aggregator if i < aggregator_members else None,
        )
        Meter.objects.create(premise=premise, meter_id=f"{tag}-m{i}", interval_minutes=15)
        world.consumers.append(org)
        world.premises.append(premise)
    return world


def event_make(
    world: World,
    premise: Premise,
    *,
    start: datetime,
    delivered: list[Decimal],
    price: Decimal,
    target_kw: Decimal,
    baseline: Decimal = Decimal("2"),
) -> DREvent:
    end = start + timedelta(minutes=15 * len(delivered))
    seller = premise.aggregator or premise.organisation
    offer = FlexibilityOffer.objects.create(
        seller=seller,
        premise=premise,
        zone=world.zone,
        kw=target_kw,
        price_per_mwh=price,
        window_start=start,
        window_end=end,
    )
    request = FlexibilityRequest.objects.create(
        operator=world.operator,
        zone=world.zone,
        kw=target_kw,
        max_price_per_mwh=price,
        window_start=start,
        window_end=end,
    )
    run = ClearingRun.objects.create(
        request=request,
        rule_version="t",
        clearing_price_per_mwh=price,
        awarded_kw=target_kw,
        inputs={},
        outputs={},
        cleared_at=start - timedelta(days=1),
    )
    award = Award.objects.create(
        clearing_run=run,
        request=request,
        offer=offer,
        premise=premise,
        seller=seller,
        buyer=world.operator,
        kw=target_kw,
        clearing_price_per_mwh=price,
        window_start=start,
        window_end=end,
    )
    event = DREvent.objects.create(  # as activation.services.event_create_for_award: the award's price and buyer
        award=award,
        price_per_mwh=price,
        buyer=world.operator,
        premise=premise,
        zone=world.zone,
        target_kw=target_kw,
        start=start,
        end=end,
        status=DREvent.Status.COMPLETED,
    )
    meter = premise.meters.get()
    b = Baseline.objects.create(
        meter=meter,
        method="t",
        window_start=start,
        window_end=end,
        total_kwh=baseline * len(delivered),
        computed_at=end,
    )
    hours = Decimal(len(delivered)) / 4
    v = EventVerification.objects.create(
        event=event,
        baseline=b,
        baseline_kwh=baseline * len(delivered),
        actual_kwh=sum((baseline - d for d in delivered), Decimal("0")),
        delivered_kwh=sum(delivered, Decimal("0")),
        committed_kwh=(target_kw * hours).quantize(Decimal("0.0001")),
        verified_at=end,
    )
    VerificationInterval.objects.bulk_create(
        [
            VerificationInterval(
                verification=v,
                start=start + timedelta(minutes=15 * i),
                baseline_kwh=baseline,
                actual_kwh=baseline - d,
                delivered_kwh=d,
            )
            for i, d in enumerate(delivered)
        ]
    )
    return event


def readings_make(premise: Premise, *, day: datetime, missing: int = 0) -> None:
    """A day of 15-minute readings, the last ``missing`` intervals absent."""
    meter = premise.meters.get()
    MeterReading.objects.bulk_create(
        [
            MeterReading(meter=meter, start=day + timedelta(minutes=15 * i), kwh=Decimal("0.5"))
            for i in range(96 - missing)
        ]
    )


def contract_make(
    world: World, participant: Organisation, *, premise=None, kw="10", rate="0.5", **kw_args
) -> ParticipationContract:
    return ParticipationContract.objects.create(
        participant=participant,
        operator=world.operator,
        premise=premise,
        reserved_kw=Decimal(kw),
        rate_per_kw_day=Decimal(rate),
        start=DAY - timedelta(days=30),
        end=DAY + timedelta(days=30),
        **kw_args,
    )


def tokens_grant(org: Organisation, asset: str, amount: Decimal, key: str) -> None:
    """Mint tokens to an organisation (as an issuance rule would)."""
    from settlement.services.ledger import account_for

    journal_post(
        business_key=f"grant:{key}",
        memo="test grant",
        legs=[
            (platform_account(LedgerAccount.Kind.TREASURY, asset), -amount),
            (account_for(organisation=org, kind=LedgerAccount.Kind.PARTICIPANT, asset=asset), amount),
        ],
    )


def parameter_govern(org: Organisation, name: str, value: Decimal, *, now: datetime) -> None:
    """Change a market parameter the only way there is: ``org`` stakes Governance tokens, proposes, votes for
    it alone (100 % of the stake, above the quorum), and the due tally executes it a day later."""
    from settlement.services.governance import proposal_create, proposals_tally_due, vote_cast
    from settlement.services.staking import stake_lock

    key = f"govern-{name}-{now.timestamp():.0f}"
    tokens_grant(org, assets.GOVERNANCE, Decimal("50"), key)
    stake_lock(
        organisation=org,
        asset=assets.GOVERNANCE,
        amount=Decimal("50"),
        locked_until=now + timedelta(days=30),
        business_key=key,
        now=now - timedelta(hours=1),
    )
    proposal = proposal_create(proposer=org, parameter=name, new_value=value, voting_days=1, now=now)
    vote_cast(proposal_id=proposal.pk, voter=org, support=True, now=now + timedelta(hours=1))
    assert proposals_tally_due(now=now + timedelta(days=1)) == [proposal.pk]


__all__ = [
    "DAY",
    "NOW",
    "World",
    "assets",
    "contract_make",
    "event_make",
    "parameter_govern",
    "readings_make",
    "tokens_grant",
    "world_make",
]
