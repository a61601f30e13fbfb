"""The participant's staking and collateral page in a real (headless) Chromium: staked, locked per order and per
award, free, slashed with rule and numbers, and the order form's refusal when collateral is short (ADR 0025)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

import demo
from accounts import services as accounts_services
from activation import services as activation
from activation.tests.factories import verification_make
from market.models import Award, MarketOrder
from market.services.orders import order_submit
from market.tests.factories import DAY, one_owner, qualify, stake_deposit
from settlement.services.collateral import collateral_award_settle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/flex_staking_page.png")  # noqa: S108 - a test artefact to look at
S = DAY + timedelta(hours=11)
E = S + timedelta(minutes=15)
LATER = S + timedelta(hours=1)


@pytest.fixture
def browser(chromium):  # noqa: F811
    return chromium


def _sell(mw, org, members, start, product="spinning_reserve"):
    return order_submit(
        organisation=org,
        market="real_time",
        product=product,
        side="sell",
        zone=mw.iso,
        members=members,
        price_per_mwh=D("100"),
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        now=mw.now,
    ).order


@pytest.fixture
def staker(mw):
    """A business staking 300 FLEX: a filled 120 kW spinning-reserve order (two 60 kW awards; the called one
    delivered 5 % and was settled: slashed 0.1 x 60 = 6 FLEX, released), and an open 100 kW order an hour later.
    Staked 294, locked 60 (the uncalled award) + 100 (the open order) = 160, free 134. ORM work before the
    browser's event loop starts."""
    org, (p3, p4, p5) = one_owner(mw, [3, 4, 5])
    email = "staker@t.flex"
    accounts_services.user_create(email=email, password=demo.PASSWORD, organisation=org, verified=True)
    for p in (p3, p4, p5):
        qualify(p, "spinning_reserve", response_seconds="120", sustain_minutes=30)
    stake_deposit(organisation=org, amount=D("300"), business_key="page")
    filled = _sell(mw, org, [(p3, D("60")), (p4, D("60"))], S)
    order_submit(
        organisation=mw.operator,
        market="real_time",
        product="spinning_reserve",
        side="buy",
        zone=mw.iso,
        kw=D("120"),
        price_per_mwh=D("120"),
        delivery_start=S,
        delivery_end=E,
        now=mw.now,
    )
    called = Award.objects.get(order=filled, premise=p3)
    reservation = activation.reservation_create_for_award(award_id=called.pk)
    operator = accounts_services.user_create(email="op@staking.flex", password="x-pass-123", organisation=mw.operator)
    call = activation.reservation_call(
        reservation_id=reservation.pk, user=operator, target_kw=D("60"), start=S, end=E, now=S - timedelta(minutes=30)
    )
    verification_make(call, [D("0.75")])
    collateral_award_settle(award_id=called.pk, now=DAY + timedelta(days=1))
    # p3 delivered 5 %: its accredited capacity is derated, so the open order pools p4 and p5
    open_order = _sell(mw, org, [(p4, D("50")), (p5, D("50"))], LATER)
    return {"email": email, "org": org, "open": open_order.pk, "called": called.pk, "p4": p4.name}


def test_participant_sees_collateral_and_the_order_forms_refusal_when_short(staker, live_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/staking/")
    page.fill("input[name=login]", staker["email"])
    page.fill("input[name=password]", demo.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/staking/")

    assert page.locator("[data-testid=staked]").inner_text() == "294.00 FLEX"
    assert page.locator("[data-testid=locked]").inner_text() == "160.00 FLEX"
    assert page.locator("[data-testid=free]").inner_text() == "134.00 FLEX"
    assert page.locator("[data-testid=slashed]").inner_text() == "6.00 FLEX"
    orders = page.locator("[data-testid=order-locks] tbody tr")
    assert orders.count() == 1 and "100.00 FLEX" in orders.inner_text() and "premium" in orders.inner_text()
    awards = page.locator("[data-testid=award-locks] tbody tr")
    assert awards.count() == 1 and staker["p4"] in awards.inner_text() and "60.00 FLEX" in awards.inner_text()
    slashes = page.locator("[data-testid=slashes]").inner_text()
    assert "collateral-slash-call-1" in slashes
    assert "delivered 0.75 kWh < 0.5 x 15 kWh committed; slash 0.1 x (60 kW x 1 FLEX/kW = 60 FLEX) = 6.00 FLEX" in (
        slashes
    )
    assert str(staker["called"]) in page.locator("[data-testid=released]").inner_text()

    # the order form: 70 kW with priority activation needs 70 x 2 = 140 FLEX; 134 is free: refused, nothing entered
    form = page.locator("[data-testid=sell-order-form]")
    form.locator("select[name=product]").select_option("congestion")
    form.locator("select[name=zone]").select_option("sub-east-1")
    form.locator("select[name=premise]").select_option(label=staker["p4"])
    form.locator("input[name=kw]").fill("70")
    form.locator("input[name=price_per_mwh]").fill("50")
    form.locator("input[name=delivery_start]").fill("2030-06-03T13:00")
    form.locator("input[name=priority]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    refusal = page.locator(".messages").inner_text()
    assert "Priority activation: 70 kW x 2 FLEX per kW (priority tier) = 140 FLEX of free collateral is needed" in (
        refusal
    )
    assert "294 FLEX is staked, 160 FLEX of it is locked by open orders and unsettled awards, 134 FLEX is free" in (
        refusal
    )
    assert "Stake 6 FLEX more, or offer less." in refusal
    assert page.locator("[data-testid=order-locks] tbody tr").count() == 1
    # 60 kW fits (120 FLEX): entered, and its lock is shown at once
    form = page.locator("[data-testid=sell-order-form]")
    form.locator("input[name=kw]").fill("60")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/staking/")
    assert "entered: 60 kW, 2 FLEX per kW locked" in page.locator(".messages").inner_text()
    assert page.locator("[data-testid=free]").inner_text() == "14.00 FLEX"
    assert page.locator("[data-testid=order-locks] tbody tr").count() == 2
    assert "priority" in page.locator("[data-testid=order-locks]").inner_text()
    assert not errors, errors
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_staking_page_is_for_participants_only(staker, client):
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user(username="nobody@t.flex", email="nobody@t.flex", password="x")
    client.force_login(nobody)  # signed in, no participant role
    assert client.get("/staking/").status_code == 403
    client.force_login(get_user_model().objects.get(email=staker["email"]))
    # another organisation's stake cannot be released from this page
    response = client.post("/staking/", {"release_stake": "999999"}, follow=True)
    assert "Not your stake." in response.content.decode()
    assert MarketOrder.objects.filter(organisation=staker["org"]).count() == 2
