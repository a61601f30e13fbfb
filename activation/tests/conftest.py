"""Fixtures for activation: a small world without meter history, programs and enrollments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Premise
from activation import services
from activation.models import Program
from flexplatform import demo


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
