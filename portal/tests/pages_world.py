"""The world of the page benchmark and of the page query-count tests (issue #16): an aggregator with any number of
households and everything its, the operator's, the admin's and the auditor's pages read, made with bulk inserts
(``bench/bench_pages.py`` measures the pages at 100 and 10,000 households; ``test_pages_at_scale`` checks their
query counts do not grow with the number)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

PASSWORD = "bench-pages-1"  # noqa: S105 - a throwaway account


def pages_world(n: int) -> dict:
    """The world of ``n`` households, by bulk inserts: the zone, operator, aggregator, platform and their users
    (``users``: the users to sign in as, by role), then :func:`households_add`."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import GridZone, Membership, Organisation, VerificationCase
    from accounts.services import user_create

    now = timezone.now()
    zone = GridZone.objects.create(code="bench-zone", name="Bench zone", timezone="UTC", jurisdiction="US-FERC2222-PJM")
    operator = Organisation.objects.create(name="Bench operator", kind=Organisation.Kind.GRID_OPERATOR)
    operator.service_zones.add(zone)
    agg = Organisation.objects.create(name="Bench aggregator", kind=Organisation.Kind.AGGREGATOR)
    platform = Organisation.objects.create(name="Bench platform", kind=Organisation.Kind.PLATFORM)
    Organisation.objects.filter(pk=agg.pk).update(licence_number="BENCH-LICENCE-1")
    VerificationCase.objects.create(  # the aggregator's KYB
        organisation=agg,
        kind=VerificationCase.Kind.KYB,
        level=VerificationCase.Level.ENHANCED,
        legal_name=agg.name,
        status=VerificationCase.Status.VERIFIED,
        verified_until=now + timedelta(days=300),
    )
    hashed = make_password(PASSWORD)
    users = {
        "aggregator": user_create(email="agg@bench.test", password=hashed, organisation=agg, password_is_hashed=True),
        "operator": user_create(email="op@bench.test", password=hashed, organisation=operator, password_is_hashed=True),
        "admin": user_create(email="admin@bench.test", password=hashed, organisation=platform, password_is_hashed=True),
        "auditor": user_create(
            email="aud@bench.test",
            password=hashed,
            organisation=platform,
            role=Membership.Role.AUDITOR,
            password_is_hashed=True,
        ),
    }
    Membership.objects.filter(user=users["auditor"], role=Membership.Role.ADMIN).delete()
    from accounts.mfa import totp_activate

    for role in ("operator", "admin", "auditor"):  # the roles that must sign in with a second factor
        totp_activate(user=users[role], secret="JBSWY3DPEHPK3PXP")  # noqa: S106 - a bench account
    owner = user_create(email="owners@bench.test", password=hashed, organisation=agg, password_is_hashed=True)
    world = {"users": users, "zone": zone, "operator": operator, "aggregator": agg, "owner": owner, "now": now}
    households_add(world, start=0, count=n)
    return world


def households_add(world: dict, *, start: int, count: int) -> None:
    """``count`` more households numbered from ``start``, each with everything the pages read: consent, enrolment
    (but one in ten), meter validated with a day of readings, a device, a stored assessment for the coming day, an
    availability declaration (one in ten), a membership of a portfolio order of 100, an award, a verified event
    and its settlement items."""
    from accounts.models import Consent, Device, Enrolment, Meter, Organisation, Premise, VerificationCase
    from activation.models import DREvent, EventVerification
    from assessment.models import AvailabilityDeclaration, Baseline, FlexibilityAssessment, MeterReading, MeterStatus
    from market.models import Award, MarketOrder, OrderMember

    zone, operator, agg, owner, now = (world[k] for k in ("zone", "operator", "aggregator", "owner", "now"))
    n = count
    day = (now + timedelta(days=1)).date()
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    past = day_start - timedelta(days=2)
    segments = [Premise.Segment.RESIDENTIAL] * 8 + [Premise.Segment.COMMERCIAL, Premise.Segment.INDUSTRIAL]
    orgs = Organisation.objects.bulk_create(
        [Organisation(name=f"Household {i:05d}", kind=Organisation.Kind.CONSUMER) for i in range(start, start + n)],
        batch_size=2000,
    )
    # the owners' KYC in force (19 in 20; commercial and industrial owners at the basic level their segment does
    # not allow): the aggregator's portfolio per ISO sums the premises it may offer
    VerificationCase.objects.bulk_create(
        [
            VerificationCase(
                organisation=o,
                kind=VerificationCase.Kind.KYC,
                legal_name=o.name,
                status=VerificationCase.Status.VERIFIED,
                verified_until=now + timedelta(days=300),
            )
            for i, o in enumerate(orgs)
            if i % 20 != 7
        ],
        batch_size=2000,
    )
    premises = Premise.objects.bulk_create(
        [
            Premise(
                organisation=o,
                name=f"Home {start + i:05d}",
                address=f"{start + i} Bench Street",
                segment=segments[i % 10],
                grid_zone=zone,
                timezone="UTC",
                aggregator=agg,
            )
            for i, o in enumerate(orgs)
        ],
        batch_size=2000,
    )
    meters = Meter.objects.bulk_create(
        [Meter(premise=p, meter_id=f"BENCH-{p.pk}", interval_minutes=60) for p in premises], batch_size=2000
    )
    MeterStatus.objects.bulk_create(
        [
            MeterStatus(
                meter=m,
                validated=True,
                validated_at=past,
                connectivity=MeterStatus.Connectivity.ONLINE,
                year_kwh=Decimal("28.8"),  # the 24 hourly readings of 1.2 kWh below
                year_intervals=24,
            )
            for m in meters
        ],
        batch_size=2000,
    )
    MeterReading.objects.bulk_create(
        [MeterReading(meter=m, start=past + timedelta(hours=h), kwh=Decimal("1.2")) for m in meters for h in range(24)],
        batch_size=5000,
    )
    kinds = list(Device.Kind.values)
    Device.objects.bulk_create(
        [
            Device(
                premise=p,
                name="Device",
                kind=kinds[i % len(kinds)],
                control_channel=Device.Channel.MANUAL,
                rated_kw=Decimal("3"),
                max_kw=Decimal("3"),
            )
            for i, p in enumerate(premises)
        ],
        batch_size=2000,
    )
    consents = Consent.objects.bulk_create(
        [
            Consent(
                premise=p,
                aggregator=agg,
                granted_by=owner,
                scopes=[Consent.Scope.INTERVAL_READINGS],
                purpose=Consent.Purpose.FLEXIBILITY_AGGREGATION,
                granted_at=past,
                expires_at=now + timedelta(days=365),
            )
            for p in premises
        ],
        batch_size=2000,
    )
    Enrolment.objects.bulk_create(
        [Enrolment(premise=c.premise, aggregator=agg, consent=c, starts_at=past) for c in consents[: n - n // 10]],
        batch_size=2000,
    )  # one in ten consented and waiting to be enrolled
    baselines = Baseline.objects.bulk_create(
        [
            Baseline(
                meter=m,
                method="bench",
                window_start=day_start,
                window_end=day_start + timedelta(days=1),
                total_kwh=Decimal("28.8"),
                computed_at=now,
            )
            for m in meters
        ],
        batch_size=2000,
    )
    FlexibilityAssessment.objects.bulk_create(
        [
            FlexibilityAssessment(
                premise=p,
                baseline=b,
                window_start=day_start,
                window_end=day_start + timedelta(days=1),
                baseline_kw=Decimal("1.2"),
                capacity_kw=Decimal("0.3"),
                method="bench",
                assessed_at=now,
            )
            for p, b in zip(premises, baselines, strict=True)
        ],
        batch_size=2000,
    )
    AvailabilityDeclaration.objects.bulk_create(
        [
            AvailabilityDeclaration(
                premise=p,
                declared_by=agg,
                available_kw=Decimal("0.2"),
                valid_from=past,
                valid_until=now + timedelta(days=7),
                created_at=now,
            )
            for p in premises[::10]
        ],
        batch_size=2000,
    )
    # portfolio orders of 100 members each (day-ahead, delivered two days ago), an award and a verified event per member
    orders = MarketOrder.objects.bulk_create(
        [
            MarketOrder(
                market="day_ahead",
                product="energy",
                side="sell",
                organisation=agg,
                zone=zone,
                kw=Decimal("30"),
                remaining_kw=Decimal("0"),
                price_per_mwh=Decimal("60"),
                delivery_start=past + timedelta(hours=18),
                delivery_end=past + timedelta(hours=19),
                status=MarketOrder.Status.FILLED,
                priority_at=now,
            )
            for _ in range(max(1, n // 100))
        ]
    )
    members, awards = [], []
    for i, p in enumerate(premises):
        o = orders[i // 100 % len(orders)]
        members.append(
            OrderMember(
                order=o,
                premise=p,
                kw=Decimal("0.3"),
                remaining_kw=Decimal("0"),
                delivery_start=o.delivery_start,
                delivery_end=o.delivery_end,
            )
        )
        awards.append(
            Award(
                order=o,
                market="day_ahead",
                product="energy",
                premise=p,
                seller=agg,
                buyer=operator,
                kw=Decimal("0.3"),
                clearing_price_per_mwh=Decimal("60"),
                window_start=o.delivery_start,
                window_end=o.delivery_end,
            )
        )
    OrderMember.objects.bulk_create(members, batch_size=2000)
    awards = Award.objects.bulk_create(awards, batch_size=2000)
    events = DREvent.objects.bulk_create(
        [
            DREvent(
                award=a,
                premise=a.premise,
                zone=zone,
                target_kw=a.kw,
                start=a.window_start,
                end=a.window_end,
                status=DREvent.Status.COMPLETED,
            )
            for a in awards
        ],
        batch_size=2000,
    )
    EventVerification.objects.bulk_create(
        [
            EventVerification(
                event=e,
                baseline=b,
                baseline_kwh=Decimal("1.2"),
                actual_kwh=Decimal("0.93"),
                committed_kwh=Decimal("0.3"),
                delivered_kwh=Decimal("0.27"),
                verified_at=now,
            )
            for e, b in zip(events, baselines, strict=True)
        ],
        batch_size=2000,
    )
    from settlement.models import SettlementItem, SettlementPeriod

    period, _ = SettlementPeriod.objects.get_or_create(start=orders[0].delivery_start, end=orders[0].delivery_end)
    K = SettlementItem.Kind
    items = []
    for a, e in zip(awards, events, strict=True):
        common = {"event": e, "award": a, "quantity_kwh": Decimal("0.27"), "price_per_mwh": Decimal("60")}
        common |= {"currency": "USD", "delivery_start": a.window_start, "period": period, "premise": a.premise}
        items.append(
            SettlementItem(
                business_key=f"{K.MEMBER_SHARE}:event:{e.pk}",
                kind=K.MEMBER_SHARE,
                payee=a.premise.organisation,
                amount=Decimal("0.01"),
                **common,
            )
        )
        items.append(
            SettlementItem(
                business_key=f"{K.AGGREGATOR_FEE}:event:{e.pk}",
                kind=K.AGGREGATOR_FEE,
                payee=agg,
                amount=Decimal("0.01"),
                **common,
            )
        )
    SettlementItem.objects.bulk_create(items, batch_size=2000)


PAGES = [
    ("aggregator", "/aggregator/"),
    ("aggregator", "/aggregator/?q=Home+000&segment=residential&validated=yes&sort=-name&page=2"),
    ("aggregator", "/aggregator/enrol/"),
    ("aggregator", "/aggregator/orders/new/"),
    ("aggregator", "/activation/portfolio/"),
    ("aggregator", "/compliance/"),
    ("aggregator", "/compensation/"),
    ("operator", "/operator/"),
    ("operator", "/operator/requests/"),
    ("operator", "/operator/auctions/"),
    ("operator", "/activation/console/"),
    ("admin", "/compensation/console/"),
    ("admin", "/audit/"),
    ("auditor", "/audit/"),
    ("auditor", "/audit/participants/"),
    ("auditor", "/audit/orders/"),
    ("auditor", "/audit/events/"),
]
