"""Checking a payment's proof bundle against the platform's **published** anchoring deployment.

A bundle is valid only when all of these hold (docs/verifying-payments.md):

1. it names the published contract and chain (``selectors.anchor_publication``): anyone can deploy their own
   FlexAnchor and anchor a made-up root, so a bundle pointing elsewhere proves nothing;
2. its leaf values hash to its leaf (OpenZeppelin ``StandardMerkleTree`` leaf) and carry the claimed period;
3. the published contract holds a root for the period, written by a ``RootAnchored`` log of that same contract
   (read from the deployment block on);
4. the contract's ``verify(period, proof, leaf)`` accepts the proof.

The answer says in words what was verified (payment, amount, asset, participant, period) or why not. An
unreachable chain node is a :class:`ChainUnavailable` (503), never a server error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import status

from flexplatform.errors import ApplicationError, NotFound

from ..errors import SettlementError
from ..merkle import leaf_hash, verify_proof
from ..merkle_leaves import parse_leaf_value
from ..selectors import anchor_publication

UINT64_MAX = 2**64 - 1


class ChainUnavailable(ApplicationError):
    """The chain node cannot be asked right now: the answer is "try later", not "invalid"."""

    code = SettlementError.CHAIN_UNAVAILABLE
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def chain_errors() -> tuple[type[BaseException], ...]:
    """What a node that is down or misbehaving raises (requests' errors are ``OSError``s)."""
    from web3.exceptions import Web3Exception

    return (OSError, ConnectionError, TimeoutError, Web3Exception)


def _bytes32(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def asset_name(code: bytes) -> str:
    """The asset's ticker from its ``bytes32`` code (ASCII, right-padded with zero bytes)."""
    try:
        return code.rstrip(b"\0").decode("ascii") or "?"
    except UnicodeDecodeError:
        return "0x" + code.hex()


def _described(values: tuple) -> dict[str, Any]:
    item_id, participant, asset, amount_minor, period = values
    asset_text = asset_name(asset)
    amount = (Decimal(amount_minor) / 100).quantize(Decimal("0.01"))
    start = datetime.fromtimestamp(period, tz=UTC).isoformat() if 0 <= period <= 253402300799 else str(period)
    return {
        "item_id": item_id,
        "participant": "0x" + participant.hex(),
        "asset": asset_text,
        "amount": str(amount),
        "amount_minor": str(amount_minor),
        "period": period,
        "period_start": start,
        "text": f"payment {item_id} of {amount} {asset_text} to participant 0x{participant.hex()} "
        f"for the hour starting {start}",
    }


def _verdict(*, valid: bool, reasons: list[str], what: dict | None, publication: dict, **facts: Any) -> dict:
    where = f"the platform's contract {publication['contract_address']} on chain {publication['chain_id']}"
    if valid and what is not None:
        summary = f"VALID: {what['text']} is part of the root anchored by {where}."
    else:
        subject = what["text"] if what else "this bundle"
        summary = f"NOT VALID: {subject} could not be verified against {where}. " + " ".join(reasons)
    return {
        "valid": valid,
        "summary": summary,
        "reasons": reasons,
        "verified": what if valid else None,
        "claimed": what,
        "published": publication,
        "chain_id": publication["chain_id"],
        "contract_address": publication["contract_address"],
        **facts,
    }


def proof_verify_on_chain(
    *,
    period: int,
    leaf: str,
    proof: list[str],
    leaf_values: list[str] | None = None,
    contract_address: str | None = None,
    chain_id: int | None = None,
) -> dict:
    """Verify a proof bundle against the published deployment; returns the verdict in words and facts."""
    publication = anchor_publication()
    if publication is None:
        raise NotFound("The platform has not published an anchoring contract yet.", code=SettlementError.NO_DEPLOYMENT)
    reasons: list[str] = []
    what = None
    if not leaf_values:
        raise ApplicationError(
            "The bundle has no leaf values: without them nothing says what the proof is about.",
            fields={"leaf_values": ["This field is required."]},
        )
    leaf_b = _bytes32(leaf)
    proof_b = [_bytes32(p) for p in proof]
    leaf_matches_values = False
    try:
        values = parse_leaf_value(list(leaf_values))
    except (ValueError, TypeError, OverflowError):
        reasons.append("Its leaf values are not a valid (item id, participant, asset, amount, period) leaf.")
    else:
        what = _described(values)
        leaf_matches_values = leaf_hash(values) == leaf_b
        if not leaf_matches_values:
            reasons.append("Its leaf values do not hash to its leaf: the values were edited.")
        if values[4] != period:
            reasons.append(f"Its leaf values are for period {values[4]}, the bundle claims period {period}.")
    published_address = publication["contract_address"]
    if contract_address and contract_address.lower() != published_address.lower():
        reasons.append(
            f"It names the contract {contract_address}, which is not the platform's published anchoring contract "
            f"{published_address}: anyone can deploy a copy of the contract and anchor any root in it."
        )
    if chain_id is not None and chain_id != publication["chain_id"]:
        reasons.append(f"It names chain {chain_id}; the platform anchors on chain {publication['chain_id']}.")
    facts = _on_chain_facts(publication=publication, period=period, leaf=leaf_b, proof=proof_b, reasons=reasons)
    valid = not reasons
    return _verdict(
        valid=valid,
        reasons=reasons,
        what=what,
        publication=publication,
        leaf_matches_values=leaf_matches_values,
        **facts,
    )


def _on_chain_facts(*, publication: dict, period: int, leaf: bytes, proof: list[bytes], reasons: list[str]) -> dict:
    """Ask the published contract (only it) about ``period``; appends to ``reasons`` what fails."""
    from .anchoring import chain_client

    try:
        client = chain_client().with_key(settings.CHAIN_PRIVATE_KEY)  # a private copy: the shared one stays
        if client.chain_id != publication["chain_id"]:
            raise ChainUnavailable(
                f"The platform's chain node is on chain {client.chain_id}, not the published chain "
                f"{publication['chain_id']}: proofs cannot be checked right now."
            )
        client.contract_address = client.w3.to_checksum_address(publication["contract_address"])
        if not client.w3.eth.get_code(client.contract_address):
            raise ChainUnavailable(
                f"The published contract {publication['contract_address']} is not on the chain node the platform "
                "reads: proofs cannot be checked right now."
            )
        root = client.root_of(period)
        event = None
        if root != bytes(32):
            event = client.anchor_event(period, from_block=publication["deployment_block"] or 0)
        on_chain = client.verify(period, proof, leaf) if root != bytes(32) else False
    except chain_errors() as exc:
        raise ChainUnavailable(
            f"The chain node cannot be reached ({type(exc).__name__}); the proof cannot be checked right now. "
            "Try again later, or check the bundle yourself with docs/verify_bundle.py on any node of the chain."
        ) from exc
    if root == bytes(32):
        reasons.append(f"The published contract holds no root for period {period}: it is not anchored (yet).")
    elif event is None or event.root != root:
        reasons.append(f"No RootAnchored log of the published contract anchors period {period}'s root.")
    elif not on_chain:
        reasons.append("The contract's verify() refuses the proof: this leaf is not in the anchored root.")
    return {
        "verified_on_chain": on_chain,
        "root_on_chain": "0x" + root.hex(),
        "leaf_count": event.leaf_count if event else 0,
        "anchored_in_block": event.block_number if event else None,
        "anchor_tx_hash": event.tx_hash if event else None,
        "locally_valid": verify_proof(root, leaf, proof),
    }


def _field_error(name: str, message: str) -> ApplicationError:
    return ApplicationError("The proof bundle has invalid fields.", fields={name: [message]})


def proof_bundle_verify(*, bundle: Any) -> dict:
    """Verify a bundle as downloaded (a parsed JSON object), checking its shape first (for the /verify/ page)."""
    import re

    if not isinstance(bundle, dict):
        raise ApplicationError("A proof bundle is a JSON object.")
    hex32 = re.compile(r"0x[0-9a-fA-F]{64}\Z")
    period = bundle.get("period")
    if isinstance(period, bool) or not isinstance(period, int) or not 0 <= period <= UINT64_MAX:
        raise _field_error("period", "The period must be an integer from 0 to 2^64-1.")
    leaf = bundle.get("leaf")
    if not isinstance(leaf, str) or not hex32.match(leaf):
        raise _field_error("leaf", "The leaf must be 0x and 64 hex digits.")
    proof = bundle.get("proof")
    if not isinstance(proof, list) or not all(isinstance(p, str) and hex32.match(p) for p in proof):
        raise _field_error("proof", "The proof must be a list of 0x and 64 hex digits.")
    values = bundle.get("leaf_values")
    if not values:
        raise _field_error("leaf_values", "The bundle has no leaf values: nothing says what it proves.")
    if not isinstance(values, list) or len(values) != 5 or not all(isinstance(v, str | int) for v in values):
        raise _field_error("leaf_values", "The leaf values must be a list of the 5 values of the leaf.")
    address = bundle.get("contract_address")
    if address is not None and (not isinstance(address, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", address)):
        raise _field_error("contract_address", "The contract address must be 0x and 40 hex digits.")
    chain_id = bundle.get("chain_id")
    if chain_id is not None and (isinstance(chain_id, bool) or not isinstance(chain_id, int)):
        raise _field_error("chain_id", "The chain id must be an integer.")
    return proof_verify_on_chain(
        period=period,
        leaf=leaf,
        proof=proof,
        leaf_values=[str(v) for v in values],
        contract_address=address,
        chain_id=chain_id,
    )
