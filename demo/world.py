"""The demo world: zones, a grid operator, an aggregator and consumers (premises, meters, devices, consents,
KYC), built through the apps' services as the portal and API would build it. Created once; loading it again
changes nothing. The constants of the demo scenario live here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts.consents import consent_grant, enrolment_create
from accounts.device_services import device_register
from accounts.kyc.providers import AutoApproveProvider
from accounts.kyc.services import verification_case_create, verification_case_submit, verification_document_add
from accounts.mfa import totp_activate
from accounts.models import Consent, GridZone, Organisation, Premise, VerificationCase, VerificationDocument
from accounts.selectors import consents_active, current_verification
from accounts.terms import commercial_terms_publish, terms_current
from assessment.baselines.grid import local_day_bounds as day_bounds

from .devices import demo_devices

TZ = "America/New_York"
PASSWORD = "flexdemo-2026"  # noqa: S105 - the published demo password
# The published TOTP secret of the demo's operator and admin (MFA is required for them): add it to an
# authenticator app to sign in to the portal as them.
TOTP_SECRET = "JBSWY3DPEHPK3PXPFLEXDEMOTWOZZAAA"  # noqa: S105 - published demo secret
JURISDICTION = "US-FERC2222-PJM"
AGGREGATOR_LICENCE = "PJM-DERA-0042"
HISTORY_DAYS = 35
EVENT_LOCAL_START = time(17, 0)
EVENT_HOURS = 2
N_RESIDENTIAL, N_COMMERCIAL, N_INDUSTRIAL = 40, 14, 6
#: The demo aggregator's commercial terms (accepted by its households at consent).
AGGREGATOR_FEE_PCT, AGGREGATOR_FEE_PER_KW_MONTH, MEMBER_PENALTY_PCT = Decimal("15"), Decimal("0.50"), Decimal("20")
FEEDERS = ["feeder-e1a", "feeder-e1b", "feeder-e2a", "feeder-e2b"]
SUBSTATION_OF = {
    "feeder-e1a": "sub-east-1",
    "feeder-e1b": "sub-east-1",
    "feeder-e2a": "sub-east-2",
    "feeder-e2b": "sub-east-2",
}
PRICE_RANGE = {"residential": (150, 260), "commercial": (110, 210), "industrial": (80, 160)}
MAX_PRICE = Decimal("250.00")
# The day-ahead auction of the market day: the operator buys congestion management for one substation in the
# morning peak, hourly intervals of the local day; it clears at gate closure. Morning, so that no event lies in the
# other's CAISO day-of adjustment window (the three hours ending an hour before it starts): an event right after
# the 17:00 event would be measured against a baseline its curtailment pulled down.
AUCTION_ZONE = "sub-east-1"
AUCTION_PRODUCT = "congestion"
AUCTION_LOCAL_START = time(7, 0)
AUCTION_HOURS = 2
AUCTION_GATE_HOURS = 12  # gate closure: noon local of the day before delivery
AUCTION_DEMAND_SHARE = Decimal("0.6")  # the operator bids for this share of what is offered in each hour
# The aggregator offers its households as one portfolio, priced low to be sure to run (thermostats and water
# heaters shed a morning hour cheaply); consumers price their own resources as in the request flow.
PORTFOLIO_PRICE_RANGE = (60, 110)
# The capacity reservation of the market day: the operator buys capacity (kW held available, called with 30
# minutes' notice) for the ISO zone late in the morning, hourly, in a day-ahead auction; availability is paid
# per MW and hour held (PJM's capacity prices come to a few $/MW-h). A capacity order needs 100 kW, so the
# factories, the larger businesses and the aggregator's pooled households sell it. 11:00-13:00: clear of the
# morning auction's hours and of the CAISO day-of adjustment window of the 17:00 event (13:00-16:00), so the
# call of the first hour does not move another event's baseline.
RESERVATION_ZONE = "iso-east"
RESERVATION_PRODUCT = "capacity"
RESERVATION_LOCAL_START = time(11, 0)
RESERVATION_HOURS = 2
RESERVATION_PRICE_RANGE = (4, 12)  # $ per MW and hour held, consumers' own offers
RESERVATION_MAX_PRICE = Decimal("15.00")
RESERVATION_DEMAND_SHARE = Decimal("0.5")
RESERVATION_CALL_NOTICE = timedelta(hours=1)  # the operator calls the first reserved hour an hour ahead


@dataclass
class World:
    operator: Organisation
    aggregator: Organisation
    premises: list[Premise] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


def market_day(now: datetime | None = None) -> date:
    now = now or timezone.now()
    return now.astimezone(ZoneInfo(TZ)).date() - timedelta(days=1)


def event_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, EVENT_LOCAL_START, tzinfo=ZoneInfo(TZ)).astimezone(UTC)
    return start, start + timedelta(hours=EVENT_HOURS)


def auction_window(day: date) -> tuple[datetime, datetime]:
    """The hours of ``day`` the demo's day-ahead auction trades (the morning peak)."""
    start = datetime.combine(day, AUCTION_LOCAL_START, tzinfo=ZoneInfo(TZ)).astimezone(UTC)
    return start, start + timedelta(hours=AUCTION_HOURS)


def reservation_window(day: date) -> tuple[datetime, datetime]:
    """The hours of ``day`` the demo's capacity auction reserves."""
    start = datetime.combine(day, RESERVATION_LOCAL_START, tzinfo=ZoneInfo(TZ)).astimezone(UTC)
    return start, start + timedelta(hours=RESERVATION_HOURS)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """Aware UTC start and end of the demo grid's local ``day``."""
    return day_bounds(day, TZ)


def world_load(
    *, n_residential: int = N_RESIDENTIAL, n_commercial: int = N_COMMERCIAL, n_industrial: int = N_INDUSTRIAL
) -> World:
    """Zones, one grid operator, one aggregator and consumers (by default 60) with premises and 15-minute
    meters (idempotent)."""
    segments = (
        [Premise.Segment.RESIDENTIAL] * n_residential
        + [Premise.Segment.COMMERCIAL] * n_commercial
        + [Premise.Segment.INDUSTRIAL] * n_industrial
    )
    with transaction.atomic():
        iso = accounts_services.zone_create(
            code="iso-east", name="ISO East", kind=GridZone.Kind.ISO_ZONE, jurisdiction=JURISDICTION, timezone=TZ
        )
        subs = {
            code: accounts_services.zone_create(
                code=code, name=code.replace("-", " ").title(), kind=GridZone.Kind.SUBSTATION, parent=iso
            )
            for code in sorted(set(SUBSTATION_OF.values()))
        }
        feeders = {
            code: accounts_services.zone_create(
                code=code,
                name=code.replace("-", " ").title(),
                kind=GridZone.Kind.FEEDER,
                parent=subs[SUBSTATION_OF[code]],
            )
            for code in FEEDERS
        }
        operator = accounts_services.organisation_create(
            name="East Grid DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[iso]
        )
        aggregator = accounts_services.organisation_create(
            name="BrightFlex Aggregation", kind=Organisation.Kind.AGGREGATOR
        )
        platform = accounts_services.organisation_create(name="FlexMarket Platform", kind=Organisation.Kind.PLATFORM)
        world = World(operator=operator, aggregator=aggregator)
        hashed = make_password(PASSWORD)
        admin = accounts_services.user_create(
            email="admin@demo.flex", password=hashed, password_is_hashed=True, organisation=platform, verified=True
        )
        if not admin.is_superuser:
            admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["is_staff", "is_superuser"])
        operator_user = accounts_services.user_create(
            email="operator@demo.flex", password=hashed, password_is_hashed=True, organisation=operator, verified=True
        )
        aggregator_user = accounts_services.user_create(
            email="aggregator@demo.flex",
            password=hashed,
            password_is_hashed=True,
            organisation=aggregator,
            verified=True,
        )
        for user in (admin, operator_user):
            totp_activate(user=user, secret=TOTP_SECRET)
        accounts_services.aggregator_licence_set(organisation=aggregator, licence_number=AGGREGATOR_LICENCE)
        verify_participant(aggregator, user=aggregator_user, number="REG-BRIGHTFLEX", segment=None)
        # The aggregator's commercial terms, which its households accept with their consent (ADR 0024).
        commercial_terms_publish(
            aggregator=aggregator,
            by=aggregator_user,
            revenue_share_pct=AGGREGATOR_FEE_PCT,
            fee_per_kw_month=AGGREGATOR_FEE_PER_KW_MONTH,
            member_penalty_pct=MEMBER_PENALTY_PCT,
            payment_frequency="monthly",
            summary="BrightFlex keeps a share of what your home earns and bears most of the penalties.",
        )
        world.logins += [
            ("admin (admin console)", "admin@demo.flex"),
            ("grid operator", "operator@demo.flex"),
            ("aggregator", "aggregator@demo.flex"),
        ]
        for i, segment in enumerate(segments):
            n = i + 1
            label = {"residential": "Household", "commercial": "Business", "industrial": "Factory"}[segment]
            org = accounts_services.organisation_create(name=f"{label} {n:02d}", kind=Organisation.Kind.CONSUMER)
            email = f"consumer{n:02d}@demo.flex"
            user = accounts_services.user_create(
                email=email, password=hashed, password_is_hashed=True, organisation=org, verified=True
            )
            # Three of four households are enrolled with the aggregator; businesses and factories sell directly.
            enrolled = segment == Premise.Segment.RESIDENTIAL and i % 4 != 0
            premise = accounts_services.premise_create(
                organisation=org,
                name=f"{label} {n:02d} site",
                segment=segment,
                grid_zone=feeders[FEEDERS[i % len(FEEDERS)]],
                timezone=TZ,
                address=f"{100 + n} Grid Street, Eastville",
                utility_account_number=f"UA-{n:06d}",
                utility_account_holder=org.name,
            )
            accounts_services.meter_create(premise=premise, meter_id=f"MTR-{n:04d}", interval_minutes=15)
            # KYC through the provider interface (automatic approval of clean cases), consent, then enrolment.
            verify_participant(org, user=user, number=f"P{n:07d}", segment=segment)
            if enrolled:
                _consent_and_enrol(premise=premise, aggregator=aggregator, owner=user, aggregator_user=aggregator_user)
            for spec in demo_devices(segment, n):
                device_register(premise=premise, **spec)
            world.premises.append(premise)
            if n in (1, 2, n_residential + 1, n_residential + n_commercial + 1):
                world.logins.append((f"{segment} consumer{' (via aggregator)' if enrolled else ''}", email))
    return world


def verify_participant(org: Organisation, *, user, number: str, segment: str | None) -> None:
    """KYC (households) or KYB (businesses, factories, the aggregator), decided by the automatic provider."""
    if current_verification(org) is not None:
        return
    business = segment != Premise.Segment.RESIDENTIAL
    case = VerificationCase.objects.filter(organisation=org, status=VerificationCase.Status.DRAFT).first()
    if case is None:
        case = verification_case_create(
            organisation=org,
            legal_name=org.name,
            kind=VerificationCase.Kind.KYB if business else VerificationCase.Kind.KYC,
            level=VerificationCase.Level.ENHANCED if business else VerificationCase.Level.BASIC,
            by=user,
        )
    if business:
        verification_document_add(
            case=case,
            doc_type=VerificationDocument.DocType.BUSINESS_REGISTRATION,
            number=f"BR-{number}",
            holder_name=org.name,
            issuing_country="US",
            by=user,
        )
    else:
        verification_document_add(
            case=case,
            doc_type=VerificationDocument.DocType.PASSPORT,
            number=number,
            holder_name=org.name,
            issuing_country="US",
            expires_on=timezone.now().date() + timedelta(days=5 * 365),
            by=user,
        )
    verification_case_submit(case=case, by=user, provider=AutoApproveProvider())


def _consent_and_enrol(*, premise: Premise, aggregator: Organisation, owner, aggregator_user) -> None:
    if not consents_active().filter(premise=premise, aggregator=aggregator).exists():
        consent_grant(
            premise=premise,
            aggregator=aggregator,
            by=owner,
            scopes=[Consent.Scope.INTERVAL_READINGS, Consent.Scope.DEVICE_CONTROL],
            expires_at=timezone.now() + timedelta(days=365),
            terms=terms_current(aggregator),
        )
    enrolment_create(premise=premise, aggregator=aggregator, by=aggregator_user)
    premise.refresh_from_db(fields=["aggregator"])
