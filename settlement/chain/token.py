"""Web3 client for the FlexToken contract (ERC-1155 FLEX tokens with their Merkle claims distributor).

:class:`TokenClient` shares :class:`~settlement.chain.client.AnchorClient`'s connection, signing (local
EIP-1559), fee and receipt handling, and speaks FlexToken's ABI: deploy, publish a claims root
(``anchorClaims``), claim with a proof (signed by the claimant's own key: ``with_key``), read balances,
what an account claimed, and the ``Claimed`` / ``ClaimRootAnchored`` logs. See ``contracts/FlexToken.sol``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from settlement.chain.artifact import load_artifact
from settlement.chain.client import AnchorClient, AnchorReceipt, SignedAnchorTx, _bytes32, log_position

if TYPE_CHECKING:  # pragma: no cover
    from web3.contract import Contract

__all__ = ["CONTRACT_NAME", "ClaimEvent", "TokenClient"]

CONTRACT_NAME = "FlexToken"
DEFAULT_URI = "https://flexmarket.example/tokens/{id}.json"


@dataclass(frozen=True)
class ClaimEvent:
    """A ``Claimed`` log: ``amount`` of token ``token_id`` minted to ``account`` under ``epoch``."""

    account: str
    token_id: int
    epoch: int
    amount: int
    cumulative: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


class TokenClient(AnchorClient):
    """FlexToken access for one chain endpoint, signing with one private key."""

    def __repr__(self) -> str:
        return super().__repr__().replace("<AnchorClient", "<TokenClient")

    def contract(self) -> Contract:
        if self.contract_address is None:
            raise RuntimeError("no contract address: deploy() first or pass contract_address")
        abi = load_artifact(CONTRACT_NAME).abi
        return self.w3.eth.contract(address=self.w3.to_checksum_address(self.contract_address), abi=abi)

    def deploy(self, default_uri: str = DEFAULT_URI) -> str:  # type: ignore[override]
        """Deploy FlexToken signed by this key (which becomes admin and distributor)."""
        artifact = load_artifact(CONTRACT_NAME)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        signed = self._build(
            factory.constructor(default_uri), nonce=None, gas=None, max_fee_per_gas=None, max_priority_fee_per_gas=None
        )
        tx_hash = self.send_raw(signed.raw)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=self.timeout, poll_latency=self.poll_latency
        )
        if receipt["status"] != 1 or not receipt.get("contractAddress"):
            raise RuntimeError(f"FlexToken deployment failed in transaction {tx_hash}")
        self.contract_address = str(receipt["contractAddress"])
        self.deploy_receipt = self._receipt(receipt)
        return self.contract_address

    # -- claims roots --------------------------------------------------------------------------

    def build_anchor_tx(  # type: ignore[override]
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
        """Sign ``anchorClaims(epoch, root, leafCount)`` with an explicit nonce, without sending it."""
        call = self.contract().functions.anchorClaims(period, _bytes32(root, "root"), leaf_count)
        return self._build(
            call,
            nonce=nonce,
            gas=gas,
            max_fee_per_gas=max_fee_per_gas,
            max_priority_fee_per_gas=max_priority_fee_per_gas,
        )

    def root_of(self, period: int) -> bytes:
        return bytes(self.contract().functions.claimsRootOf(period).call())

    # -- claims --------------------------------------------------------------------------------

    def build_claim_tx(
        self, epoch: int, token_id: int, cumulative: int, proof: Sequence[bytes | str], *, gas: int | None = None
    ) -> SignedAnchorTx:
        """Sign ``claim(epoch, id, cumulative, proof)`` for this client's account (the estimate reverts with
        the contract's error when the claim would be refused)."""
        siblings = [_bytes32(p, "proof element") for p in proof]
        call = self.contract().functions.claim(epoch, token_id, cumulative, siblings)
        return self._build(call, nonce=None, gas=gas, max_fee_per_gas=None, max_priority_fee_per_gas=None)

    def claim(
        self, epoch: int, token_id: int, cumulative: int, proof: Sequence[bytes | str], *, gas: int | None = None
    ) -> AnchorReceipt:
        """Sign, send and wait for a claim by this client's account."""
        return self.wait(self.send_raw(self.build_claim_tx(epoch, token_id, cumulative, proof, gas=gas).raw))

    def claimed_of(self, account: str, token_id: int) -> int:
        return int(self.contract().functions.claimedOf(self.w3.to_checksum_address(account), token_id).call())

    def balance_of(self, account: str, token_id: int) -> int:
        return int(self.contract().functions.balanceOf(self.w3.to_checksum_address(account), token_id).call())

    def uri(self, token_id: int) -> str:
        return str(self.contract().functions.uri(token_id).call())

    def set_token_uri(self, token_id: int, uri: str) -> AnchorReceipt:
        return self._transact(self.contract().functions.setTokenURI(token_id, uri))

    def distributor_role(self) -> bytes:
        return bytes(self.contract().functions.DISTRIBUTOR_ROLE().call())

    def claim_events(
        self, from_block: int = 0, to_block: int | str = "latest", *, account: str | None = None
    ) -> list[ClaimEvent]:
        """``Claimed`` logs between two blocks (inclusive), optionally of one account."""
        filters: dict[str, Any] = {}
        if account is not None:
            filters["argument_filters"] = {"account": self.w3.to_checksum_address(account)}
        logs = self.contract().events.Claimed().get_logs(from_block=from_block, to_block=to_block, **filters)
        return [
            ClaimEvent(
                account=str(log["args"]["account"]),
                token_id=int(log["args"]["id"]),
                epoch=int(log["args"]["epoch"]),
                amount=int(log["args"]["amount"]),
                cumulative=int(log["args"]["cumulative"]),
                **log_position(log),
            )
            for log in logs
        ]

    def fund_dev_account(self, address: str, wei: int = 10**19) -> None:
        """Give ``address`` ether for gas on a development chain (anvil ``anvil_setBalance``; eth-tester: a
        transfer from a prefunded account). Refused elsewhere (production wallets pay their own gas)."""
        checksum = self.w3.to_checksum_address(address)
        if self.is_eth_tester:
            tx = self.w3.eth.send_transaction({"from": self.w3.eth.accounts[0], "to": checksum, "value": wei})
            self.w3.eth.wait_for_transaction_receipt(tx, timeout=self.timeout)
        elif self.chain_id == 31337:  # anvil / hardhat
            self._rpc("anvil_setBalance", [checksum, hex(wei)])
        else:
            raise RuntimeError(f"chain {self.chain_id} is not a development chain")
