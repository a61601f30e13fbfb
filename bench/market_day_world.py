"""The world of bench/bench_market_day.py: zones, operators, aggregators and N premises with meters, devices,
consents and enrolments built in bulk, and their 15-minute history shaped by the BDEW standard load profiles
(PyPI ``demandlib``: H0 households, G0 businesses, L0 for the industrial sites), scaled per premise, with a
heating response and noise, loaded through the platform's bulk import. Not imported by the platform or the
test suite."""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

HISTORY_DAYS = 35
SEGMENT_SHARES = (("residential", 0.85), ("commercial", 0.12), ("industrial", 0.03))
PROFILE = {"residential": "h0", "commercial": "g0", "industrial": "l0"}
ANNUAL_KWH = {"residential": 9_000.0, "commercial": 120_000.0, "industrial": 900_000.0}
HEATING_PER_DEGREE = {"residential": 0.030, "commercial": 0.015, "industrial": 0.005}  # share of load per K < 15 C
SUBSTATIONS = 4
CHUNK_METERS = 1000  # meters per bulk-import file


# --- world -----------------------------------------------------------------------------------------------


def _bulk(model, objs, batch=5000):
    out = []
    for i in range(0, len(objs), batch):
        out += model.objects.bulk_create(objs[i : i + batch])
    return out


def world_build(n: int, seed: int = 21):
    """Zones, operators and aggregators through the services; N consumers with premises, meters, devices,
    verification, consents and enrolments in bulk. Returns (World, admin, operators by substation code)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts import services as acc
    from accounts.models import (
        Consent,
        ConsentTerms,
        Device,
        Enrolment,
        GridZone,
        Meter,
        Organisation,
        Premise,
        VerificationCase,
    )
    from accounts.terms import commercial_terms_publish
    from demo.devices import demo_devices
    from demo.world import (
        AGGREGATOR_FEE_PCT,
        AGGREGATOR_FEE_PER_KW_MONTH,
        JURISDICTION,
        MEMBER_PENALTY_PCT,
        TZ,
        World,
        verify_participant,
    )
    from flexplatform import snapshots

    now = timezone.now()
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    iso = acc.zone_create(
        code="iso-east", name="ISO East", kind=GridZone.Kind.ISO_ZONE, jurisdiction=JURISDICTION, timezone=TZ
    )
    feeders, operators = [], {}
    for s in range(1, SUBSTATIONS + 1):
        sub = acc.zone_create(code=f"sub-east-{s}", name=f"Sub East {s}", kind=GridZone.Kind.SUBSTATION, parent=iso)
        for f in "ab":
            feeders.append(
                acc.zone_create(code=f"feeder-e{s}{f}", name=f"Feeder E{s}{f}", kind=GridZone.Kind.FEEDER, parent=sub)
            )
        operators[sub.code] = acc.organisation_create(
            name=f"Grid operator {s}", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[sub]
        )
    hashed = make_password("bench-market-day")
    platform = acc.organisation_create(name="Bench platform", kind=Organisation.Kind.PLATFORM)
    admin = acc.user_create(
        email="admin@bench.day", password=hashed, password_is_hashed=True, organisation=platform, verified=True
    )
    aggregators, agg_users, terms = [], [], []
    for a in (1, 2):
        org = acc.organisation_create(name=f"Aggregator {a}", kind=Organisation.Kind.AGGREGATOR)
        user = acc.user_create(
            email=f"aggregator{a}@bench.day", password=hashed, password_is_hashed=True, organisation=org, verified=True
        )
        acc.aggregator_licence_set(organisation=org, licence_number=f"PJM-DERA-{a:04d}")
        verify_participant(org, user=user, number=f"REG-AGG{a}", segment=None)
        terms.append(
            commercial_terms_publish(
                aggregator=org,
                by=user,
                revenue_share_pct=AGGREGATOR_FEE_PCT,
                fee_per_kw_month=AGGREGATOR_FEE_PER_KW_MONTH,
                member_penalty_pct=MEMBER_PENALTY_PCT,
                payment_frequency="monthly",
                summary="Bench aggregator terms.",
            )
        )
        aggregators.append(org)
        agg_users.append(user)
    segments = []
    for seg, share in SEGMENT_SHARES:
        segments += [seg] * round(n * share)
    segments = (segments + ["residential"] * n)[:n]
    rng.shuffle(segments)
    label = {"residential": "Household", "commercial": "Business", "industrial": "Factory"}
    orgs = _bulk(
        Organisation,
        [Organisation(name=f"{label[s]} {i:06d}", kind=Organisation.Kind.CONSUMER) for i, s in enumerate(segments)],
    )
    owner = get_user_model().objects.create(username="bench-owners", email="owners@bench.day")
    _bulk(
        VerificationCase,
        [
            VerificationCase(
                organisation=o,
                kind=VerificationCase.Kind.KYC if s == "residential" else VerificationCase.Kind.KYB,
                level=VerificationCase.Level.BASIC if s == "residential" else VerificationCase.Level.ENHANCED,
                legal_name=o.name,
                status=VerificationCase.Status.VERIFIED,
                submitted_at=now - timedelta(days=60),
                decided_at=now - timedelta(days=60),
                verified_until=now + timedelta(days=365),
            )
            for o, s in zip(orgs, segments, strict=True)
        ],
    )
    enrolled_with = [aggregators[i % 2] if s == "residential" and i % 4 != 0 else None for i, s in enumerate(segments)]
    premises = _bulk(
        Premise,
        [
            Premise(
                organisation=o,
                name=f"{o.name} site",
                segment=s,
                grid_zone=feeders[i % len(feeders)],
                timezone=TZ,
                address=f"{i} Grid Street",
                utility_account_number=f"UA-{i:07d}",
                utility_account_holder=o.name,
                aggregator=agg,
            )
            for i, (o, s, agg) in enumerate(zip(orgs, segments, enrolled_with, strict=True))
        ],
    )
    meters = _bulk(
        Meter, [Meter(premise=p, meter_id=f"MTR-{i:07d}", interval_minutes=15) for i, p in enumerate(premises)]
    )
    devices = []
    for i, (p, s) in enumerate(zip(premises, segments, strict=True)):
        for spec in demo_devices(s, i + 1):
            if spec.get("channel_address"):
                spec = {**spec, "channel_address": f"{spec['channel_address']}-{i:07d}"}
            devices.append(Device(premise=p, **spec))
    _bulk(Device, devices)
    granted = now - timedelta(days=60)
    members = [(p, agg) for p, agg in zip(premises, enrolled_with, strict=True) if agg is not None]
    consents = _bulk(
        Consent,
        [
            Consent(
                premise=p,
                aggregator=agg,
                granted_by=owner,
                scopes=[Consent.Scope.INTERVAL_READINGS, Consent.Scope.DEVICE_CONTROL],
                purpose=Consent.Purpose.FLEXIBILITY_AGGREGATION,
                granted_at=granted,
                expires_at=granted + timedelta(days=365),
            )
            for p, agg in members
        ],
    )
    terms_of = {t.aggregator_id: t for t in terms}
    _bulk(
        ConsentTerms, [ConsentTerms(consent=c, terms=terms_of[c.aggregator_id], accepted_at=granted) for c in consents]
    )
    _bulk(
        Enrolment,
        [
            Enrolment(premise=c.premise, aggregator=c.aggregator, consent=c, starts_at=granted, ends_at=c.expires_at)
            for c in consents
        ],
    )
    # Ownership: the bulk path confirms it only for a file of one utility account (the utility's multi-account
    # export names none); the account link is taken as shown, as the utility's account-linking flow would.
    from assessment.models import MeterStatus

    _bulk(MeterStatus, [MeterStatus(meter=m, ownership_verified_at=granted) for m in meters])
    snapshots.invalidate(snapshots.PARTIES)
    world = World(operator=operators["sub-east-1"], aggregator=aggregators[0], premises=premises)
    return world, admin, operators, meters, len(devices), len(members)


# --- meter data -----------------------------------------------------------------------------------------


class Loads:
    """15-minute kWh per meter from the BDEW profiles (demandlib), scaled per premise, heating response to the
    platform's synthetic weather, noise."""

    def __init__(self, tz: str, seed: int = 2026) -> None:
        self.tz = ZoneInfo(tz)
        self.tzname = tz
        self.frames: dict[int, object] = {}
        self.rng = np.random.default_rng(seed)

    def _frame(self, year: int):
        if year not in self.frames:
            from demandlib import bdew

            self.frames[year] = bdew.ElecSlp(year).get_scaled_profiles({"h0": 1.0, "g0": 1.0, "l0": 1.0})
        return self.frames[year]

    def days(self, first: date, last: date):
        """(UTC starts, epoch seconds, per-profile kWh for 1 kWh a year) over the local days first..last."""
        from demo.world import local_day_bounds

        start, _ = local_day_bounds(first)
        _, end = local_day_bounds(last)
        n = int((end - start).total_seconds() // 900)
        epoch = int(start.timestamp()) + 900 * np.arange(n, dtype=np.int64)
        starts = [start + timedelta(minutes=15 * i) for i in range(n)]
        local = [s.astimezone(self.tz).replace(tzinfo=None) for s in starts]
        # vectorised lookup: position of each local wall-clock quarter hour in its year's frame
        out = {key: np.empty(n) for key in ("h0", "g0", "l0")}
        for year in sorted({t.year for t in local}):
            frame = self._frame(year)
            idx = [i for i, t in enumerate(local) if t.year == year]
            pos = frame.index.get_indexer([local[i] for i in idx], method="nearest")
            for key in out:
                out[key][idx] = frame[key].to_numpy()[pos]
        return starts, epoch, out

    def meter_kwh(self, *, meter_pk: int, segment: str, scale: float, beta: float, epoch, shapes) -> np.ndarray:
        from assessment.synthetic import temperature_array

        temp = temperature_array(seed=meter_pk * 7919, epoch=epoch, tz=self.tzname)
        heating = 1.0 + beta * np.clip(15.0 - temp, 0.0, None)
        noise = self.rng.normal(1.0, 0.08, len(epoch)).clip(0.5, 1.6)
        return np.round(shapes[PROFILE[segment]] * scale * heating * noise, 4)


def premise_factors(meters, seed: int = 5):
    rng = np.random.default_rng(seed)
    out = {}
    for m in meters:
        seg = m.premise.segment
        out[m.pk] = (
            ANNUAL_KWH[seg] * float(rng.lognormal(0.0, 0.35)),
            HEATING_PER_DEGREE[seg] * float(rng.uniform(0.3, 1.7)),
        )
    return out


def readings_import(
    admin, meters, loads: Loads, factors, first: date, last: date, tmp: Path, adjust=None
) -> tuple[int, float]:
    """Write the utility's CSV (meter_id, start, kwh) chunk by chunk and import each through the
    platform's bulk path. Returns (readings, seconds spent in the platform's import)."""
    from assessment.ingest.bulk import readings_bulk_import

    starts, epoch, shapes = loads.days(first, last)
    stamps = [s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in starts]
    total, spent = 0, 0.0
    for c in range(0, len(meters), CHUNK_METERS):
        chunk = meters[c : c + CHUNK_METERS]
        path = tmp / f"readings-{first}-{c}.csv"
        with path.open("w") as f:
            f.write("meter_id,start,kwh\n")
            for m in chunk:
                scale, beta = factors[m.pk]
                kwh = loads.meter_kwh(
                    meter_pk=m.pk, segment=m.premise.segment, scale=scale, beta=beta, epoch=epoch, shapes=shapes
                )
                if adjust is not None:
                    kwh = adjust(m, starts, kwh)
                tail = "\n"
                head = m.meter_id + ","
                f.write("".join(head + s + "," + f"{v:.4f}" + tail for s, v in zip(stamps, kwh.tolist(), strict=True)))
        t0 = time.perf_counter()
        with path.open("rb") as f:
            batch = readings_bulk_import(user=admin, stream=f, filename=path.name)
        spent += time.perf_counter() - t0
        total += batch.rows_total
        path.unlink()
    return total, spent


def world_load(n: int):
    """The world :func:`world_build` made, read back from a database cloned from a kept world (``--keep-world``):
    the same tuple (World, admin, operators by substation code, meters, devices, enrolled premises)."""
    from django.contrib.auth import get_user_model

    from accounts.models import Device, Enrolment, GridZone, Meter, Organisation, Premise
    from demo.world import World

    premises = list(Premise.objects.select_related("aggregator", "organisation", "grid_zone").order_by("pk"))
    if len(premises) != n:
        raise RuntimeError(f"the kept world has {len(premises)} premises, not {n}")
    operators = {
        zone.code: Organisation.objects.filter(kind=Organisation.Kind.GRID_OPERATOR, service_zones=zone).get()
        for zone in GridZone.objects.filter(kind=GridZone.Kind.SUBSTATION).order_by("code")
    }
    aggregator = Organisation.objects.filter(kind=Organisation.Kind.AGGREGATOR).order_by("pk").first()
    admin = get_user_model().objects.get(email="admin@bench.day")
    meters = list(Meter.objects.order_by("pk"))
    world = World(operator=operators["sub-east-1"], aggregator=aggregator, premises=premises)
    return world, admin, operators, meters, Device.objects.count(), Enrolment.objects.count()
