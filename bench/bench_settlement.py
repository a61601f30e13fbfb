"""Benchmark: settling one day for N participants (default 100,000) with 96 quarter-hour intervals each.

Each participant has a premise with a meter (96 readings that day), a capacity contract, and one verified
event covering the day (96 verification intervals). A share of the participants (``--portfolio-share``, half by
default) are members of an aggregator that sold their awards, under terms accepted with their consent: their
events settle into member share and aggregator fee (ADR 0024). The script builds that input (``COPY`` for the interval
tables), then times one :func:`settlement.services.runs.settlement_run_execute` of the day and a re-run
(which must pay nothing), and prints settlement items/s. Needs Postgres:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flex_bench .venv/bin/python bench/bench_settlement.py --participants 1000

The database is migrated first; the bench's rows are tagged with a random prefix and left in place.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import CommercialTerms, Consent, ConsentTerms, GridZone, Meter, Organisation, Premise  # noqa: E402
from activation.models import DREvent, EventVerification  # noqa: E402
from assessment.models import Baseline  # noqa: E402
from market.models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest  # noqa: E402
from settlement.models import LedgerAccount, ParticipationContract, SettlementItem  # noqa: E402
from settlement.selectors import balance_mismatches, ledger_is_balanced  # noqa: E402
from settlement.services.runs import settlement_run_execute  # noqa: E402

INTERVALS = 96
BATCH = 20000


def _bulk(model, objs):
    out = []
    for i in range(0, len(objs), BATCH):
        out += model.objects.bulk_create(objs[i : i + BATCH])
    return out


def _portfolio(tag: str, premises: list, day: datetime) -> Organisation:
    """An aggregator with published terms, and a consent accepting them for each of ``premises``."""
    aggregator = Organisation.objects.create(name=f"{tag} aggregator", kind=Organisation.Kind.AGGREGATOR)
    owner = get_user_model().objects.create(username=f"{tag}-owner", email=f"{tag}@bench.flex")
    terms = CommercialTerms.objects.create(
        aggregator=aggregator,
        version=1,
        revenue_share_pct=Decimal("15"),
        fee_per_kw_month=Decimal("0.50"),
        member_penalty_pct=Decimal("20"),
        published_at=day - timedelta(days=30),
    )
    granted = day - timedelta(days=10)
    consents = _bulk(
        Consent,
        [
            Consent(
                premise=p,
                aggregator=aggregator,
                granted_by=owner,
                scopes=["interval_readings"],
                purpose=Consent.Purpose.FLEXIBILITY_AGGREGATION,
                granted_at=granted,
                expires_at=granted + timedelta(days=365),
            )
            for p in premises
        ],
    )
    _bulk(ConsentTerms, [ConsentTerms(consent=c, terms=terms, accepted_at=granted) for c in consents])
    return aggregator


def build(n: int, day: datetime, tag: str, portfolio_share: float = 0.5) -> None:
    end = day + timedelta(days=1)
    zone = GridZone.objects.create(code=f"{tag}-zone", name="Bench zone", kind=GridZone.Kind.SUBSTATION)
    operator = Organisation.objects.create(name=f"{tag} operator", kind=Organisation.Kind.GRID_OPERATOR)
    orgs = _bulk(Organisation, [Organisation(name=f"{tag} c{i}", kind=Organisation.Kind.CONSUMER) for i in range(n)])
    premises = _bulk(
        Premise,
        [Premise(organisation=o, name="p", segment=Premise.Segment.RESIDENTIAL, grid_zone=zone) for o in orgs],
    )
    members = int(n * portfolio_share)
    aggregator = _portfolio(tag, premises[:members], day) if members else None
    sellers = [aggregator] * members + orgs[members:]
    meters = _bulk(Meter, [Meter(premise=p, meter_id=f"{tag}-{p.pk}", interval_minutes=15) for p in premises])
    price, kw = Decimal("85.50"), Decimal("1.2")
    offers = _bulk(
        FlexibilityOffer,
        [
            FlexibilityOffer(
                seller=o, premise=p, zone=zone, kw=kw, price_per_mwh=price, window_start=day, window_end=end
            )
            for o, p in zip(sellers, premises, strict=True)
        ],
    )
    requests = _bulk(
        FlexibilityRequest,
        [
            FlexibilityRequest(
                operator=operator, zone=zone, kw=kw * 1000, max_price_per_mwh=price, window_start=day, window_end=end
            )
            for _ in range(0, n, 1000)
        ],
    )
    runs = _bulk(
        ClearingRun,
        [
            ClearingRun(
                request=r,
                rule_version="bench",
                clearing_price_per_mwh=price,
                awarded_kw=kw * 1000,
                inputs={},
                outputs={},
                cleared_at=day - timedelta(days=1),
            )
            for r in requests
        ],
    )
    awards = _bulk(
        Award,
        [
            Award(
                clearing_run=runs[i // 1000],
                request=requests[i // 1000],
                offer=offers[i],
                premise=premises[i],
                seller=sellers[i],
                buyer=operator,
                kw=kw,
                clearing_price_per_mwh=price,
                window_start=day,
                window_end=end,
            )
            for i in range(n)
        ],
    )
    events = _bulk(
        DREvent,
        [
            DREvent(
                award=a,
                premise=p,
                zone=zone,
                target_kw=kw,
                start=day,
                end=end,
                status=DREvent.Status.COMPLETED,
                price_per_mwh=price,
                buyer=operator,
            )
            for a, p in zip(awards, premises, strict=True)
        ],
    )
    baselines = _bulk(
        Baseline,
        [
            Baseline(
                meter=m, method="bench", window_start=day, window_end=end, total_kwh=Decimal("96"), computed_at=end
            )
            for m in meters
        ],
    )
    # delivered per interval: 0.2500 + a participant-specific few ten-thousandths, so rounding varies
    delivered = [Decimal("0.25") + Decimal(i % 37) / 10000 for i in range(n)]
    verifications = _bulk(
        EventVerification,
        [
            EventVerification(
                event=e,
                baseline=b,
                baseline_kwh=Decimal("96"),
                actual_kwh=Decimal("96") - d * INTERVALS,
                delivered_kwh=d * INTERVALS,
                committed_kwh=kw * 24,
                verified_at=end,
            )
            for e, b, d in zip(events, baselines, delivered, strict=True)
        ],
    )
    _bulk(
        ParticipationContract,
        [
            ParticipationContract(
                participant=o,
                operator=operator,
                premise=p,
                reserved_kw=Decimal("2"),
                rate_per_kw_day=Decimal("0.4167"),
                start=day - timedelta(days=30),
                end=end + timedelta(days=30),
            )
            for o, p in zip(orgs, premises, strict=True)
        ],
    )
    starts = [day + timedelta(minutes=15 * k) for k in range(INTERVALS)]
    with connection.cursor() as cur:
        with cur.copy(
            "COPY activation_verificationinterval"
            " (verification_id, start, baseline_kwh, actual_kwh, delivered_kwh, actual_source) FROM STDIN"
        ) as copy:
            for v, d in zip(verifications, delivered, strict=True):
                for s in starts:
                    copy.write_row((v.pk, s, Decimal(1), Decimal(1) - d, d, "meter"))
        with cur.copy("COPY assessment_meterreading (meter_id, start, kwh) FROM STDIN") as copy:
            for i, m in enumerate(meters):
                missing = i % 5  # some meters miss a few intervals: availability below 1
                for s in starts[: INTERVALS - missing]:
                    copy.write_row((m.pk, s, Decimal("0.75")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--portfolio-share", type=float, default=0.5, help="share of awards sold by an aggregator")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on Postgres: set DATABASE_URL.")
    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    # a distinct past day per bench run, so runs do not see each other's data
    day = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=int(tag, 16) % 1500)
    n = args.participants
    t0 = time.perf_counter()
    build(n, day, tag, args.portfolio_share)
    t1 = time.perf_counter()
    print(
        f"input: {n:,} participants, {n * INTERVALS:,} verification intervals + {n * INTERVALS:,} meter readings in {t1 - t0:.1f} s"
    )
    run = settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=day + timedelta(days=2))
    t2 = time.perf_counter()
    items = run.last_attempt_items
    print(
        f"settle day: {items:,} settlement items in {t2 - t1:.1f} s = {items / (t2 - t1):,.0f} items/s "
        f"({n * INTERVALS / (t2 - t1):,.0f} intervals/s)"
    )
    again = settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=day + timedelta(days=2))
    t3 = time.perf_counter()
    print(f"re-run: {again.last_attempt_items} new items in {t3 - t2:.1f} s (exactly once)")
    by_kind = SettlementItem.objects.filter(run=run).values_list("kind").distinct().count()
    print(f"kinds: {by_kind}; totals: {run.totals}")
    t4 = time.perf_counter()
    ok = ledger_is_balanced() and not balance_mismatches()
    print(
        f"ledger balanced and balances = sum of postings: {ok} (checked in {time.perf_counter() - t4:.1f} s); "
        f"accounts: {LedgerAccount.objects.count():,}"
    )


if __name__ == "__main__":
    main()
