"""Every consumer page reads a fixed number of queries whatever the consumer's history (issue #15): measured on the
demo's market day with two past events, then again after 30 more events, each with a payment (a settled penalty) and a notification;
the count must not grow. (Server time is measured by ``bench/bench_consumer_pages.py``, never asserted here.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import demo

from .consumer_pages import CONSUMER_PAGES

pytestmark = pytest.mark.django_db


def _counts(client, paths) -> dict[str, int]:
    out = {}
    for path in paths:
        client.get(path)  # warm: anything a first read computes and keeps
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        out[path] = len(ctx.captured_queries)
    return out


@pytest.mark.postgres  # the page budgets are PostgreSQL's (SQLite, the embedded default, takes other paths)
def test_no_consumer_page_reads_more_queries_as_events_and_payments_accumulate(
    small_world, django_capture_on_commit_callbacks
):
    from accounts.models import NotificationKind
    from accounts.notifications import notifications_create
    from activation.models import DREvent
    from settlement.services.penalties import penalty_settle

    with django_capture_on_commit_callbacks(execute=True):  # the awards' events are created on commit
        demo.market_day_run(world=small_world, day=small_world.day)
    events = DREvent.objects.filter(premise__organisation__kind="consumer").select_related("premise").order_by("pk")
    event = events.filter(verification__isnull=False).first() or events.first()  # verified where the day allows
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
    # A payment's own page shows one item: the bench measures it; here the pages that list history.
    paths = [p.format(event=event.pk, coming=coming.pk) for p in CONSUMER_PAGES if "{payment}" not in p]

    def history(first: int, n: int) -> None:
        """``n`` more past events of the premise, each with a payment (a settled penalty) and a notification."""
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
                for i in range(first, first + n)
            ]
        )
        payee = event.premise.organisation
        for e in extra:
            penalty_settle(event_id=e.pk, payee=payee, amount=Decimal("0.25"), reason="test", business_key=f"t-{e.pk}")
        notifications_create(
            facts=[
                {"organisation_ids": [payee.pk], "kind": NotificationKind.PAYMENT, "key": f"t:{e.pk}", "title": "Paid"}
                for e in extra
            ]
        )

    history(0, 2)  # a little history: every list has rows
    few = _counts(client, paths)
    history(2, 30)
    many = _counts(client, paths)
    grown = {p: (few[p], many[p]) for p in paths if many[p] > few[p]}
    assert grown == {}, f"query counts grew with the history (few, many): {grown}"
    assert max(many.values()) < 20, many
