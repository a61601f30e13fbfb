"""Claims trees of the FLEX token distributor (``contracts/FlexToken.sol``), OpenZeppelin StandardMerkleTree format.

A claims epoch publishes one root over leaves ``(address account, uint256 id, uint256 cumulative)``: the
cumulative amount of token ``id`` (in hundredths of a token) that ``account`` may have claimed in total. The
contract mints ``cumulative - claimedOf(account, id)`` to the account that presents its leaf and proof, so a
leaf can be used once and an older root (a smaller cumulative) pays nothing more.

Rules (npm ``@openzeppelin/merkle-tree`` ``StandardMerkleTree``, leaf encoding ``["address", "uint256",
"uint256"]``): leaf hash = ``keccak256(keccak256(abi.encode(account, id, cumulative)))``; the tree, its sorted
leaves, proofs and the ``standard-v1`` dump are :class:`settlement.merkle.MerkleTree`'s (checked against OZ's
vectors); a dump here loads in ``StandardMerkleTree.load`` and validates (``settlement/tests/test_claims_js.py``).

Allocation across wallets (:func:`allocate`): a participant's cumulative total is split over the addresses it
has linked: every earlier address keeps (frozen) the cumulative of its last leaf, so nothing already claimable
closes, and the current address gets the rest; every address's cumulative only grows, so no token is
claimable twice whichever roots are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .assets import AVAILABILITY, CAPACITY, ENERGY, GOVERNANCE, PERFORMANCE
from .merkle import MerkleTree
from .merkle_leaves import digest, keccak_256

LEAF_ENCODING: tuple[str, ...] = ("address", "uint256", "uint256")
DUMP_FORMAT = "standard-v1"
#: ERC-1155 id of each token kind (FlexToken ids); amounts on chain are hundredths of a token.
TOKEN_IDS: dict[str, int] = {CAPACITY: 1, ENERGY: 2, AVAILABILITY: 3, PERFORMANCE: 4, GOVERNANCE: 5}
ASSETS_BY_ID: dict[int, str] = {v: k for k, v in TOKEN_IDS.items()}
UNITS_PER_TOKEN = 100

ClaimLeaf = tuple[str, int, int]  # (0x address, token id, cumulative units)


def _address_bytes(address: str) -> bytes:
    if not isinstance(address, str) or len(address) != 42 or not address.startswith(("0x", "0X")):
        raise ValueError(f"account must be a 0x-prefixed 20-byte address: {address!r}")
    return bytes.fromhex(address[2:])


def encode_claim_leaf(address: str, token_id: int, cumulative: int) -> bytes:
    """``abi.encode(address, uint256, uint256)``: 96 bytes."""
    for name, value in (("token id", token_id), ("cumulative", cumulative)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 256:
            raise ValueError(f"{name} must be a uint256, got {value!r}")
    return bytes(12) + _address_bytes(address) + token_id.to_bytes(32, "big") + cumulative.to_bytes(32, "big")


def claim_leaf_hash(address: str, token_id: int, cumulative: int) -> bytes:
    return digest(keccak_256(digest(keccak_256(encode_claim_leaf(address, token_id, cumulative)))))


_PAD = bytes(12)
_UINT256 = 1 << 256


def claim_leaf_hashes(leaves: Sequence[ClaimLeaf]) -> bytes:
    """Leaf hashes of many leaves, ``32 * n`` bytes in input order (a fast path for well-formed leaves; anything
    else goes through :func:`encode_claim_leaf`, which names what is wrong)."""
    k, d = keccak_256, digest
    out = []
    for a, i, c in leaves:
        try:
            if type(i) is not int or type(c) is not int or not (0 <= i < _UINT256 and 0 <= c < _UINT256):
                raise ValueError
            raw = bytes.fromhex(a[2:]) if len(a) == 42 and a[:2] in ("0x", "0X") else None
            if raw is None:
                raise ValueError
            record = _PAD + raw + i.to_bytes(32, "big") + c.to_bytes(32, "big")
        except (ValueError, TypeError):
            record = encode_claim_leaf(a, i, c)
        out.append(d(k(d(k(record)))))
    return b"".join(out)


class ClaimsTree:
    """A StandardMerkleTree over claim leaves (given order = value order)."""

    def __init__(self, leaves: Sequence[ClaimLeaf]) -> None:
        self.leaves: list[ClaimLeaf] = [(a.lower(), int(i), int(c)) for a, i, c in leaves]
        self.tree = MerkleTree(claim_leaf_hashes(self.leaves))
        self._index = {(a, i): n for n, (a, i, _c) in enumerate(self.leaves)}
        if len(self._index) != len(self.leaves):
            raise ValueError("one leaf per (account, token id)")

    @property
    def root(self) -> bytes:
        return self.tree.root

    def __len__(self) -> int:
        return len(self.leaves)

    def index_of(self, address: str, token_id: int) -> int:
        return self._index[(address.lower(), token_id)]

    def proof(self, index: int) -> list[bytes]:
        return self.tree.proof(index)

    def dump(self) -> dict[str, Any]:
        """OZ ``StandardMerkleTree.dump()`` (``standard-v1``); integers as decimal strings."""
        hexed = self.tree.tree.tobytes().hex()
        return {
            "format": DUMP_FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": ["0x" + hexed[o : o + 64] for o in range(0, len(hexed), 64)],
            "values": [
                {"value": [a, str(i), str(c)], "treeIndex": self.tree.tree_index(n)}
                for n, (a, i, c) in enumerate(self.leaves)
            ],
        }

    @classmethod
    def load(cls, dump: Mapping[str, Any]) -> ClaimsTree:
        """Rebuild and validate a dump (values hash to the tree, the tree is their sorted tree)."""
        if dump.get("format") != DUMP_FORMAT or list(dump.get("leafEncoding") or ()) != list(LEAF_ENCODING):
            raise ValueError("not a standard-v1 claims tree dump")
        tree = cls([(v["value"][0], int(v["value"][1]), int(v["value"][2])) for v in dump["values"]])
        if ["0x" + tree.tree.tree[n].tobytes().hex() for n in range(len(dump["tree"]))] != [
            t.lower() for t in dump["tree"]
        ] or len(dump["tree"]) != 2 * len(tree) - 1:
            raise ValueError("dump tree does not match its values")
        if [v["treeIndex"] for v in dump["values"]] != [tree.tree.tree_index(n) for n in range(len(tree))]:
            raise ValueError("dump tree indices do not match the tree")
        return tree


def allocate(*, previous: Mapping[str, int], total: int, current: str | None) -> dict[str, int]:
    """Split a participant's cumulative ``total`` of one token over its addresses.

    ``previous``: each address's cumulative in the last leaf it had (lower-case keys). Addresses other than
    ``current`` keep theirs (frozen); ``current`` gets ``total`` minus the frozen ones. Without a current
    address nothing changes. Raises ``ValueError`` if that would lower any address's cumulative.
    """
    out = {a.lower(): c for a, c in previous.items()}
    if current is None:
        return out
    current = current.lower()
    frozen = sum(c for a, c in out.items() if a != current)
    share = total - frozen
    if share < out.get(current, 0):
        raise ValueError(f"cumulative of {current} would fall from {out.get(current, 0)} to {share}")
    if share > 0 or current in out:
        out[current] = share
    return out


CLAIM_SIGNATURE = "claim(uint64,uint256,uint256,bytes32[])"


def claim_calldata(epoch: int, token_id: int, cumulative: int, proof: Sequence[bytes]) -> str:
    """``0x`` calldata of ``FlexToken.claim(epoch, id, cumulative, proof)``, what a wallet signs and sends."""
    from eth_abi import encode

    selector = digest(keccak_256(CLAIM_SIGNATURE.encode("ascii")))[:4]
    body = encode(["uint64", "uint256", "uint256", "bytes32[]"], [epoch, token_id, cumulative, list(proof)])
    return "0x" + (selector + body).hex()
