"""Portal pages: participants see earnings, tokens, disputes; admins the console; wrong roles refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.mfa import totp_activate  # noqa: E402
from accounts.models import Membership, Organisation
from demo import TOTP_SECRET  # noqa: E402
from settlement.models import AggregatorAgreement, Dispute, SettlementItem
from settlement.services.runs import settlement_run_execute
from settlement.tests.factories import DAY, NOW, contract_make, event_make, readings_make, world_make

pytestmark = pytest.mark.django_db
R = Membership.Role


def _login(org, role, name):
    user = get_user_model().objects.create(username=name, email=f"{name}@x.test")
    Membership.objects.create(user=user, organisation=org, role=role)
    if role in (R.ADMIN, R.GRID_OPERATOR):  # MFA is required for them
        totp_activate(user=user, secret=TOTP_SECRET)
    c = Client()
    c.force_login(user)
    return c


def test_participant_page_console_and_dispute_form():
    w = world_make(n=2, aggregator_members=2)
    AggregatorAgreement.objects.create(aggregator=w.aggregator, fee_percent=D("10"))
    for p in w.premises:
        readings_make(p, day=DAY)
        event_make(w, p, start=DAY + timedelta(hours=10), price=D("100"), target_kw=D("1"), delivered=[D("0.25")] * 4)
    contract_make(w, w.aggregator, kw="4", rate="1")
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    consumer = _login(w.consumers[0], R.CONSUMER, "c")
    page = consumer.get("/compensation/")
    assert page.status_code == 200
    assert b"earnings-data" in page.content and b"FLEX-GOV" in page.content and b"Statements" in page.content
    item = SettlementItem.objects.filter(payee=w.consumers[0]).first()
    consumer.post("/compensation/", {"dispute_item": item.pk, "reason": "too low"})
    assert Dispute.objects.get().item == item
    agg = _login(w.aggregator, R.AGGREGATOR, "a")
    page = agg.get("/compensation/")
    assert b"Member payouts" in page.content and b"Aggregator fees" in page.content
    assert consumer.get("/compensation/console/").status_code == 403
    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = _login(platform, R.ADMIN, "adm")
    console = admin.get("/compensation/console/")
    assert console.status_code == 200 and b"too low" in console.content
    admin.post(
        "/compensation/console/",
        {"action": "resolve", "dispute": Dispute.objects.get().pk, "uphold": "0", "resolution": "correct"},
    )
    assert Dispute.objects.get().status == Dispute.Status.REJECTED
    assert admin.get("/compensation/").status_code == 403
