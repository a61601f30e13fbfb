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
    # The aggregator's dashboard shows the same money and the events' performance through the formatting layer.
    import re

    dash = agg.get("/aggregator/").content.decode()
    money = dash[dash.index('data-testid="money"') :]
    money = money[: money.index("</table>")]
    performance = dash[dash.index('data-testid="performance-per-event"') :]
    performance = performance[: performance.index("</table>")]
    assert "Member payouts" in money and "USD" in money  # rows, not the empty state
    assert " kWh" in performance and " kW" in performance
    assert not re.findall(r"\d\.\d{7,}", money + performance)
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


def test_the_admin_runs_a_settlement_window_from_the_pickers_and_a_bad_window_names_its_field():
    from settlement.models import SettlementRun

    platform = Organisation.objects.create(name="Platform", kind=Organisation.Kind.PLATFORM)
    admin = _login(platform, R.ADMIN, "adm")
    refused = admin.post(
        "/compensation/console/",
        {"action": "run", "window_start": "2030-06-03T14:30", "window_end": "2030-06-03T14:00"},
    )
    assert refused.status_code == 400
    assert b"whole UTC hours" in refused.content and b"must end after it starts" in refused.content
    assert not SettlementRun.objects.exists()  # nothing ran
    typed = admin.post("/compensation/console/", {"action": "run", "window_start": "03/06/2030", "window_end": ""})
    assert typed.status_code == 400 and b"Enter a valid date/time" in typed.content
    page = admin.post(
        "/compensation/console/",
        {"action": "run", "window_start": "2026-03-02T00:00", "window_end": "2026-03-03T00:00"},
        follow=True,
    )
    run = SettlementRun.objects.get()
    assert (run.window_start.isoformat(), run.window_end.isoformat()) == (
        "2026-03-02T00:00:00+00:00",
        "2026-03-03T00:00:00+00:00",
    )
    assert f"Run {run.pk}:".encode() in page.content
