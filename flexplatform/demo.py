"""The demo scenario: a world of participants with weeks of meter data, and one market day through all seven steps.

Everything goes through the apps' services and tasks, exactly as the portal, API and Celery would call them.
The market day is *yesterday* (local time of the demo grid), replayed with a simulated clock: offers before
gate closure, the operator's requests, clearing, a day-ahead auction (orders before its gate closure, cleared
at it), events, the meter data of the day (with each dispatched resource's response), verification,
settlement, and anchoring of the day's settlement hours on chain.
Running it again is harmless: the world is created once, each day is run once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts import services as accounts_services
from accounts.consents import consent_grant, enrolment_create
from accounts.device_services import device_register
from accounts.kyc.providers import AutoApproveProvider
from accounts.kyc.services import verification_case_create, verification_case_submit, verification_document_add
from accounts.mfa import totp_activate
from accounts.models import Consent, GridZone, Meter, Organisation, Premise, VerificationCase, VerificationDocument
from accounts.selectors import consents_active, current_verification, zone_with_descendant_ids
from activation.models import DREvent, EventVerification
from activation.services import events_advance, events_verify_due
from assessment.baselines.grid import local_day_bounds as day_bounds
from assessment.ingest.services import readings_import
from assessment.ingest.types import ParsedReading, ParseResult
from assessment.models import ImportBatch, MeterReading, MeterStatus
from assessment.selectors import accredited_capacity_kw
from assessment.services import flexibility_assess, interval_starts, meter_readings_record, meter_status_refresh
from assessment.synthetic import load_profile_kwh, response_kwh
from market.engine.products import PRODUCTS, MarketType
from market.models import Auction, Award, FlexibilityOffer, FlexibilityRequest
from market.services import offer_submit, request_submit
from market.services.auctions import auction_clear, auction_open
from market.services.orders import minimum_sell_kw, order_submit
from settlement import assets
from settlement.models import PeriodAnchor, SettlementItem, SettlementRun
from settlement.selectors import ledger_is_balanced
from settlement.services.anchoring import periods_anchor_closed
from settlement.services.runs import settlement_run_execute

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
            code="iso-east", name="ISO East", kind=GridZone.Kind.ISO_ZONE, jurisdiction=JURISDICTION
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
        )
    enrolment_create(premise=premise, aggregator=aggregator, by=aggregator_user)
    premise.refresh_from_db(fields=["aggregator"])


def demo_devices(segment: str, n: int) -> list[dict]:
    """A few plausible devices per premise (deterministic in ``n``)."""
    d = Decimal
    if segment == Premise.Segment.RESIDENTIAL:
        out = [
            {
                "name": "Smart thermostat",
                "kind": "hvac",
                "control_channel": "vendor_api",
                "rated_kw": d("3.5"),
                "min_kw": d("0.3"),
                "max_kw": d("3.5"),
                "max_event_minutes": 240,
                "notice_minutes": 30,
                "max_events_per_day": 1,
                "max_events_per_month": 15,
                "rebound_percent": d("40"),
                "rebound_minutes": 60,
                "comfort_min_c": d("19"),
                "comfort_max_c": d("25"),
                "setpoint_c": d("23") + d(n % 3) / 2,
            },
            {
                "name": "Water heater",
                "kind": "water_heater",
                "control_channel": "openadr_ven",
                "rated_kw": d("4.5"),
                "max_kw": d("4.5"),
                "max_event_minutes": 180,
                "max_events_per_day": 2,
                "max_events_per_month": 40,
                "rebound_percent": d("80"),
                "rebound_minutes": 90,
                "comfort_min_c": d("49"),
                "comfort_max_c": d("60"),
                "setpoint_c": d("55"),
            },
        ]
        if n % 2:
            out.append(
                {
                    "name": "EV charger",
                    "kind": "ev_charger",
                    "control_channel": "ocpp",
                    "rated_kw": d("7.4"),
                    "min_kw": d("0"),
                    "max_kw": d("7.4"),
                    "ramp_kw_per_min": d("7.4"),
                    "max_event_minutes": 240,
                    "max_events_per_day": 1,
                    "max_events_per_month": 20,
                    "rebound_percent": d("100"),
                    "channel_address": f"CP-{n:04d}",
                }
            )
        if n % 3 == 0:
            out.append(
                {
                    "name": "Home battery",
                    "kind": "battery",
                    "control_channel": "vendor_api",
                    "rated_kw": d("5"),
                    "max_kw": d("5"),
                    "capacity_kwh": d("13.5"),
                    "soc_min_percent": d("20"),
                    "soc_max_percent": d("100"),
                    "soc_percent": d("80"),
                    "max_events_per_day": 2,
                    "max_events_per_month": 40,
                }
            )
        if n % 4 == 1:
            out.append(
                {
                    "name": "Pool pump",
                    "kind": "pool_pump",
                    "control_channel": "mqtt",
                    "rated_kw": d("1.5"),
                    "max_kw": d("1.5"),
                    "max_event_minutes": 360,
                    "max_events_per_day": 1,
                    "channel_address": f"flex/site-{n:02d}/pool-pump",
                }
            )
        if n % 5 == 0:
            out.append(
                {
                    "name": "Rooftop PV",
                    "kind": "pv_inverter",
                    "control_channel": "vendor_api",
                    "rated_kw": d("6"),
                    "max_kw": d("6"),
                }
            )
        return out
    if segment == Premise.Segment.COMMERCIAL:
        return [
            {
                "name": "Rooftop HVAC units",
                "kind": "hvac",
                "control_channel": "openadr_ven",
                "rated_kw": d("60"),
                "min_kw": d("15"),
                "max_kw": d("60"),
                "ramp_kw_per_min": d("10"),
                "max_event_minutes": 240,
                "notice_minutes": 60,
                "max_events_per_day": 1,
                "max_events_per_month": 10,
                "rebound_percent": d("30"),
                "comfort_min_c": d("20"),
                "comfort_max_c": d("26"),
                "setpoint_c": d("23.5"),
                "channel_address": f"ven-biz-{n:02d}",
            },
            {
                "name": "Fleet chargers",
                "kind": "ev_charger",
                "control_channel": "ocpp",
                "rated_kw": d("44"),
                "min_kw": d("6"),
                "max_kw": d("44"),
                "max_event_minutes": 180,
                "max_events_per_day": 2,
                "max_events_per_month": 40,
                "rebound_percent": d("100"),
                "channel_address": f"CP-BIZ-{n:02d}",
            },
        ]
    return [
        {"name": "Process line", "kind": "industrial_process", "control_channel": "openadr_ven", "rated_kw": d("900"),
         "min_kw": d("350"), "max_kw": d("900"), "ramp_kw_per_min": d("25"), "min_event_minutes": 30,
         "max_event_minutes": 240, "notice_minutes": 120, "max_events_per_day": 1, "max_events_per_month": 8,
         "rebound_percent": d("60"), "rebound_minutes": 240, "channel_address": f"ven-plant-{n:02d}"},
        {"name": "Site battery", "kind": "battery", "control_channel": "vendor_api", "rated_kw": d("250"),
         "max_kw": d("250"), "ramp_kw_per_min": d("250"), "capacity_kwh": d("500"), "soc_min_percent": d("10"),
         "soc_max_percent": d("95"), "soc_percent": d("70"), "max_events_per_day": 2, "max_events_per_month": 40},
    ]  # fmt: skip


def _meter_seed(meter: Meter) -> int:
    return meter.pk * 7919


def history_load(*, world: World, until: date, days: int = HISTORY_DAYS) -> int:
    """Meter data for the ``days`` local days before ``until`` (idempotent; only missing days are made), then
    each meter's validation is refreshed (the market offers only premises with a validated meter)."""
    stored = 0
    for premise in world.premises:
        stored += meter_history_load(meter=premise.meters.get(), until=until, days=days)
    return stored


def meter_history_load(*, meter: Meter, until: date, days: int) -> int:
    """``days`` local days of synthetic 15-minute history before ``until`` for one meter, imported the way a
    utility's history export arrives (carrying the premise's utility account, which shows ownership), then the
    meter's validation status refreshed. Returns how many readings were new."""
    premise = meter.premise
    start, _ = local_day_bounds(until - timedelta(days=days))
    end, _ = local_day_bounds(until)
    have = set(
        MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).values_list("start", flat=True)
    )
    starts = [s for s in interval_starts(start, end, meter.interval_minutes) if s not in have]
    new, stored = 0, {}
    if not starts and not MeterStatus.objects.filter(meter=meter, ownership_verified_at__isnull=False).exists():
        # A world loaded before imports showed ownership: re-send its last stored day (changes no reading).
        starts = list(
            MeterReading.objects.filter(meter=meter, start__lt=end)
            .order_by("-start")
            .values_list("start", flat=True)[: 24 * 60 // meter.interval_minutes]
        )[::-1]
        stored = dict(MeterReading.objects.filter(meter=meter, start__in=starts).values_list("start", "kwh"))
    if starts:
        values = load_profile_kwh(segment=premise.segment, seed=_meter_seed(meter), starts=starts, tz=TZ)
        rows = [
            ParsedReading(meter.meter_id, s, stored.get(s, Decimal(v).quantize(Decimal("0.0001"))), f"history {i + 1}")
            for i, (s, v) in enumerate(zip(starts, values, strict=True))
        ]
        batch = readings_import(
            user=None,
            source=ImportBatch.Source.JSON,
            parsed=ParseResult(rows=rows),
            filename="utility-history-export",
            account_number=premise.utility_account_number,
        )
        new = batch.rows_new
    meter_status_refresh(meter=meter)
    return new


@dataclass
class AuctionSummary:
    """The day-ahead auction of the market day as the summary shows it."""

    zone: str
    product: str
    orders: int = 0
    #: per interval that cleared: start, clearing price, volume
    intervals: list[tuple[datetime, Decimal, Decimal]] = field(default_factory=list)
    #: per award (one member resource, one interval): start, premise, seller, kW, price
    awards: list[tuple[datetime, str, str, Decimal, Decimal]] = field(default_factory=list)

    @property
    def awarded_kw(self) -> Decimal:
        return sum((a[3] for a in self.awards), Decimal("0"))


@dataclass
class DayResult:
    day: date
    offers: int = 0
    requests: int = 0
    awards: int = 0  # of the requests (step 4)
    awarded_kw: Decimal = Decimal("0")
    auction: AuctionSummary | None = None
    events: int = 0
    delivered_kwh: Decimal = Decimal("0")
    payments: int = 0  # fiat items to participants for the day's events (payments, credits, penalties)
    paid: Decimal = Decimal("0")  # their sum: payments less penalties
    fees: Decimal = Decimal("0")  # platform fees charged to the operator
    tokens: dict[str, Decimal] = field(default_factory=dict)
    run: SettlementRun | None = None
    anchors: list[PeriodAnchor] = field(default_factory=list)
    ledger_balanced: bool = True
    already_run: bool = False
    devices: str = ""  # what the device simulator did (or why it did not run)


def market_day_run(
    *, world: World, day: date, now: datetime | None = None, simulate_devices: bool = False
) -> DayResult:
    """Steps 2-7 for one market day. Safe to call again: what is done is not redone. With
    ``simulate_devices`` (``manage.py demo``) the dispatched commands reach simulated devices over MQTT."""
    now = now or timezone.now()
    window_start, window_end = event_window(day)
    result = DayResult(day=day)
    rng = random.Random(day.toordinal())  # noqa: S311 - demo prices, not security
    requests = FlexibilityRequest.objects.filter(operator=world.operator, window_start=window_start)
    if requests.exists():
        result.already_run = True
    else:
        gate_closure = window_start - timedelta(hours=26)
        # Step 2: assessment (baseline for the window, flexible kW per premise).
        capacity = {}
        for premise in world.premises:
            flexibility_assess(premise=premise, window_start=window_start, window_end=window_end, now=gate_closure)
            # What the market lets it sell: assessed kW x reliability factor, capped by declarations.
            capacity[premise.pk] = accredited_capacity_kw(premise=premise, start=window_start, end=window_end)
        # Step 3: offers, by the premise owner or, for enrolled households, by the aggregator.
        for premise in world.premises:
            kw = capacity[premise.pk]
            if kw <= 0:
                continue
            lo, hi = PRICE_RANGE[premise.segment]
            offer_submit(
                seller=premise.aggregator or premise.organisation,
                premise=premise,
                zone=premise.grid_zone,
                kw=kw,
                price_per_mwh=Decimal(rng.randint(lo * 100, hi * 100)) / 100,
                window_start=window_start,
                window_end=window_end,
            )
        simulation = devices_simulate_start(world) if simulate_devices else None
        # Step 4: the operator requests ~60 % of what is offered in each substation; clearing runs in Celery.
        for sub in GridZone.objects.filter(kind=GridZone.Kind.SUBSTATION).order_by("code"):
            offered = FlexibilityOffer.objects.filter(
                premise__grid_zone__parent=sub, window_start=window_start, status=FlexibilityOffer.Status.OPEN
            ).aggregate(kw=Sum("kw"))["kw"] or Decimal("0")
            if offered:
                request_submit(
                    operator=world.operator,
                    zone=sub,
                    kw=(offered * Decimal("0.6")).quantize(Decimal("0.001")),
                    max_price_per_mwh=MAX_PRICE,
                    window_start=window_start,
                    window_end=window_end,
                )
        # Step 4b: the operator's day-ahead auction for a substation's morning hours, cleared at gate closure.
        day_ahead_auction_run(world=world, day=day)
        # Step 5: awards became events with dispatch signals (Celery, chained on commit); the clock runs the day.
        if simulation is not None:
            result.devices = devices_simulate_finish(simulation)
        auction_start, auction_end = auction_window(day)
        for instant in (window_start, window_end, auction_start, auction_end):
            events_advance(now=instant)
        # The day's meter data arrives, with each dispatched resource's response.
        _day_readings(world=world, day=day)
    # Step 6: verification of every completed event with complete data.
    events_verify_due(now=local_day_bounds(day)[1] + timedelta(hours=2))
    # Step 7: the day's settlement run (the daily run, over the local market day; a repeat pays nothing), then
    # the day's settlement hours are closed: seal, anchor on chain, confirm.
    day_start, day_end = local_day_bounds(day)
    result.run = settlement_run_execute(
        window_start=day_start, window_end=day_end, trigger=SettlementRun.Trigger.DAILY, now=now
    )
    result.anchors = periods_anchor_closed(now=now, wait=True)
    _summarise(result, world=world, day=day)
    return result


def _auction_of(day: date) -> Auction | None:
    return Auction.objects.filter(
        market=MarketType.DAY_AHEAD,
        product=AUCTION_PRODUCT,
        zone__code=AUCTION_ZONE,
        delivery_start=local_day_bounds(day)[0],
    ).first()


def day_ahead_auction_run(*, world: World, day: date) -> Auction:
    """The market day's day-ahead auction, through the market's services: the operator opens a congestion
    auction for ``AUCTION_ZONE`` over the local day (hourly intervals, gate closure at noon the day before);
    for each hour of :func:`auction_window` every seller there offers its resources' accredited capacity (a
    consumer its own premise, the aggregator its enrolled households as one portfolio order), the operator bids
    for ``AUCTION_DEMAND_SHARE`` of it at ``MAX_PRICE``; at gate closure it clears at a uniform price per hour
    and each member resource gets its award (an event, settled with the day). Safe to call again: the auction is
    opened once, offered into once, cleared once."""
    day_start, day_end = local_day_bounds(day)
    gate_closure = day_start - timedelta(hours=AUCTION_GATE_HOURS)
    zone = GridZone.objects.get(code=AUCTION_ZONE)
    auction = auction_open(
        operator=world.operator,
        market=MarketType.DAY_AHEAD,
        product=AUCTION_PRODUCT,
        zone=zone,
        delivery_start=day_start,
        delivery_end=day_end,
        interval_minutes=60,
        gate_closure=gate_closure,
    )
    if auction.status == Auction.Status.OPEN and not auction.orders.exists():
        entered = gate_closure - timedelta(hours=1)  # the simulated clock: orders before gate closure
        start, end = auction_window(day)
        inside = zone_with_descendant_ids([zone])
        premises = [p for p in world.premises if p.grid_zone_id in inside]
        for premise in premises:
            flexibility_assess(premise=premise, window_start=start, window_end=end, now=entered)
        minimum, _ = minimum_sell_kw(PRODUCTS[AUCTION_PRODUCT])
        rng = random.Random(day.toordinal() * 31 + 7)  # noqa: S311 - demo prices, not security
        hour = start
        while hour < end:
            nxt = hour + timedelta(hours=1)
            sellers: dict[int, tuple[Organisation, list[tuple[Premise, Decimal]]]] = {}
            for premise in premises:
                kw = accredited_capacity_kw(premise=premise, start=hour, end=nxt) or Decimal("0")
                if kw > 0:
                    seller = premise.aggregator or premise.organisation
                    sellers.setdefault(seller.pk, (seller, []))[1].append((premise, kw))
            offered = Decimal("0")
            for _, (seller, members) in sorted(sellers.items()):
                kw = sum((k for _, k in members), Decimal("0"))
                if kw < minimum:  # a household alone may be too small; pooled by the aggregator it is not
                    continue
                if seller.kind == Organisation.Kind.AGGREGATOR:
                    lo, hi = PORTFOLIO_PRICE_RANGE
                else:
                    lo, hi = PRICE_RANGE[members[0][0].segment]
                order_submit(
                    organisation=seller,
                    market=MarketType.DAY_AHEAD,
                    product=AUCTION_PRODUCT,
                    side="sell",
                    zone=zone,
                    members=members,
                    price_per_mwh=Decimal(rng.randint(lo * 100, hi * 100)) / 100,
                    delivery_start=hour,
                    delivery_end=nxt,
                    auction=auction,
                    now=entered,
                )
                offered += kw
            if offered:
                order_submit(
                    organisation=world.operator,
                    market=MarketType.DAY_AHEAD,
                    product=AUCTION_PRODUCT,
                    side="buy",
                    zone=zone,
                    kw=(offered * AUCTION_DEMAND_SHARE).quantize(Decimal("0.001")),
                    price_per_mwh=MAX_PRICE,
                    delivery_start=hour,
                    delivery_end=nxt,
                    auction=auction,
                    now=entered,
                )
            hour = nxt
    auction_clear(auction_id=auction.pk, now=gate_closure)  # a cleared auction returns its stored run
    auction.refresh_from_db()
    return auction


@dataclass
class DeviceSimulation:
    fleet: object | None = None
    listener: object | None = None
    collector: object | None = None
    note: str = ""


def devices_simulate_start(world: World) -> DeviceSimulation:
    """Connect the device simulator (``activation.simulator.DeviceFleet``: every premise's devices on one MQTT
    connection, a share of non-responders and partial responders) and the platform's ack/telemetry listener
    to the broker at MQTT_HOST:MQTT_PORT before the day's events are dispatched. No broker: skipped, and the
    summary says so (the commands wait in the outbox)."""
    from django.conf import settings

    from activation.protocols.mqtt import BrokerUnavailable, MqttListener, broker_reachable
    from activation.protocols.mqtt_wire import WireError
    from activation.selectors import premise_devices
    from activation.simulator import AckCollector, DeviceFleet

    where = f"{settings.MQTT_HOST}:{settings.MQTT_PORT}"
    if not broker_reachable():
        return DeviceSimulation(
            note=f"no MQTT broker at {where}: device simulator skipped, commands kept in the outbox"
        )
    specs = [(d.device_id, p.pk, float(d.rated_kw) * 0.7) for p in world.premises for d in premise_devices(p)]
    fleet = DeviceFleet.from_seed(specs, host=settings.MQTT_HOST, port=settings.MQTT_PORT, ramp_seconds=0)
    try:
        fleet.start()
        collector = AckCollector()
        listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    except (BrokerUnavailable, WireError, OSError) as exc:
        fleet.stop()
        return DeviceSimulation(note=f"MQTT broker at {where} refused ({exc}): device simulator skipped")
    return DeviceSimulation(fleet=fleet, listener=listener, collector=collector, note=where)


def devices_simulate_finish(simulation: DeviceSimulation) -> str:
    """Publish what is still in the outbox, record the simulated devices' acks and one round of their telemetry
    through the services, disconnect; returns the summary line."""
    from time import monotonic

    from activation.services import outbox_flush
    from activation.simulator import apply_messages

    if simulation.fleet is None:
        return simulation.note
    fleet, collector = simulation.fleet, simulation.collector
    totals = {"acks": 0, "telemetry": 0}

    def pump(seconds: float) -> None:  # until nothing new for 1 s
        deadline, quiet = monotonic() + seconds, monotonic()
        while monotonic() < deadline and monotonic() - quiet < 1.0:
            got = apply_messages(collector.drain(timeout=0.2))
            if got["acks"] or got["telemetry"]:
                quiet = monotonic()
            totals["acks"] += got["acks"]
            totals["telemetry"] += got["telemetry"]

    try:
        outbox_flush()
        pump(10)
        fleet.report_telemetry()
        pump(5)
    finally:
        simulation.listener.stop()
        fleet.stop()
    received = sum(map(len, fleet.received.values()))
    return (
        f"{received} commands received by simulated devices over MQTT ({simulation.note}), "
        f"{totals['acks']} acknowledged, {totals['telemetry']} telemetry readings recorded"
    )


def _day_readings(*, world: World, day: date) -> None:
    start, end = local_day_bounds(day)
    events: dict[int, list[DREvent]] = {}
    for e in DREvent.objects.filter(start__gte=start, start__lt=end).order_by("start", "pk"):
        events.setdefault(e.premise_id, []).append(e)
    for premise in world.premises:
        meter = premise.meters.get()
        starts = interval_starts(start, end, meter.interval_minutes)
        values = load_profile_kwh(segment=premise.segment, seed=_meter_seed(meter), starts=starts, tz=TZ)
        for event in events.get(premise.pk, []):
            # Most respond fully, some partly, a few not at all.
            r = random.Random(event.pk).random()  # noqa: S311
            compliance = 0.0 if r < 0.08 else (0.55 if r < 0.25 else 1.0)
            idx = [i for i, s in enumerate(starts) if event.start <= s < event.end]
            actual = response_kwh(
                baseline_kwh=[values[i] for i in idx],
                reduction_kw=event.target_kw,
                interval_minutes=meter.interval_minutes,
                compliance=compliance,
            )
            for i, v in zip(idx, actual, strict=True):
                values[i] = v
        meter_readings_record(meter=meter, readings=list(zip(starts, values, strict=True)))


def _summarise(result: DayResult, *, world: World, day: date) -> None:
    window_start, _ = event_window(day)
    requested = Award.objects.filter(window_start=window_start, request__operator=world.operator)
    result.offers = FlexibilityOffer.objects.filter(window_start=window_start).count()
    result.requests = FlexibilityRequest.objects.filter(window_start=window_start, operator=world.operator).count()
    result.awards = requested.count()
    result.awarded_kw = requested.aggregate(kw=Sum("kw"))["kw"] or Decimal("0")
    auction = _auction_of(day)
    awards = requested
    if auction is not None and auction.status == Auction.Status.CLEARED:
        result.auction = _auction_summary(auction)
        awards = Award.objects.filter(Q(pk__in=requested) | Q(clearing_run__auction=auction))
    result.events = DREvent.objects.filter(award__in=awards).count()
    result.delivered_kwh = EventVerification.objects.filter(event__award__in=awards).aggregate(
        kwh=Sum("delivered_kwh")
    )["kwh"] or Decimal("0")
    items = SettlementItem.objects.filter(award__in=awards)
    fiat = items.filter(currency=settings.SETTLEMENT_CURRENCY)
    to_participants = fiat.exclude(kind=SettlementItem.Kind.PLATFORM_FEE)
    result.payments = to_participants.count()
    cents = assets.CENT  # SQLite sums decimals as floats
    result.paid = (to_participants.aggregate(total=Sum("amount"))["total"] or Decimal("0")).quantize(cents)
    fees = fiat.filter(kind=SettlementItem.Kind.PLATFORM_FEE).aggregate(t=Sum("amount"))["t"] or Decimal("0")
    result.fees = -fees.quantize(cents)
    result.tokens = {
        asset: total.quantize(cents)
        for asset, total in items.filter(currency__in=assets.TOKENS)
        .values("currency")
        .annotate(t=Sum("amount"))
        .values_list("currency", "t")
    }
    result.anchors = list(
        PeriodAnchor.objects.filter(period__items__in=items)
        .distinct()
        .select_related("period")
        .order_by("period__start")
    )
    result.ledger_balanced = ledger_is_balanced()


def _auction_summary(auction: Auction) -> AuctionSummary:
    run = auction.clearing_run
    step = timedelta(minutes=auction.interval_minutes)
    cents = assets.CENT
    return AuctionSummary(
        zone=auction.zone.code,
        product=auction.product,
        orders=auction.orders.count(),
        intervals=[
            (
                auction.delivery_start + i["interval"] * step,
                Decimal(i["clearing_price_per_mwh"]),
                Decimal(i["volume_kw"]),
            )
            for i in run.outputs["intervals"]
            if i["clearing_price_per_mwh"] is not None
        ],
        awards=[
            (a.window_start, a.premise.name, a.seller.name, a.kw, a.clearing_price_per_mwh.quantize(cents))
            for a in Award.objects.filter(clearing_run=run)
            .select_related("premise", "seller")
            .order_by("window_start", "premise_id")
        ],
    )
