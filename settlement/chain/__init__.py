"""Blockchain integration of settlement: anchoring Merkle roots in the FlexAnchor contract.

Public API (web3 is imported lazily, on the first call that talks to a node):

* :class:`AnchorClient` (``client.py``): one per chain endpoint and key; deploy, anchor, read
  roots, verify proofs on chain; ``http(s)://`` nodes or an in-process ``eth-tester://`` chain.
* :func:`decode_revert` (``errors.py``): name and arguments of a contract revert, for anvil
  and eth-tester alike.
* :class:`AnvilProcess` (``anvil.py``): a local anvil node for development and tests.
* :func:`load_artifact` (``artifact.py``): ABI and bytecode compiled by ``contracts/compile.js``.
"""

from settlement.chain.anvil import ANVIL_DEV_ADDRESS, ANVIL_DEV_KEY, ANVIL_DEV_KEYS, AnvilProcess, free_port
from settlement.chain.artifact import ContractArtifact, ErrorAbi, load_artifact
from settlement.chain.client import (
    AnchorClient,
    AnchoredRoot,
    AnchorEvent,
    AnchorReceipt,
    SignedAnchorTx,
    reset_eth_tester,
)
from settlement.chain.errors import RevertInfo, decode_revert, decode_revert_data
from settlement.chain.token import ClaimEvent, TokenClient

__all__ = [
    "ANVIL_DEV_ADDRESS",
    "ANVIL_DEV_KEY",
    "ANVIL_DEV_KEYS",
    "AnchorClient",
    "AnchorEvent",
    "AnchorReceipt",
    "AnchoredRoot",
    "AnvilProcess",
    "ClaimEvent",
    "ContractArtifact",
    "ErrorAbi",
    "RevertInfo",
    "SignedAnchorTx",
    "TokenClient",
    "decode_revert",
    "decode_revert_data",
    "free_port",
    "load_artifact",
    "reset_eth_tester",
]
