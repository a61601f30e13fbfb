"""Fixtures for activation: a small world without meter history, programs and enrollments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

import demo
from accounts.models import Premise
from activation import openadr_services as oadr
from activation import services
from activation.models import Program, Ven


@dataclass
class ActWorld:
    world: demo.World
    premises: list[Premise]
    program: Program
    emergency: Program
    now: datetime

    def user(self, email):
        return get_user_model().objects.get(email=email)


@pytest.fixture
def act_world(db):
    world = demo.world_load(n_residential=3, n_commercial=2, n_industrial=1)
    premises = list(Premise.objects.order_by("id"))
    program = services.program_create(
        code="peak-saver",
        name="Peak saver",
        notice_minutes=30,
        max_events_per_day=1,
        max_events_per_month=3,
        penalty_rate_per_mwh=Decimal("200.00"),
        opt_out_consequence=Program.OptOutConsequence.PENALTY,
    )
    emergency = services.program_create(
        code="emergency-east",
        name="Emergency",
        kind=Program.Kind.EMERGENCY,
        notice_minutes=0,
        max_events_per_day=3,
        max_events_per_month=10,
    )
    for i, p in enumerate(premises):
        committed = {"residential": Decimal("3"), "commercial": Decimal("40"), "industrial": Decimal("200")}[p.segment]
        services.enrollment_create(
            program=program, premise=p, committed_kw=committed, tier=1 if i % 2 == 0 else 2, response_minutes=10
        )
        services.enrollment_create(program=emergency, premise=p, committed_kw=committed * 2, safety_max_kw=committed)
    # A weekday noon in the future, so windows are ahead of "now".
    now = datetime(2031, 6, 10, 12, 0, tzinfo=UTC)
    return ActWorld(world=world, premises=premises, program=program, emergency=emergency, now=now)


def window(now, minutes_ahead=60, hours=2):
    start = now + timedelta(minutes=minutes_ahead)
    return start, start + timedelta(hours=hours)


def ven_client(ven_name, client_id, organisation, premise=None) -> tuple[APIClient, Ven]:
    ven = oadr.ven_register(
        ven_name=ven_name, client_id=client_id, client_secret="s3cret-s3cret", organisation=organisation
    )
    if premise is not None:
        oadr.ven_resource_upsert(
            ven=ven, resource_name=f"{ven_name}-site", attributes=[{"type": "PREMISE_ID", "values": [premise.pk]}]
        )
    token, _ = oadr.ven_token_issue(client_id=client_id, client_secret="s3cret-s3cret")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client, ven


@pytest.fixture
def two_vens(act_world, api_for):
    """VEN A (the aggregator's, for premise 1) and VEN B (the business's own, for premise 3), one event each."""
    w = act_world
    mine, theirs = w.premises[1], w.premises[3]
    a, ven_a = ven_client("ven-a", "client-a", w.world.aggregator, mine)
    b, ven_b = ven_client("ven-b", "client-b", theirs.organisation, theirs)
    now = timezone.now()
    # Tomorrow 12:00 local (the API checks notice against the real clock): revisions by a few minutes stay on the
    # event's local day whatever time the suite runs.
    noon = (now.astimezone(ZoneInfo(mine.timezone)) + timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    events = [
        services.event_create(
            program=w.program,
            premise=p,
            target_kw=Decimal("2"),
            start=noon,
            end=noon + timedelta(hours=1),
            now=now,
        )
        for p in (mine, theirs)
    ]
    return w, a, ven_a, b, ven_b, events, api_for("operator@demo.flex")
