"""Merkle trees for settlement statements, compatible with OpenZeppelin's StandardMerkleTree.

A settlement run publishes one root per period on chain (``contracts/FlexAnchor.sol``); every
participant can then check its own settlement lines against that root with a short proof, using
``MerkleProof.verify`` on chain or :func:`verify_proof` / OpenZeppelin's JS library off chain.

Rules implemented (npm ``@openzeppelin/merkle-tree`` 1.0.x, ``StandardMerkleTree`` with the
default ``sortLeaves: true``; the ``dump()`` format is its ``standard-v1``):

* leaf hash = ``keccak256(keccak256(abi.encode(values)))`` (double hash against second
  pre-image attacks between leaves and inner nodes);
* node hash = ``keccak256(min(a, b) ++ max(a, b))`` (pairs sorted as unsigned big-endian
  integers), which is what ``MerkleProof.processProof`` computes on chain;
* leaves are sorted by hash (stable: equal hashes keep their input order) and stored at the end
  of the tree array in reverse order; the tree is a heap-shaped array of ``2n - 1`` nodes where
  node ``i`` has children ``2i + 1`` and ``2i + 2`` and node 0 is the root. A proof lists the
  siblings from the leaf up to (excluding) the root.

The leaves (their values, encoding and hashes) are :mod:`settlement.merkle_leaves`; their names are
re-exported here.

Performance: the whole tree is one numpy ``uint8`` array of shape ``(2n - 1, 32)``; hashing is a
tight loop over ``bytes`` slices with the C keccak of ``safe-pysha3`` (about 1 µs per keccak
permutation on our 2-core machines, which is most of the time); sorting and proof index
arithmetic are vectorised; proofs are gathered in batches. For 1,000,000 leaves: leaf hashes
~3.8 s from columns (:func:`leaf_hashes_columns`; ~5 s from tuples), tree and root ~2 s, every
proof ~1.5 s; about 150 MB above the inputs, no Python object per node
(``bench/bench_merkle.py``).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from _pysha3 import keccak_256

from .merkle_leaves import (
    CHUNK,
    LEAF_ENCODING,
    WORD,
    LeafValues,
    asset_code,
    bytes32_field,
    digest,
    encode_leaf,
    format_leaf_value,
    keccak256,
    leaf_hash,
    leaf_hashes,
    leaf_hashes_columns,
    parse_leaf_value,
    participant_ref,
)

__all__ = [
    "DUMP_FORMAT",
    "LEAF_ENCODING",
    "LeafValues",
    "MerkleTree",
    "asset_code",
    "encode_leaf",
    "keccak256",
    "leaf_hash",
    "leaf_hashes",
    "leaf_hashes_columns",
    "participant_ref",
    "split_proof",
    "verify_proof",
]

DUMP_FORMAT = "standard-v1"
# Proofs gathered per batch: bounds the temporary memory.
_PROOF_CHUNK = 1 << 13


# --------------------------------------------------------------------------------------------
# Tree
# --------------------------------------------------------------------------------------------


@functools.cache
def _proof_struct(length: int) -> struct.Struct:
    return struct.Struct(f"{WORD}s" * length)


def split_proof(packed: bytes) -> list[bytes]:
    """A packed proof (concatenated 32-byte siblings, see ``packed_proofs``) as a list."""
    if len(packed) % WORD:
        raise ValueError("a packed proof is a multiple of 32 bytes")
    return list(_proof_struct(len(packed) // WORD).unpack(packed))


def _node_hash(a: bytes, b: bytes) -> bytes:
    return keccak_256(a + b if a <= b else b + a).digest()


def verify_proof(root: bytes, leaf: bytes, proof: Iterable[bytes]) -> bool:
    """True when ``proof`` leads from ``leaf`` (a leaf hash) to ``root``.

    OpenZeppelin ``MerkleProof.processProof``: fold the proof with the sorted-pair node hash.
    """
    computed = bytes(leaf)
    for sibling in proof:
        computed = _node_hash(computed, bytes(sibling))
    return computed == bytes(root)


def _words(block: np.ndarray) -> np.ndarray:
    """Big-endian 64-bit words of ``(m, 32)`` uint8 rows, as native uint64 ``(m, 4)``."""
    return np.ascontiguousarray(block).view(">u8").astype(np.uint64)


def _greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``a > b`` for ``(m, 32)`` uint8 arrays compared as big-endian integers."""
    wa, wb = _words(a), _words(b)
    greater = np.zeros(wa.shape[0], dtype=bool)
    decided = np.zeros(wa.shape[0], dtype=bool)
    for j in range(wa.shape[1]):
        greater |= ~decided & (wa[:, j] > wb[:, j])
        decided |= wa[:, j] != wb[:, j]
    return greater


def _sort_order(leaves: np.ndarray) -> np.ndarray:
    """Stable argsort of ``(n, 32)`` rows as big-endian integers (OZ ``sortLeaves``)."""
    head = np.ascontiguousarray(leaves[:, :8]).view(">u8").ravel().astype(np.uint64)
    order = np.argsort(head, kind="stable")
    head = head[order]
    if head.shape[0] > 1 and bool(np.any(head[1:] == head[:-1])):
        # Equal leading 64 bits (duplicate leaves or adversarial input): full 256-bit stable sort.
        words = _words(leaves)
        order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
    return order


def _hash_level(children: np.ndarray) -> bytes:
    """Node hashes of consecutive child pairs of ``children`` (shape ``(2m, 32)``), concatenated."""
    out: list[bytes] = []
    k, d = keccak_256, digest
    for lo in range(0, children.shape[0], 2 * CHUNK):
        block = children[lo : lo + 2 * CHUNK]
        a, b = block[0::2], block[1::2]
        swap = _greater(a, b)
        pairs = np.empty((a.shape[0], 2 * WORD), dtype=np.uint8)
        pairs[:, :WORD] = np.where(swap[:, None], b, a)
        pairs[:, WORD:] = np.where(swap[:, None], a, b)
        data = pairs.tobytes()
        out.append(b"".join([d(k(data[o : o + 64])) for o in range(0, len(data), 64)]))
    return b"".join(out)


def _leaf_array(leaves: Any) -> np.ndarray:
    if isinstance(leaves, np.ndarray):
        arr = np.ascontiguousarray(leaves, dtype=np.uint8).reshape(-1)
    elif isinstance(leaves, bytes | bytearray | memoryview):
        arr = np.frombuffer(bytes(leaves), dtype=np.uint8)
    else:
        arr = np.frombuffer(b"".join(bytes32_field(v, "leaf hash") for v in leaves), dtype=np.uint8)
    if arr.size % WORD:
        raise ValueError("leaf hashes must be a multiple of 32 bytes")
    return arr.reshape(-1, WORD)


class MerkleTree:
    """A StandardMerkleTree (sorted leaves) over leaf hashes given in their original order.

    "Value index" below means the position of a leaf in the input order (OZ ``values[i]``);
    "tree index" is the position in the tree array (OZ ``treeIndex``).
    """

    __slots__ = ("_n", "_order", "_tree", "_tree_index", "values")

    def __init__(self, leaf_hashes: Any, *, values: Sequence[LeafValues] | None = None) -> None:
        """Build the tree from ``n * 32`` bytes, a ``(n, 32)`` uint8 array or a sequence of hashes.

        ``values`` (optional) are the leaf values in the same order, kept for :meth:`dump`.
        Raises ``ValueError`` for an empty tree.
        """
        leaves = _leaf_array(leaf_hashes)
        n = leaves.shape[0]
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        if values is not None and len(values) != n:
            raise ValueError(f"{len(values)} values for {n} leaf hashes")
        order = _sort_order(leaves)
        tree = np.empty((2 * n - 1, WORD), dtype=np.uint8)
        np.take(leaves, order[::-1], axis=0, out=tree[n - 1 :])
        tree_index = np.empty(n, dtype=np.int64)
        tree_index[order] = np.arange(2 * n - 2, n - 2, -1, dtype=np.int64)
        # Internal nodes 0 .. n-2, one heap level at a time from the deepest: every child of a
        # level-d node is a leaf or a level-(d+1) node, so each level is one vectorised batch.
        if n > 1:
            for depth in range((n - 1).bit_length() - 1, -1, -1):
                lo = (1 << depth) - 1
                hi = min((1 << (depth + 1)) - 2, n - 2)
                hashes = _hash_level(tree[2 * lo + 1 : 2 * hi + 3])
                tree[lo : hi + 1] = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, WORD)
        tree.flags.writeable = False
        tree_index.flags.writeable = False
        order.flags.writeable = False
        self._n = n
        self._order = order
        self._tree = tree
        self._tree_index = tree_index
        self.values: list[LeafValues] | None = list(values) if values is not None else None

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]]) -> MerkleTree:
        """``StandardMerkleTree.of(values, LEAF_ENCODING)``: hash the leaf values and build the tree."""
        hashes = leaf_hashes(values)  # checks every value
        normalized: list[LeafValues] = [(int(v[0]), bytes(v[1]), bytes(v[2]), int(v[3]), int(v[4])) for v in values]
        return cls(hashes, values=normalized)

    # -- read access -------------------------------------------------------------------------

    @property
    def root(self) -> bytes:
        """The Merkle root (32 bytes)."""
        return self._tree[0].tobytes()

    @property
    def leaf_count(self) -> int:
        return self._n

    def __len__(self) -> int:
        return self._n

    @property
    def tree(self) -> np.ndarray:
        """The whole tree, read-only ``(2n - 1, 32)`` uint8 array in OZ layout (node 0 = root)."""
        return self._tree

    def tree_index(self, index: int) -> int:
        """Tree index of the leaf with value index ``index``."""
        return int(self._tree_index[self._check_index(index)])

    def leaf(self, index: int) -> bytes:
        """Leaf hash of the leaf with value index ``index``."""
        return self._tree[self._tree_index[self._check_index(index)]].tobytes()

    def index_of(self, leaf: bytes) -> int:
        """Value index of the leaf with hash ``leaf`` (binary search); ``KeyError`` if absent."""
        target = bytes32_field(leaf, "leaf hash")
        n, tree = self._n, self._tree
        lo, hi = 0, n  # positions in ascending sorted order; sorted position p is tree index 2n-2-p
        while lo < hi:
            mid = (lo + hi) // 2
            if tree[2 * n - 2 - mid].tobytes() < target:
                lo = mid + 1
            else:
                hi = mid
        if lo == n or tree[2 * n - 2 - lo].tobytes() != target:
            raise KeyError("leaf is not in the tree")
        return int(self._order[lo])

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError("leaf index must be an int")
        if not 0 <= index < self._n:
            raise IndexError(f"leaf index {index} out of range 0..{self._n - 1}")
        return int(index)

    # -- proofs --------------------------------------------------------------------------------

    def proof(self, key: int | bytes) -> list[bytes]:
        """Proof of one leaf, by value index (``int``) or by leaf hash (``bytes``): sibling hashes
        from the leaf upwards, as ``MerkleProof.verify`` expects them."""
        index = self.index_of(key) if isinstance(key, bytes | bytearray) else self._check_index(key)
        node = int(self._tree_index[index])
        tree = self._tree
        proof = []
        while node > 0:
            proof.append(tree[node + 1 if node % 2 else node - 1].tobytes())
            node = (node - 1) // 2
        return proof

    def _proof_batches(self, chunk: int) -> Iterator[tuple[bytes, list[int], int]]:
        """Per batch of value indices: the gathered sibling hashes (one row of ``depth * 32``
        bytes per leaf, padded), the proof lengths, and ``depth`` (the longest proof).

        In 1-based heap numbering ``y = i + 1`` the ancestor ``k`` levels up is ``y >> k`` and
        its sibling ``(y >> k) ^ 1``, so all sibling indices of a batch are one vectorised shift.
        """
        n, tree = self._n, self._tree
        depth = max((2 * n - 1).bit_length() - 1, 1)  # depth of the deepest leaf
        shifts = np.arange(depth, dtype=np.int64)
        for lo in range(0, n, chunk):
            heap = (self._tree_index[lo : lo + chunk] + 1)[:, None] >> shifts[None, :]
            inner = heap > 1
            siblings = np.where(inner, (heap ^ 1) - 1, 0)
            yield np.take(tree, siblings, axis=0).tobytes(), inner.sum(axis=1).tolist(), depth

    def packed_proofs(self, *, chunk: int = _PROOF_CHUNK) -> Iterator[bytes]:
        """Every proof in value order, each as the concatenation of its sibling hashes
        (``32 * len`` bytes): one object per proof, cheap to store; ``split_proof`` splits it."""
        for data, lengths, depth in self._proof_batches(chunk):
            stride = depth * WORD
            for row, length in enumerate(lengths):
                start = row * stride
                yield data[start : start + length * WORD]

    def proofs(self, *, chunk: int = _PROOF_CHUNK) -> Iterator[list[bytes]]:
        """Every proof in value order (item ``i`` equals ``proof(i)``), produced lazily in batches."""
        for data, lengths, depth in self._proof_batches(chunk):
            stride = depth * WORD
            unpackers = [_proof_struct(length).unpack_from for length in range(depth + 1)]
            for row, length in enumerate(lengths):
                yield list(unpackers[length](data, row * stride))

    def verify(self, leaf: bytes, proof: Iterable[bytes]) -> bool:
        """:func:`verify_proof` against this tree's root."""
        return verify_proof(self.root, leaf, proof)

    # -- OZ standard-v1 dump -------------------------------------------------------------------

    def dump(self, values: Sequence[Sequence[Any]] | None = None) -> dict[str, Any]:
        """The OZ ``StandardMerkleTree.dump()`` dict (format ``standard-v1``) for ``values``
        (default: the values the tree was built or loaded with). Values must hash to the leaves."""
        values = values if values is not None else self.values
        if values is None:
            raise ValueError("dump needs the leaf values")
        if len(values) != self._n:
            raise ValueError(f"{len(values)} values for {self._n} leaves")
        hashes = np.frombuffer(leaf_hashes(values), dtype=np.uint8).reshape(-1, WORD)
        if not np.array_equal(hashes, self._tree[self._tree_index]):
            raise ValueError("values do not match the leaves of this tree")
        hexed = self._tree.tobytes().hex()
        step = 2 * WORD
        return {
            "format": DUMP_FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": ["0x" + hexed[o : o + step] for o in range(0, len(hexed), step)],
            "values": [
                {"value": format_leaf_value(v), "treeIndex": t}
                for v, t in zip(values, self._tree_index.tolist(), strict=True)
            ],
        }

    @classmethod
    def load(cls, dump: dict[str, Any]) -> MerkleTree:
        """Rebuild a tree from an OZ ``standard-v1`` dump and check it (like OZ ``load`` +
        ``validate``): the values must hash to the tree's leaves and the tree must be the
        sorted-leaves tree of those values. The parsed values are kept in ``.values``."""
        if dump.get("format") != DUMP_FORMAT:
            raise ValueError(f"unknown dump format {dump.get('format')!r}")
        if list(dump.get("leafEncoding") or ()) != list(LEAF_ENCODING):
            raise ValueError(f"leaf encoding must be {list(LEAF_ENCODING)}, got {dump.get('leafEncoding')}")
        entries = dump.get("values") or []
        values = [parse_leaf_value(entry["value"]) for entry in entries]
        tree = cls(leaf_hashes(values), values=values)
        raw_tree = dump.get("tree")
        if not isinstance(raw_tree, list) or not all(isinstance(x, str) and x.startswith("0x") for x in raw_tree):
            raise ValueError("tree must be a list of 0x-prefixed hex strings")
        try:
            nodes = bytes.fromhex("".join(node[2:] for node in raw_tree))
        except ValueError as exc:
            raise ValueError("tree must be a list of 0x-prefixed hex strings") from exc
        if nodes != tree._tree.tobytes():
            raise ValueError("dump tree does not match its values (not a sorted standard-v1 tree?)")
        if [entry["treeIndex"] for entry in entries] != tree._tree_index.tolist():
            raise ValueError("dump tree indices do not match the tree")
        return tree

    def __repr__(self) -> str:
        return f"<MerkleTree leaves={self._n} root=0x{self.root.hex()}>"
