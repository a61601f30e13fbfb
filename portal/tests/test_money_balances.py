"""The money page's balances are the ledger's, wherever the tokens are: free, staked, claimable on chain by the
linked wallet, claimed to it; the total is what was earned (issue #15: balances that agree everywhere)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from portal.selectors_money import balances
from settlement import assets
from settlement.services.claims import claims_epoch_close
from settlement.tests.factories import tokens_grant, world_make
from settlement.tests.test_services_claims import chain, key_of, siwe_link  # noqa: F401 - the chain fixture

pytestmark = pytest.mark.django_db


def test_tokens_moved_to_the_wallets_leaf_still_count_on_the_money_page(chain):  # noqa: F811
    w = world_make(n=1)
    [alice] = w.consumers
    tokens_grant(alice, assets.ENERGY, D("12.34"), "a1")
    siwe_link(alice, key_of("alice"))
    claims_epoch_close(client=chain)
    rows = {r["asset"]: r for r in balances(organisations=[alice], currency="USD")}
    energy = rows[assets.ENERGY]
    assert (energy["free"], energy["claimable"], energy["claimed"]) == (D("0"), D("12.34"), D("0"))
    assert "12.34" in energy["claimable_text"] and "12.34" in energy["total_text"]
    assert rows["USD"]["claimable_text"] == rows["USD"]["staked_text"]  # fiat is never on chain: a dash
