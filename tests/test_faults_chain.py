"""Fault: the chain node restarted WITHOUT its state (anvil on its own port, same URL and chain id, a new genesis
and no contract). The platform must see that its deployment is gone, raise an alert for every period anchored
there, stop reporting those periods as anchored, and anchor new periods on a new deployment only."""

from __future__ import annotations

import pytest

from settlement.chain import AnchorClient, AnvilProcess, free_port
from settlement.chain.anvil import anvil_binary
from settlement.models import AnchorAlert, ChainDeployment, PeriodAnchor, SettlementItem
from settlement.selectors import item_proof
from settlement.services import anchoring
from settlement.services.anchoring import chain_client, period_number, periods_anchor_closed
from settlement.services.audit import anchors_audit
from settlement.tests.anchoring_helpers import closed_hours, items_create

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


@pytest.fixture
def node_port(settings):
    if not anvil_binary().is_file():
        pytest.skip(f"anvil binary not found at {anvil_binary()} (run `npm ci`)")
    port = free_port()
    settings.CHAIN_RPC_URL = f"http://127.0.0.1:{port}"
    anchoring._client.cache_clear()
    yield port
    anchoring._client.cache_clear()


@pytest.mark.parametrize(
    ("genesis_moved", "reason"),
    [(True, "genesis block is now"), (False, "no contract code")],
    ids=["new-genesis", "same-genesis-no-code"],
)
def test_chain_restarted_without_state_is_detected_and_old_periods_are_not_reported_anchored(
    node_port, genesis_moved, reason
):
    """Anvil's genesis carries its start time: restarted within the same second (``--timestamp`` pins it here)
    the chain looks the same, and only the missing contract code tells."""
    hours = closed_hours(3)
    items_create(hours[:2])
    genesis_at = int(hours[0].timestamp())
    with AnvilProcess(port=node_port, extra_args=("--timestamp", str(genesis_at))):
        assert [a.status for a in periods_anchor_closed(wait=True)] == ["confirmed", "confirmed"]
        old = ChainDeployment.objects.get()
        old_genesis = chain_client().block_hash(0)
    old_anchors = list(PeriodAnchor.objects.order_by("period__start"))

    restart_at = genesis_at + 1 if genesis_moved else genesis_at
    # Same URL and chain id; no contract, no roots.
    with AnvilProcess(port=node_port, extra_args=("--timestamp", str(restart_at))):
        client = chain_client()
        assert (client.block_hash(0) != old_genesis) is genesis_moved
        items_create([hours[2]])
        anchored = periods_anchor_closed(wait=True)

        old.refresh_from_db()
        assert old.lost_at is not None and reason in old.lost_reason
        alerts = AnchorAlert.objects.filter(kind=AnchorAlert.Kind.DEPLOYMENT_LOST, resolved_at=None)
        assert sorted(a.anchor_id for a in alerts) == [a.pk for a in old_anchors]
        for anchor in old_anchors:
            anchor.refresh_from_db()
            assert anchor.status == PeriodAnchor.Status.LOST  # not "confirmed": nothing proves it on this chain
            assert client.root_of(period_number(anchor.period)) == bytes(32)  # ... and it was not re-anchored
            item = SettlementItem.objects.filter(period=anchor.period).first()
            assert item_proof(item=item)["status"] == "lost"

        # New periods go on a new deployment, recorded with the new chain's genesis.
        new = ChainDeployment.objects.exclude(pk=old.pk).get()
        assert new.lost_at is None and new.genesis_hash == client.block_hash(0)
        assert [(a.period.start, a.status, a.deployment_id) for a in anchored] == [(hours[2], "confirmed", new.pk)]
        onchain = AnchorClient(client.rpc_url, client._private_key, new.address)
        assert "0x" + onchain.root_of(period_number(anchored[0].period)).hex() == anchored[0].root

        # The audit checks the live anchor only; a second run changes nothing and piles up no alerts.
        audit = anchors_audit()
        assert audit.checked == 1 and audit.alerts == []
        assert periods_anchor_closed() == []
        assert AnchorAlert.objects.filter(resolved_at=None).count() == len(old_anchors)
        assert ChainDeployment.objects.count() == 2
