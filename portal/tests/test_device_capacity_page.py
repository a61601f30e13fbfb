"""The per-device capacity breakdown in the portal (ADR 0029): the owner and the aggregator see it, others not."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

import demo
from accounts.models import Premise
from assessment.services import flexibility_assess


def _client(email):
    c = Client()
    c.force_login(get_user_model().objects.get(email=email))
    return c


@pytest.mark.django_db
def test_the_owner_and_the_aggregator_see_each_devices_kw_an_operator_does_not(small_world):
    premise = Premise.objects.get(name="Household 02 site")  # enrolled with the aggregator
    start, end = demo.event_window(small_world.day)
    assessed = flexibility_assess(premise=premise, window_start=start, window_end=end)
    owner = premise.organisation.memberships.first().user.email
    for email in (owner, "aggregator@demo.flex"):
        page = _client(email).get("/devices/capacity/")
        assert page.status_code == 200
        body = page.content.decode()
        assert f'data-testid="premise-{premise.pk}"' in body and f"{assessed.capacity_kw} kW" in body
        for row in assessed.breakdown:
            assert row["name"] in body
    assert _client("operator@demo.flex").get("/devices/capacity/").status_code == 403
