"""Staking and voting in a real (headless) Chromium: a consumer stakes Governance tokens from the staking page
(field errors for too much and a past date, a preview, then the stake listed with its amount), votes on a
proposal (an error without a choice, a preview with the weight, then the tally shown), and a grid operator is
refused both pages; every page passes axe-core (no serious or critical violations)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

import demo
from accounts import services as accounts_services
from accounts.mfa import totp_activate
from accounts.models import Organisation
from market.tests.factories import stake_deposit
from settlement import assets
from settlement.models import LedgerAccount, Stake, Vote
from settlement.services.governance import proposal_create
from settlement.services.ledger import account_for, journal_post, platform_account

from .browser_support import Watched, axe_violations, chromium, orm, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def voters():
    """A household holding 50 free FLEX-GOV (none staked), a business that staked 100 and proposed a change of the
    penalty rate (quorum 20 % of 100 = 20), and a grid operator signed in by session (ORM work before the
    browser's event loop starts)."""
    house = accounts_services.organisation_create(name="Household Vote", kind=Organisation.Kind.CONSUMER)
    email = "house@vote.flex"
    accounts_services.user_create(email=email, password=demo.PASSWORD, organisation=house, verified=True)
    journal_post(
        business_key="vote-grant",
        memo="tokens granted for the test",
        legs=[
            (platform_account(LedgerAccount.Kind.TREASURY, assets.GOVERNANCE), -D("50")),
            (account_for(organisation=house, kind=LedgerAccount.Kind.PARTICIPANT, asset=assets.GOVERNANCE), D("50")),
        ],
    )
    business = accounts_services.organisation_create(name="Business Vote", kind=Organisation.Kind.CONSUMER)
    stake_deposit(organisation=business, amount=D("100"), business_key="vote-business")
    proposal = proposal_create(
        proposer=business, parameter="penalty_rate", new_value=D("2"), rationale="Shortfalls cost the grid more."
    )
    grid = accounts_services.organisation_create(name="Grid Vote", kind=Organisation.Kind.GRID_OPERATOR)
    operator = accounts_services.user_create(email="op@vote.flex", password=demo.PASSWORD, organisation=grid)
    totp_activate(user=operator, secret=demo.TOTP_SECRET)  # operators use MFA (accounts.mfa)
    client = Client()
    client.force_login(operator)
    return {
        "email": email,
        "house": house,
        "proposal": proposal.pk,
        "operator_session": client.cookies["sessionid"].value,
    }


def test_household_stakes_governance_tokens_and_votes(voters, live_server, chromium):  # noqa: F811
    w = Watched(chromium)
    page, base = w.page, live_server.url
    sign_in(page, base, voters["email"], next_path="/staking/")
    form = "[data-testid=stake-form]"
    assert "Nothing staked yet" in page.locator("[data-testid=stakes]").inner_text()
    assert axe_violations(page) == []

    # Refusals first: more than is held, and a date that has passed, each named on its field; nothing staked.
    page.select_option(f"{form} select[name=asset]", assets.GOVERNANCE)
    page.fill(f"{form} input[name=amount]", "80")
    page.fill(f"{form} input[name=locked_until]", (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d"))
    page.click(f"{form} button[type=submit]")
    assert "You hold 50.00 FLEX-GOV free" in page.locator("#id_amount_error").inner_text()
    assert "Pick a date after today." in page.locator("#id_locked_until_error").inner_text()
    assert axe_violations(page) == []

    # A valid stake: previewed (what stays free, the voting weight it gives), then confirmed and listed.
    until = (timezone.now() + timedelta(days=90)).date()
    page.fill(f"{form} input[name=amount]", "30")
    page.fill(f"{form} input[name=locked_until]", until.isoformat())
    page.click(f"{form} button[type=submit]")
    preview = page.locator("[data-testid=stake-preview]").inner_text()
    assert "30.00 FLEX-GOV" in preview and until.isoformat() in preview and "20.00 FLEX-GOV stays free" in preview
    assert "Your voting weight becomes 30.00 FLEX-GOV" in preview
    assert axe_violations(page) == []
    page.click("[data-testid=confirm-stake]")
    page.wait_for_selector(".messages")
    assert "Staked 30.00 FLEX-GOV until " + until.isoformat() in page.locator(".messages").inner_text()
    row = page.locator("[data-testid=stakes] tbody tr[data-stake]")
    assert row.count() == 1
    assert "30.00 FLEX-GOV" in row.inner_text() and "Locked" in row.inner_text()
    assert orm(lambda: list(Stake.objects.filter(organisation=voters["house"]).values_list("amount", flat=True))) == [
        D("30.00")
    ]

    # Governance: the weight, a vote without a choice refused, then a vote previewed, confirmed and tallied.
    page.click("nav#site-nav a[href='/governance/']")
    assert page.locator("[data-testid=voting-weight]").inner_text() == "30.00 FLEX-GOV"
    pk = voters["proposal"]
    vote_form = f"[data-testid=vote-form-{pk}]"
    assert "Penalty rate" in page.locator(f"tr[data-proposal='{pk}']").inner_text()
    assert axe_violations(page) == []
    page.click(f"{vote_form} button[type=submit]")
    assert "Choose for or against." in page.locator(vote_form).inner_text()
    page.check(f"{vote_form} input[value=for]")
    page.click(f"{vote_form} button[type=submit]")
    assert "with a weight of 30.00 FLEX-GOV" in page.locator("[data-testid=vote-preview]").inner_text()
    assert axe_violations(page) == []
    page.click("[data-testid=confirm-vote]")
    page.wait_for_selector(".messages")
    flash = page.locator(".messages").inner_text()
    assert f"Vote cast on proposal {pk}: for, weight 30.00 FLEX-GOV" in flash
    assert "for 30.00 · against 0.00 · quorum 20.00" in flash
    tally = page.locator(f"[data-testid=tally-{pk}]").inner_text()
    assert "For 30.00" in tally and "Against 0.00" in tally and "Quorum 20.00: reached" in tally
    assert page.locator(f"[data-testid=my-vote-{pk}]").inner_text() == "For (30.00 FLEX-GOV)"
    assert page.locator(vote_form).count() == 0  # one vote per organisation
    assert orm(lambda: list(Vote.objects.filter(proposal_id=pk).values_list("support", "weight"))) == [
        (True, D("30.00"))
    ]
    assert axe_violations(page) == []
    w.clean()


def test_a_grid_operator_may_neither_stake_nor_vote(voters, live_server, chromium):  # noqa: F811
    context = chromium.new_context()
    context.add_cookies([{"name": "sessionid", "value": voters["operator_session"], "url": live_server.url}])
    page = context.new_page()
    for path, reason in (("/governance/", "Voting is for participants."), ("/staking/", "for participants")):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path
        assert page.locator("h1").inner_text() == "You may not open this page"
        assert reason in page.locator("[data-testid=error-reason]").inner_text()
        assert page.locator("[data-testid=stake-form], form.vote").count() == 0
    # and a forged post changes nothing
    response = context.request.post(f"{live_server.url}/governance/", form={"proposal": voters["proposal"]})
    assert response.status == 403
    context.close()
    assert orm(lambda: Vote.objects.count()) == 0
