"""Checking a payment's Merkle proof: locally, and through the anchoring contract's ``verify`` view."""

from __future__ import annotations

from django.conf import settings

from flexplatform.errors import NotFound

from ..merkle import leaf_hash, verify_proof
from ..models import ChainDeployment


def _bytes32(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def proof_verify_on_chain(
    *,
    period: int,
    leaf: str,
    proof: list[str],
    contract_address: str | None = None,
    leaf_values: list[str] | None = None,
) -> dict:
    """Ask the chain whether ``leaf`` with ``proof`` belongs to the root anchored for ``period``.

    When ``leaf_values`` are given, the leaf is also recomputed from them, so a bundle whose values were
    edited fails even if its leaf hash was left alone.
    """
    from .anchoring import chain_client

    leaf_b = _bytes32(leaf)
    proof_b = [_bytes32(p) for p in proof]
    leaf_matches_values = None
    if leaf_values is not None:
        try:
            values = (
                int(leaf_values[0]),
                _bytes32(leaf_values[1]),
                _bytes32(leaf_values[2]),
                int(leaf_values[3]),
                int(leaf_values[4]),
            )
            leaf_matches_values = leaf_hash(values) == leaf_b
        except (ValueError, TypeError, IndexError):  # malformed values cannot match any leaf
            leaf_matches_values = False
    client = chain_client()
    # A public endpoint: read the known deployment, never deploy (that would spend gas on a visitor's request).
    deployment = ChainDeployment.objects.filter(chain_id=client.chain_id, lost_at=None).order_by("-id").first()
    address = contract_address or (deployment.address if deployment else None)
    if address is None:
        raise NotFound("No anchoring contract is known on this chain.")
    client = client.with_key(settings.CHAIN_PRIVATE_KEY)  # a private copy: the shared client stays as it is
    client.contract_address = address
    if not client.w3.eth.get_code(client.w3.to_checksum_address(address)):
        raise NotFound(f"No contract at {address} on chain {client.chain_id}.")
    root = client.root_of(period)
    leaf_count = client.leaf_count_of(period) if root != bytes(32) else 0
    on_chain = client.verify(period, proof_b, leaf_b)
    valid = on_chain and leaf_matches_values is not False
    return {
        "valid": valid,
        "verified_on_chain": on_chain,
        "leaf_matches_values": leaf_matches_values,
        "root_on_chain": "0x" + root.hex(),
        "leaf_count": leaf_count,
        "locally_valid": verify_proof(root, leaf_b, proof_b),
        "chain_id": client.chain_id,
        "contract_address": address,
    }
