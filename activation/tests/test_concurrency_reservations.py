"""Races on real PostgreSQL: parallel calls of one reservation never exceed it; a doubly delivered award makes one
reservation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection

from activation import services
from activation.models import DREvent, Reservation
from flexplatform.errors import ApplicationError
from market.tests.test_concurrency import run_parallel

from .test_services_reservations import _award

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_calls_never_exceed_the_reserved_kw(act_world):
    assert connection.vendor == "postgresql"
    w = act_world
    award = _award(w, w.premises[5], kw="150")
    rs = run_parallel([lambda: services.award_activate(award_id=award.pk)] * 2)
    assert all(isinstance(r, Reservation) for r in rs) and rs[0].pk == rs[1].pk
    assert Reservation.objects.count() == 1
    r = rs[0]
    operator = w.user("operator@demo.flex")

    def call(offset):
        start = r.window_start + timedelta(minutes=offset)
        return services.reservation_call(
            reservation_id=r.pk,
            user=operator,
            target_kw=D("100"),
            start=start,
            end=start + timedelta(hours=1),
            now=w.now,
        )

    results = run_parallel([lambda: call(15), lambda: call(30)])
    made = [x for x in results if isinstance(x, DREvent)]
    refused = [x for x in results if isinstance(x, ApplicationError)]
    assert len(made) == 1 and len(refused) == 1 and refused[0].code == "above_reserved"
    assert list(DREvent.objects.filter(reservation=r).values_list("target_kw", flat=True)) == [D("100.000")]
