"""Clearing through a real Celery worker on the Redis broker (not eager): the request posted by the service is
published after commit, consumed by the worker, cleared, and its awards become events, also via the broker."""

from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult
from django.db import connections

import demo
from activation.models import DispatchSignal, DREvent
from assessment.services import flexibility_assess
from flexplatform.celery import app
from market.models import Award, FlexibilityRequest
from market.services import offer_submit, request_submit

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 30


def _close_worker_db_connections(**kwargs):
    """Runs in the worker's thread: leave no open connection behind (the test database is flushed and dropped)."""
    connections.close_all()


@pytest.fixture
def worker():
    """A solo-pool worker in a thread, consuming from the Redis broker, with eager mode off for the test.

    Yields the (task name, task id) of every message published to the broker meanwhile.
    """
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.task_always_eager = False
    app.conf.broker_url = os.environ["REDIS_URL"]
    app.conf.result_backend = os.environ["REDIS_URL"]
    published: list[tuple[str, str]] = []

    def on_publish(sender=None, headers=None, **kwargs):
        published.append((sender, headers["id"]))

    signals.after_task_publish.connect(on_publish, weak=False)
    signals.task_postrun.connect(_close_worker_db_connections, weak=False)
    app.control.purge()  # nothing left over from an earlier run
    try:
        with start_worker(
            app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ):
            yield published
    finally:
        signals.after_task_publish.disconnect(on_publish)
        signals.task_postrun.disconnect(_close_worker_db_connections)
        app.control.purge()
        for key, value in saved.items():
            app.conf[key] = value


def _wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"waited {WAIT_SECONDS} s for {what}")


def test_request_is_cleared_by_a_real_worker_through_the_broker(small_world, worker):
    start, end = demo.event_window(small_world.day)
    household, business = small_world.premises[0], small_world.premises[4]  # both below sub-east-1
    offers = {}
    for premise, price in ((household, Decimal("120.00")), (business, Decimal("90.00"))):
        capacity = flexibility_assess(premise=premise, window_start=start, window_end=end).capacity_kw
        offers[premise.pk] = offer_submit(
            seller=premise.organisation,
            premise=premise,
            zone=premise.grid_zone,
            kw=capacity,
            price_per_mwh=price,
            window_start=start,
            window_end=end,
        )
    want = (offers[business.pk].kw + offers[household.pk].kw / 2).quantize(Decimal("0.001"))
    sub = household.grid_zone.parent

    request = request_submit(
        operator=small_world.operator,
        zone=sub,
        kw=want,
        max_price_per_mwh=Decimal("200.00"),
        window_start=start,
        window_end=end,
    )
    # Not eager: submitting only published the clearing task; the worker clears it.
    clear_ids = [task_id for name, task_id in worker if name == "market.tasks.clear_request"]
    assert len(clear_ids) == 1

    _wait_for(
        lambda: FlexibilityRequest.objects.get(pk=request.pk).status == FlexibilityRequest.Status.CLEARED,
        "the request to be cleared",
    )
    result = AsyncResult(clear_ids[0], app=app)
    run_id = result.get(timeout=WAIT_SECONDS)
    assert result.state == "SUCCESS"
    assert run_id == FlexibilityRequest.objects.get(pk=request.pk).clearing_run.pk

    awards = {a.premise_id: a for a in Award.objects.filter(request=request)}
    assert set(awards) == {household.pk, business.pk}
    assert awards[business.pk].kw == offers[business.pk].kw
    assert awards[household.pk].kw == want - offers[business.pk].kw
    assert {a.clearing_price_per_mwh for a in awards.values()} == {Decimal("120.00")}

    # The worker enqueued one chunk task for the awards on the broker and ran it too (ADR 0043).
    _wait_for(lambda: DREvent.objects.filter(award__request=request).count() == len(awards), "the events")
    event_tasks = [task_id for name, task_id in worker if name == "activation.tasks.create_events_for_awards"]
    assert len(event_tasks) == 1
    assert AsyncResult(event_tasks[0], app=app).get(timeout=WAIT_SECONDS) == len(awards)
    events = DREvent.objects.filter(award__request=request)
    assert {e.premise_id: e.target_kw for e in events} == {pk: a.kw for pk, a in awards.items()}
    assert set(events.values_list("status", flat=True)) == {DREvent.Status.NOTIFIED}
    assert DispatchSignal.objects.filter(event__in=events).count() == len(awards)
