"""Web3 client for the FlexAnchor contract: deploy, anchor settlement roots, read and verify them.

One :class:`AnchorClient` per chain endpoint and signing key, built from an RPC URL:

* ``http://...`` / ``https://...``: a JSON-RPC node (anvil in development, an L2 or mainnet
  node in production) through web3's ``HTTPProvider``;
* ``eth-tester://`` or ``eth-tester://<name>``: an in-process py-evm chain (``prague`` rules,
  matching the compiled bytecode). Every client built with the same URL in one process shares
  the same chain, so a contract deployed by one client is seen by the next;
  :func:`reset_eth_tester` forgets them. The signing key's account is funded from eth-tester's
  prefunded accounts on first use.

Transactions are EIP-1559 (type 2), signed locally with the client's private key; the node
never holds a key. Gas is estimated by the node (which also surfaces reverts such as
``PeriodAlreadyAnchored`` before anything is sent, see :mod:`settlement.chain.errors`) and
given a margin. web3 is imported on first use, not at import time (it takes about a second).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from settlement.chain.artifact import load_artifact

if TYPE_CHECKING:  # pragma: no cover
    from eth_account.signers.local import LocalAccount
    from web3 import Web3
    from web3.contract import Contract

__all__ = [
    "AnchorClient",
    "AnchorEvent",
    "AnchorReceipt",
    "AnchoredRoot",
    "SignedAnchorTx",
    "reset_eth_tester",
]

ETH_TESTER_SCHEME = "eth-tester"
DEFAULT_PRIORITY_FEE = 10**9  # 1 gwei, when the node cannot suggest one
ETH_TESTER_FUNDING = 100 * 10**18  # wei given to a key on an in-process chain


def _hex(value: bytes | bytearray | str) -> str:
    if isinstance(value, str):
        return value if value.startswith("0x") else "0x" + value
    return "0x" + bytes(value).hex()


def log_position(log: Any) -> dict[str, Any]:
    """Where a decoded event log sits on the chain (block number and hash, transaction, log index): the fields
    every event record of ours carries, so that a reorg can be detected by the block hash."""
    return {
        "block_number": int(log["blockNumber"]),
        "block_hash": _hex(bytes(log["blockHash"])),
        "tx_hash": _hex(bytes(log["transactionHash"])),
        "log_index": int(log["logIndex"]),
    }


def _bytes32(value: bytes | str, name: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value.startswith("0x") else value) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"{name} must be 32 bytes")
    return raw


@dataclass(frozen=True)
class AnchorReceipt:
    """Outcome of a mined transaction. ``status`` is 1 for success, 0 for a reverted transaction."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    status: int

    @property
    def succeeded(self) -> bool:
        return self.status == 1


@dataclass(frozen=True)
class SignedAnchorTx:
    """A signed, not yet sent, ``anchor`` transaction (EIP-1559)."""

    raw: bytes
    tx_hash: str
    nonce: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    chain_id: int

    @property
    def raw_hex(self) -> str:
        return _hex(self.raw)


class AnchoredRoot(NamedTuple):
    """A period's root (``rootOf``) with its leaf count and block number (from the ``RootAnchored``
    log); all zero when the period is not anchored."""

    root: bytes
    leaf_count: int
    anchored_at: int

    @property
    def anchored(self) -> bool:
        return self.root != bytes(32)


@dataclass(frozen=True)
class AnchorEvent:
    """A ``RootAnchored`` log."""

    period: int
    root: bytes
    leaf_count: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


# In-process eth-tester chains by URL name, shared by the clients of one process.
_ETH_TESTER_CHAINS: dict[str, Web3] = {}
_ETH_TESTER_LOCK = threading.Lock()


def reset_eth_tester(name: str | None = None) -> None:
    """Forget the in-process chain ``name`` (all of them when ``None``)."""
    with _ETH_TESTER_LOCK:
        if name is None:
            _ETH_TESTER_CHAINS.clear()
        else:
            _ETH_TESTER_CHAINS.pop(name, None)


def _eth_tester_web3(name: str) -> Web3:
    with _ETH_TESTER_LOCK:
        w3 = _ETH_TESTER_CHAINS.get(name)
        if w3 is None:
            from eth_tester import EthereumTester, PyEVMBackend
            from web3 import EthereumTesterProvider, Web3

            # PyEVMBackend's default VM configuration is PragueVM from genesis.
            w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
            _ETH_TESTER_CHAINS[name] = w3
        return w3


def _http_web3(url: str, timeout: float) -> Web3:
    from web3 import Web3

    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))


class AnchorClient:
    """FlexAnchor access for one chain endpoint, signing with one private key."""

    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        contract_address: str | None = None,
        *,
        timeout: float = 30.0,
        gas_margin: float = 1.25,
        poll_latency: float = 0.05,
    ) -> None:
        scheme = urlsplit(rpc_url).scheme
        if scheme not in ("http", "https", ETH_TESTER_SCHEME):
            raise ValueError(f"unsupported RPC URL {rpc_url!r}: use http(s):// or eth-tester://")
        key_hex = private_key[2:] if private_key.startswith("0x") else private_key
        if len(key_hex) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key_hex):
            raise ValueError("private_key must be 32 bytes of hex")
        self.rpc_url = rpc_url
        self._private_key = private_key
        self.contract_address = contract_address
        self.timeout = timeout
        self.gas_margin = gas_margin
        self.poll_latency = poll_latency
        self._web3: Web3 | None = None
        self._account: LocalAccount | None = None
        self._chain_id: int | None = None
        self.deploy_receipt: AnchorReceipt | None = None  # of the last deploy() by this client

    def __repr__(self) -> str:  # never shows the key, nor URL paths/credentials (API keys live there)
        parts = urlsplit(self.rpc_url)
        return f"<AnchorClient {parts.scheme}://{parts.hostname or parts.netloc} contract={self.contract_address}>"

    # -- connection ----------------------------------------------------------------------------

    @property
    def is_eth_tester(self) -> bool:
        return urlsplit(self.rpc_url).scheme == ETH_TESTER_SCHEME

    @property
    def w3(self) -> Web3:
        """The web3 instance (built, and web3 imported, on first use)."""
        if self._web3 is None:
            if self.is_eth_tester:
                parts = urlsplit(self.rpc_url)
                self._web3 = _eth_tester_web3(parts.netloc + parts.path or "default")
                self._fund_on_eth_tester()
            else:
                self._web3 = _http_web3(self.rpc_url, self.timeout)
        return self._web3

    @property
    def account(self) -> LocalAccount:
        if self._account is None:
            from eth_account import Account

            self._account = Account.from_key(self._private_key)
        return self._account

    @property
    def address(self) -> str:
        """Checksummed address of the signing key."""
        return str(self.account.address)

    def with_key(self, private_key: str) -> AnchorClient:
        """Another client on the same endpoint and contract, signing with ``private_key``."""
        other = type(self)(  # the subclass (TokenClient) keeps its own type
            self.rpc_url,
            private_key,
            self.contract_address,
            timeout=self.timeout,
            gas_margin=self.gas_margin,
            poll_latency=self.poll_latency,
        )
        if self.is_eth_tester:
            other._web3 = self.w3
            other._fund_on_eth_tester()
        return other

    def _fund_on_eth_tester(self) -> None:
        w3 = self._web3
        if w3 is None or w3.eth.get_balance(self.address) >= ETH_TESTER_FUNDING // 10:
            return
        funder = w3.eth.accounts[0]
        tx_hash = w3.eth.send_transaction({"from": funder, "to": self.address, "value": ETH_TESTER_FUNDING})
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> str | None:
        """Hash of block ``number`` on the node's current canonical chain (``None`` if absent)."""
        from web3.exceptions import BlockNotFound

        try:
            block = self.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return _hex(block["hash"])

    def pending_nonce(self) -> int:
        """Next nonce counting transactions in the node's mempool."""
        return int(self.w3.eth.get_transaction_count(self.address, "pending"))

    def latest_nonce(self) -> int:
        """Next nonce according to the latest mined block."""
        return int(self.w3.eth.get_transaction_count(self.address, "latest"))

    # -- contract ------------------------------------------------------------------------------

    def contract(self) -> Contract:
        if self.contract_address is None:
            raise RuntimeError("no contract address: deploy() first or pass contract_address")
        return self.w3.eth.contract(address=self.w3.to_checksum_address(self.contract_address), abi=load_artifact().abi)

    def _fees(self, max_fee_per_gas: int | None, max_priority_fee_per_gas: int | None) -> tuple[int, int]:
        if max_priority_fee_per_gas is None:
            try:
                max_priority_fee_per_gas = int(self.w3.eth.max_priority_fee)
            except Exception:  # nodes without eth_maxPriorityFeePerGas
                max_priority_fee_per_gas = DEFAULT_PRIORITY_FEE
        if max_fee_per_gas is None:
            base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
            max_fee_per_gas = 2 * base_fee + max_priority_fee_per_gas
        if max_fee_per_gas < max_priority_fee_per_gas:
            raise ValueError("max_fee_per_gas must be at least max_priority_fee_per_gas")
        return max_fee_per_gas, max_priority_fee_per_gas

    def _sign(self, tx: dict[str, Any]) -> SignedAnchorTx:
        signed = self.account.sign_transaction(tx)
        return SignedAnchorTx(
            raw=bytes(signed.raw_transaction),
            tx_hash=_hex(bytes(signed.hash)),
            nonce=int(tx["nonce"]),
            gas=int(tx["gas"]),
            max_fee_per_gas=int(tx["maxFeePerGas"]),
            max_priority_fee_per_gas=int(tx["maxPriorityFeePerGas"]),
            chain_id=int(tx["chainId"]),
        )

    def _build(
        self,
        call: Any,
        *,
        nonce: int | None,
        gas: int | None,
        max_fee_per_gas: int | None,
        max_priority_fee_per_gas: int | None,
    ) -> SignedAnchorTx:
        if gas is None:
            estimate = call.estimate_gas({"from": self.address})  # raises on revert
            gas = int(estimate * self.gas_margin)
        max_fee, priority = self._fees(max_fee_per_gas, max_priority_fee_per_gas)
        tx = call.build_transaction(
            {
                "type": 2,
                "chainId": self.chain_id,
                "from": self.address,
                "nonce": self.pending_nonce() if nonce is None else nonce,
                "gas": gas,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": priority,
            }
        )
        return self._sign(tx)

    def _transact(self, call: Any, nonce: int | None = None) -> AnchorReceipt:
        signed = self._build(call, nonce=nonce, gas=None, max_fee_per_gas=None, max_priority_fee_per_gas=None)
        return self.wait(self.send_raw(signed.raw))

    def deploy(self) -> str:
        """Deploy FlexAnchor signed by this client's key (which becomes admin and anchorer);
        remembers and returns the contract address."""
        artifact = load_artifact()
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        signed = self._build(
            factory.constructor(), nonce=None, gas=None, max_fee_per_gas=None, max_priority_fee_per_gas=None
        )
        tx_hash = self.send_raw(signed.raw)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=self.timeout, poll_latency=self.poll_latency
        )
        if receipt["status"] != 1 or not receipt.get("contractAddress"):
            raise RuntimeError(f"FlexAnchor deployment failed in transaction {tx_hash}")
        self.contract_address = str(receipt["contractAddress"])
        self.deploy_receipt = self._receipt(receipt)
        return self.contract_address

    def build_anchor_tx(
        self,
        period: int,
        root: bytes | str,
        leaf_count: int,
        *,
        nonce: int,
        max_fee_per_gas: int | None = None,
        max_priority_fee_per_gas: int | None = None,
        gas: int | None = None,
    ) -> SignedAnchorTx:
        """Sign ``anchor(period, root, leafCount)`` with an explicit nonce, without sending it.

        Fees default to ``2 * latest base fee + priority fee`` (priority from the node, else
        1 gwei); gas defaults to the node's estimate times ``gas_margin`` (the estimate reverts,
        e.g. ``PeriodAlreadyAnchored``, when the call would fail now).
        """
        call = self.contract().functions.anchor(period, _bytes32(root, "root"), leaf_count)
        return self._build(
            call,
            nonce=nonce,
            gas=gas,
            max_fee_per_gas=max_fee_per_gas,
            max_priority_fee_per_gas=max_priority_fee_per_gas,
        )

    def send_raw(self, raw: bytes | str) -> str:
        """Broadcast a signed transaction; returns its hash (0x hex).

        Idempotent: re-sending a transaction the node already has (pending or mined; nodes
        answer "already known" or "nonce too low") returns its hash instead of raising.
        """
        payload = bytes.fromhex(raw[2:] if raw.startswith("0x") else raw) if isinstance(raw, str) else bytes(raw)
        try:
            return _hex(bytes(self.w3.eth.send_raw_transaction(payload)))
        except Exception:
            from settlement.merkle import keccak256

            tx_hash = _hex(keccak256(payload))  # hash of a (typed) transaction = keccak of its raw bytes
            if not self.has_transaction(tx_hash):
                raise
            return tx_hash

    def has_transaction(self, tx_hash: str) -> bool:
        """Whether the node knows ``tx_hash`` (pending in its pool or mined)."""
        from web3.exceptions import TransactionNotFound

        try:
            return self.w3.eth.get_transaction(tx_hash) is not None
        except TransactionNotFound:
            return False

    def wait(self, tx_hash: str, *, timeout: float | None = None) -> AnchorReceipt:
        """Wait until ``tx_hash`` is mined (web3 ``TimeExhausted`` after ``timeout``)."""
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=self.timeout if timeout is None else timeout, poll_latency=self.poll_latency
        )
        return self._receipt(receipt)

    @staticmethod
    def _receipt(receipt: Any) -> AnchorReceipt:
        return AnchorReceipt(
            tx_hash=_hex(bytes(receipt["transactionHash"])),
            block_number=int(receipt["blockNumber"]),
            block_hash=_hex(bytes(receipt["blockHash"])),
            gas_used=int(receipt["gasUsed"]),
            status=int(receipt["status"]),
        )

    def anchor(self, period: int, root: bytes | str, leaf_count: int, *, nonce: int | None = None) -> AnchorReceipt:
        """Sign, send and wait for ``anchor(period, root, leafCount)``."""
        signed = self.build_anchor_tx(period, root, leaf_count, nonce=self.pending_nonce() if nonce is None else nonce)
        return self.wait(self.send_raw(signed.raw))

    def receipt(self, tx_hash: str) -> AnchorReceipt | None:
        """The receipt of ``tx_hash`` if it is mined on the node's current chain, else ``None``."""
        from web3.exceptions import TransactionNotFound

        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        return self._receipt(receipt)

    def root_of(self, period: int) -> bytes:
        """The root anchored for ``period`` (contract storage); 32 zero bytes when none."""
        return bytes(self.contract().functions.rootOf(period).call())

    def anchor_event(self, period: int, *, from_block: int = 0) -> AnchorEvent | None:
        """The ``RootAnchored`` log of ``period`` on the node's canonical chain (``None`` if absent).

        The contract stores only the root (one slot, see docs/adr/0003-anchor-gas.md); the leaf
        count and block number live in this event, filtered by its indexed ``period`` topic.
        """
        events = self.anchor_events(from_block=from_block, period=period)
        return events[-1] if events else None

    def leaf_count_of(self, period: int, *, from_block: int = 0) -> int | None:
        """The leaf count anchored with ``period``'s root, read from its event log."""
        event = self.anchor_event(period, from_block=from_block)
        return None if event is None else event.leaf_count

    def anchored_root(self, period: int, *, from_block: int = 0) -> AnchoredRoot:
        """Root (storage) with leaf count and block number (event log); all zero when not anchored."""
        root = self.root_of(period)
        if root == bytes(32):
            return AnchoredRoot(root, 0, 0)
        event = self.anchor_event(period, from_block=from_block)
        if event is None or event.root != root:  # pragma: no cover - the log is written with the root
            return AnchoredRoot(root, 0, 0)
        return AnchoredRoot(root, event.leaf_count, event.block_number)

    def verify(self, period: int, proof: Sequence[bytes | str], leaf: bytes | str) -> bool:
        """On-chain ``verify(period, proof, leaf)`` (a view call, no transaction)."""
        siblings = [_bytes32(p, "proof element") for p in proof]
        return bool(self.contract().functions.verify(period, siblings, _bytes32(leaf, "leaf")).call())

    def anchorer_role(self) -> bytes:
        return bytes(self.contract().functions.ANCHORER_ROLE().call())

    def is_anchorer(self, address: str) -> bool:
        checksum = self.w3.to_checksum_address(address)
        return bool(self.contract().functions.hasRole(self.anchorer_role(), checksum).call())

    def grant_anchorer(self, address: str) -> AnchorReceipt:
        """Grant ``ANCHORER_ROLE`` to ``address`` (this client's key must hold the admin role)."""
        checksum = self.w3.to_checksum_address(address)
        return self._transact(self.contract().functions.grantRole(self.anchorer_role(), checksum))

    def anchor_events(
        self, from_block: int = 0, to_block: int | str = "latest", *, period: int | None = None
    ) -> list[AnchorEvent]:
        """``RootAnchored`` logs of the contract between two blocks (inclusive), optionally of one period."""
        filters = {} if period is None else {"argument_filters": {"period": period}}
        logs = self.contract().events.RootAnchored().get_logs(from_block=from_block, to_block=to_block, **filters)
        return [
            AnchorEvent(
                period=int(log["args"]["period"]),
                root=bytes(log["args"]["root"]),
                leaf_count=int(log["args"]["leafCount"]),
                **log_position(log),
            )
            for log in logs
        ]

    def base_fee(self) -> int:
        """Base fee per gas of the latest block (what a pending transaction must at least offer)."""
        return int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))

    # -- development nodes (anvil; eth-tester where it has an equivalent) -----------------------

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response.get("result")

    def snapshot(self) -> str:
        """``evm_snapshot``: an id to return to with :meth:`revert` (anvil, eth-tester)."""
        return str(self._rpc("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> bool:
        """``evm_revert``: roll the chain back to a snapshot, dropping the blocks mined since;
        a snapshot id is spent by a revert. Returns whether the node accepted it."""
        if self.is_eth_tester:
            self._rpc("evm_revert", [int(snapshot_id, 0) if isinstance(snapshot_id, str) else snapshot_id])
            return True
        return bool(self._rpc("evm_revert", [snapshot_id]))

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks (``anvil_mine``; ``evm_mine`` on eth-tester)."""
        if self.is_eth_tester:
            self._rpc("evm_mine", [blocks])
        else:
            self._rpc("anvil_mine", [hex(blocks)])
