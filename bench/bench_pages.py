"""Page benchmark: server time and SQL queries of the aggregator, operator, admin and auditor pages at two fleet
sizes (issue #16, item 6).

For each size it seeds, with bulk inserts (not the per-premise services), a fresh database: one grid zone held by
one operator, a licensed and verified aggregator with N consenting and enrolled households (owner verified but
1 in 20, meter validated, a device, an availability
declaration for one in ten, a stored flexibility assessment for the coming day, one day of hourly readings),
portfolio orders naming members, one award and one event (verified) per member, settlement items (member shares
and the aggregator's fees); then, with ``django.test.Client`` signed in as each role, requests every page
twice (the first warms the caches) and records the second request's wall time (``time.perf_counter``, in
process: middleware, views, templates; no network) and its SQL queries (``CaptureQueriesContext``).

Prints a table per page (queries and ms at each size, the CPU ms of this process at the larger size — the
server's Python work, less sensitive than the wall time to other load on a shared machine, without the
database server's — whether the page is within budget) and the last line
``pages within budget: N of M``. Budget: under 300 ms and 30 queries at the larger size, and the same number of
queries at both sizes.

    .venv/bin/python bench/bench_pages.py [--sizes 100,10000]

The database is SQLite (a fresh file per size under a temporary directory) unless DATABASE_URL names a
PostgreSQL database (recommended: what production runs), e.g. ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/flex_x``:
then a template ``<name>_pages_tpl`` is migrated once (kept for the next run) and each size gets a fresh database
``<name>_pages_<N>`` copied from it, dropped at the end unless ``--keep``. The output says which database ran, and
the load average of the machine before and after (the timings are wall times on a possibly shared machine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench_pages_"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'template.sqlite3'}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.local")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

BUDGET_MS, BUDGET_QUERIES = 300.0, 30
SLOWEST = int(os.environ.get("BENCH_PAGES_SLOWEST", "0"))  # print each page's N slowest queries
PASSWORD = "bench-pages-1"  # noqa: S105 - a throwaway bench account


def seed(n: int) -> dict:
    """The world of one size, by bulk inserts. Returns the users to sign in as."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import (
        Consent,
        Device,
        Enrolment,
        GridZone,
        Membership,
        Meter,
        Organisation,
        Premise,
        VerificationCase,
    )
    from accounts.services import user_create
    from activation.models import DREvent, EventVerification
    from assessment.models import AvailabilityDeclaration, Baseline, FlexibilityAssessment, MeterReading, MeterStatus
    from market.models import Award, MarketOrder, OrderMember

    now = timezone.now()
    day = (now + timedelta(days=1)).date()
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    past = day_start - timedelta(days=2)
    zone = GridZone.objects.create(code="bench-zone", name="Bench zone", timezone="UTC", jurisdiction="US-FERC2222-PJM")
    operator = Organisation.objects.create(name="Bench operator", kind=Organisation.Kind.GRID_OPERATOR)
    operator.service_zones.add(zone)
    agg = Organisation.objects.create(name="Bench aggregator", kind=Organisation.Kind.AGGREGATOR)
    platform = Organisation.objects.create(name="Bench platform", kind=Organisation.Kind.PLATFORM)
    Organisation.objects.filter(pk=agg.pk).update(licence_number="BENCH-LICENCE-1")
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
    segments = [Premise.Segment.RESIDENTIAL] * 8 + [Premise.Segment.COMMERCIAL, Premise.Segment.INDUSTRIAL]
    orgs = Organisation.objects.bulk_create(
        [Organisation(name=f"Household {i:05d}", kind=Organisation.Kind.CONSUMER) for i in range(n)], batch_size=2000
    )
    # the owners' KYC in force (19 in 20; commercial and industrial owners at the basic level their segment does
    # not allow), and the aggregator's KYB: its portfolio per ISO sums the premises it may offer
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
        ]
        + [
            VerificationCase(
                organisation=agg,
                kind=VerificationCase.Kind.KYB,
                level=VerificationCase.Level.ENHANCED,
                legal_name=agg.name,
                status=VerificationCase.Status.VERIFIED,
                verified_until=now + timedelta(days=300),
            )
        ],
        batch_size=2000,
    )
    premises = Premise.objects.bulk_create(
        [
            Premise(
                organisation=o,
                name=f"Home {i:05d}",
                address=f"{i} Bench Street",
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
            MeterStatus(meter=m, validated=True, validated_at=past, connectivity=MeterStatus.Connectivity.ONLINE)
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

    period = SettlementPeriod.objects.create(start=orders[0].delivery_start, end=orders[0].delivery_end)
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
    return users


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


def measure(users) -> dict[tuple[str, str], tuple[int, float, int]]:
    out = {}
    clients = {}
    for role, user in users.items():
        c = Client()
        c.force_login(user)
        clients[role] = c
    for role, url in PAGES:
        c = clients[role]
        c.get(url)  # warm: template loading, kept capacity answers
        with CaptureQueriesContext(connection) as q:
            t0, cpu0 = time.perf_counter(), time.process_time()
            response = c.get(url)
            ms = (time.perf_counter() - t0) * 1000
            cpu = (time.process_time() - cpu0) * 1000
        out[(role, url)] = (len(q.captured_queries), ms, response.status_code, cpu)
        if SLOWEST:
            top = sorted(q.captured_queries, key=lambda x: -float(x["time"]))[:SLOWEST]
            for x in top:
                print(f"  {url} {float(x['time']) * 1000:7.1f} ms  {x['sql'][:160]}")
    return out


def _pg_admin(sql: str) -> None:
    """Run ``sql`` (CREATE/DROP DATABASE) on the server's maintenance database, outside a transaction."""
    import psycopg

    d = settings.DATABASES["default"]
    conninfo = {"dbname": "postgres", "user": d.get("USER") or None, "password": d.get("PASSWORD") or None}
    conninfo |= {"host": d.get("HOST") or None, "port": d.get("PORT") or None}
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v}, autocommit=True) as conn:
        conn.execute(sql)


class SqliteWorld:
    """A migrated template file (``--template`` keeps it between runs) and a fresh copy per size."""

    def __init__(self, template: Path | None):
        self.template = Path(settings.DATABASES["default"]["NAME"])
        if template and template.exists():
            shutil.copy(template, self.template)
        call_command("migrate", verbosity=0)  # nothing to do on an up-to-date template
        connections["default"].close()
        if template and not template.exists():
            shutil.copy(self.template, template)

    def use(self, n: int) -> None:
        path = TMP / f"bench_{n}.sqlite3"
        shutil.copy(self.template, path)
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = str(path)

    def describe(self) -> str:
        return f"SQLite {connection.Database.sqlite_version} (files under {TMP})"

    def finish(self, keep: bool) -> None:
        connections["default"].close()


class PostgresWorld:
    """A migrated template database ``<name>_pages_tpl`` (kept) and a fresh copy ``<name>_pages_<N>`` per size."""

    def __init__(self, template: Path | None):
        self.base = settings.DATABASES["default"]["NAME"]
        self.tpl = f"{self.base}_pages_tpl"
        self.made: list[str] = []
        try:
            _pg_admin(f'CREATE DATABASE "{self.tpl}"')
        except Exception:  # noqa: BLE001,S110 - it exists: migrate brings it up to date
            pass
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = self.tpl
        call_command("migrate", verbosity=0)
        connections["default"].close()

    def use(self, n: int) -> None:
        name = f"{self.base}_pages_{n}"
        connections["default"].close()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.tpl}"')
        self.made.append(name)
        connections["default"].settings_dict["NAME"] = name

    def describe(self) -> str:
        with connection.cursor() as c:
            c.execute("SHOW server_version")
            version = c.fetchone()[0]
        return f"PostgreSQL {version} (databases {', '.join(self.made)})"

    def finish(self, keep: bool) -> None:
        connections["default"].close()
        if not keep:
            for name in self.made:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')


def run_size(n: int, world) -> dict:
    world.use(n)
    t0 = time.perf_counter()
    users = seed(n)
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("ANALYZE")  # what autovacuum does soon after a bulk load: the planner sees the sizes
    print(f"seeded {n} premises in {time.perf_counter() - t0:.1f} s", flush=True)
    return measure(users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000", help="two fleet sizes, comma-separated (default 100,10000)")
    parser.add_argument(
        "--template",
        type=Path,
        help="SQLite: a migrated file to start from (made there if missing; saves the migrate)",
    )
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the seeded databases")
    args = parser.parse_args()
    small, large = (int(s) for s in args.sizes.split(","))
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if engine not in ("sqlite3", "postgresql"):
        raise SystemExit(f"bench_pages runs on SQLite or PostgreSQL, not {engine}")
    world = (SqliteWorld if engine == "sqlite3" else PostgresWorld)(args.template)
    load_before = os.getloadavg()
    results = {n: run_size(n, world) for n in (small, large)}
    load_after = os.getloadavg()
    print(f"\nDatabase: {world.describe()}; in-process django.test.Client")
    print(
        "Load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
        + f"; {os.cpu_count()} CPUs"
    )
    print(
        f"Budget: < {BUDGET_MS:.0f} ms and < {BUDGET_QUERIES} queries at {large}, same queries at {small} and {large}\n"
    )
    head = (
        f"{'role':<10} {'page':<78} {'q@' + str(small):>8} {'q@' + str(large):>9} {'ms@' + str(small):>9}"
        f" {'ms@' + str(large):>10} {'cpu@' + str(large):>10}  ok"
    )
    print(head)
    print("-" * len(head))
    within = 0
    for key in PAGES:
        qa, msa, sa, _ = results[small][key]
        qb, msb, sb, cpub = results[large][key]
        ok = sa == sb == 200 and qa == qb and qb < BUDGET_QUERIES and msb < BUDGET_MS
        within += ok
        status = "" if sa == sb == 200 else f" (HTTP {sa}/{sb})"
        print(
            f"{key[0]:<10} {key[1][:78]:<78} {qa:>8} {qb:>9} {msa:>9.0f} {msb:>10.0f} {cpub:>10.0f}"
            f"  {'yes' if ok else 'NO'}{status}"
        )
    world.finish(args.keep)
    print(f"\npages within budget: {within} of {len(PAGES)}")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
