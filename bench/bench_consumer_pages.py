"""Benchmark: server time and SQL queries of every consumer page on the demo world (after a market day), and
whether the query count grows with the consumer's history: measured with the demo's few events and payments,
then again after 50 more events, each with a payment (a settled penalty) and its notification.

Target (issue #15): every page under 150 ms of server time and under 20 queries; counts flat in the history.
Server time is the Django test client's in-process request (middleware, view, template), median of 5 (wall
clock; "cpu ms" is the process's CPU time over the same request, SQLite included, a steadier figure on a shared
machine). The last line counts the pages within budget (wall time and queries, few and many, and no growth).

    .venv/bin/python bench/bench_consumer_pages.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


def main() -> None:
    db = PROJECT_ROOT / "var" / "bench_consumer_pages.sqlite3"
    db.parent.mkdir(exist_ok=True)
    if db.exists():
        db.unlink()
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexplatform.settings.test")
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    import demo
    from activation.models import DREvent
    from portal.tests.consumer_pages import CONSUMER_PAGES as PAGES

    call_command("migrate", verbosity=0)
    world = demo.world_load(n_residential=3, n_commercial=2, n_industrial=1)
    day = demo.market_day()
    demo.history_load(world=world, until=day, days=21)
    demo.market_day_run(world=world, day=day)
    event = DREvent.objects.filter(verification__isnull=False).select_related("premise").order_by("pk").first()
    owner = event.premise.organisation.memberships.select_related("user").first().user
    coming = DREvent.objects.create(
        premise=event.premise,
        zone=event.premise.grid_zone,
        target_kw=event.target_kw,
        start=timezone.now() + timedelta(hours=3),
        end=timezone.now() + timedelta(hours=4),
        program=event.program,
    )
    client = Client()
    client.force_login(get_user_model().objects.get(pk=owner.pk))
    from settlement.models import SettlementItem

    payment = SettlementItem.objects.filter(payee=event.premise.organisation).order_by("pk").first()

    def measure() -> dict[str, tuple[float, int]]:
        out = {}
        for template in PAGES:
            path = template.format(event=event.pk, coming=coming.pk, payment=payment.pk)
            client.get(path)  # warm
            times, cpu, queries = [], [], 0
            for _ in range(5):
                with CaptureQueriesContext(connection) as ctx:
                    t, c = time.perf_counter(), time.process_time()
                    response = client.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    cpu.append((time.process_time() - c) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                queries = len(ctx.captured_queries)
            out[template] = (statistics.median(times), queries, statistics.median(cpu))
        return out

    before = measure()
    from decimal import Decimal

    from accounts.models import NotificationKind
    from accounts.notifications import notifications_create
    from settlement.services.penalties import penalty_settle

    extra = DREvent.objects.bulk_create(
        [
            DREvent(
                premise=event.premise,
                zone=event.premise.grid_zone,
                target_kw=event.target_kw,
                start=event.start - timedelta(days=i + 1),
                end=event.end - timedelta(days=i + 1),
                program=event.program,
                status=DREvent.Status.COMPLETED,
            )
            for i in range(50)
        ]
    )
    payee = event.premise.organisation
    for e in DREvent.objects.filter(pk__in=[x.pk for x in extra]).order_by("pk"):
        penalty_settle(event_id=e.pk, payee=payee, amount=Decimal("0.25"), reason="bench", business_key=f"bench-{e.pk}")
    notifications_create(
        facts=[
            {
                "organisation_ids": [payee.pk],
                "kind": NotificationKind.EVENT_SCHEDULED,
                "key": f"bench:{e.pk}",
                "title": "Bench",
            }
            for e in extra
        ]
    )
    after = measure()
    events = DREvent.objects.filter(premise=event.premise).count()
    print(f"consumer pages of {owner.email} (few: the demo's history; many: {events} events, +50 payments)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (cpu ms: this process's CPU)")
    print(f"{'page':45s} {'ms':>7s} {'cpu ms':>7s} {'queries':>8s} {'ms many':>8s} {'cpu many':>8s} {'q many':>7s}")
    worst_ms = worst_q = 0
    within = 0
    for template in PAGES:
        ms, q, cpu = before[template]
        ms2, q2, cpu2 = after[template]
        worst_ms, worst_q = max(worst_ms, ms, ms2), max(worst_q, q, q2)
        ok = max(ms, ms2) < 150 and max(q, q2) < 20 and q2 <= q
        within += ok
        flag = "" if q2 <= q else "  <- grows"
        flag += "" if ok else "  <- over budget"
        print(f"{template:45s} {ms:7.1f} {cpu:7.1f} {q:8d} {ms2:8.1f} {cpu2:8.1f} {q2:7d}{flag}")
    print(f"worst: {worst_ms:.1f} ms, {worst_q} queries (targets: < 150 ms, < 20 queries, flat)")
    print(f"consumer pages within budget: {within} of {len(PAGES)}")


if __name__ == "__main__":
    main()
