"""Shared fixtures: a small demo world, API clients per role, and the chain used by the tests."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

import demo


def pytest_collection_modifyitems(config, items):
    """Tests marked ``redis`` need the broker; ``postgres`` tests need DATABASE_URL to point at Postgres."""
    on_pg = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
    for item in items:
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(pytest.mark.skip(reason="needs the Redis broker: set REDIS_URL"))
        if "postgres" in item.keywords and not on_pg:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL"))
        if "mqtt" in item.keywords and not os.environ.get("CI") and not _mqtt_reachable():
            item.add_marker(pytest.mark.skip(reason="needs the MQTT broker (MQTT_HOST:MQTT_PORT); never skipped in CI"))


def _mqtt_reachable() -> bool:
    import socket

    from django.conf import settings

    try:
        with socket.create_connection((settings.MQTT_HOST, settings.MQTT_PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _fresh_snapshots():
    """Each test starts as a new process would: no kept copies of eligibility answers (``flexplatform.snapshots``;
    a rolled-back test's rows may come back under the same ids on SQLite)."""
    from django.core.cache import caches

    from accounts import authentication
    from accounts.selectors.compliance import portfolio_copies_clear
    from flexplatform import snapshots
    from market import parameters as market_parameters
    from market.services import eligibility
    from portal.aggregator_selectors import capacity_copies_clear

    eligibility.clear()
    portfolio_copies_clear()
    capacity_copies_clear()
    authentication._auth_snapshots.clear()
    market_parameters.parameters_forget()
    snapshots.forget_pending()
    caches["default"].clear()  # e.g. the TOTP codes already used (each is accepted once) of a rolled-back user id
    yield


@pytest.fixture
def world(db):
    """The small world's participants, zones and premises without meter history (nothing assessed)."""
    world = demo.world_load(n_residential=3, n_commercial=2, n_industrial=1)
    world.day = demo.market_day()
    return world


@pytest.fixture
def small_world(db):
    """The demo's world, smaller: 3 households (2 via the aggregator), 2 businesses, 1 factory, 21 days of data."""
    world = demo.world_load(n_residential=3, n_commercial=2, n_industrial=1)
    day = demo.market_day()
    demo.history_load(world=world, until=day, days=21)
    world.day = day
    return world


def api_client_for(email: str | None) -> APIClient:
    from django.contrib.auth import get_user_model

    client = APIClient()
    if email is not None:
        client.force_authenticate(get_user_model().objects.get(email=email))
    return client


@pytest.fixture
def api_for():
    return api_client_for
