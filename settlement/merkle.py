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

Leaf values (``LEAF_ENCODING``), all static ABI types so a leaf is five 32-byte words packed by
hand (``abi.encode`` of static types is plain concatenation):

====  ===========  ===========================================================================
 #    ABI type     meaning
====  ===========  ===========================================================================
 0    ``uint256``  settlement item id (primary key of the settlement line)
 1    ``bytes32``  participant reference, e.g. ``keccak256`` of the participant's public id
                   (:func:`participant_ref`)
 2    ``bytes32``  asset code, ASCII right-padded with zero bytes, e.g. ``b"USD" + 29 * b"\\0"``
                   (:func:`asset_code`)
 3    ``int256``   amount in minor units (may be negative; two's complement)
 4    ``uint64``   start of the settlement period, unix seconds (UTC)
====  ===========  ===========================================================================

In Python a leaf value is the tuple ``(int, bytes, bytes, int, int)``; the ``bytes32`` fields are
exactly 32 bytes. In a dump (and for the JS library) integers are decimal strings and ``bytes32``
values are ``0x``-prefixed lower-case hex.

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

LEAF_ENCODING: tuple[str, ...] = ("uint256", "bytes32", "bytes32", "int256", "uint64")
DUMP_FORMAT = "standard-v1"

LeafValues = tuple[int, bytes, bytes, int, int]

_WORD = 32
_LEAF_BYTES = _WORD * len(LEAF_ENCODING)
_UINT256_LIMIT = 1 << 256
_INT256_LIMIT = 1 << 255
_UINT64_LIMIT = 1 << 64
_INT64_LIMIT = 1 << 63
# abi.encode of a leaf whose uint256 id and int256 amount fit in 64 bits: the high 24 bytes of
# the id and period words are zero, those of the amount word are its sign extension.
_LEAF_STRUCT_64 = struct.Struct(">24xQ32s32s24sq24xQ").pack
_ZERO_EXTENSION = bytes(24)
_SIGN_EXTENSION = b"\xff" * 24
# Rows hashed per batch, and proofs gathered per batch: bound the temporary memory.
_CHUNK = 1 << 15
_PROOF_CHUNK = 1 << 13


def keccak256(data: bytes | bytearray | memoryview) -> bytes:
    """Ethereum's keccak-256 (not NIST SHA3-256)."""
    return keccak_256(data).digest()


def participant_ref(public_id: str) -> bytes:
    """The ``bytes32`` participant reference of a leaf: keccak256 of the UTF-8 public id."""
    return keccak_256(public_id.encode("utf-8")).digest()


def asset_code(code: str) -> bytes:
    """The ``bytes32`` asset code of a leaf: ASCII ``code`` right-padded with zero bytes."""
    raw = code.encode("ascii")
    if not raw or len(raw) > _WORD or b"\0" in raw:
        raise ValueError(f"asset code must be 1..32 ASCII characters without NUL: {code!r}")
    return raw.ljust(_WORD, b"\0")


# --------------------------------------------------------------------------------------------
# Leaf encoding and hashing
# --------------------------------------------------------------------------------------------


def _int_field(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _bytes32_field(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be 32 bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != _WORD:
        raise ValueError(f"{name} must be exactly 32 bytes, got {len(raw)}")
    return raw


def encode_leaf(values: Sequence[Any]) -> bytes:
    """``abi.encode`` of one leaf (see ``LEAF_ENCODING``): 160 bytes, packed by hand.

    Raises ``TypeError`` / ``ValueError`` for a value of the wrong type or out of its ABI range.
    """
    # Fast path (plain ints within 64 bits and bytes, the common case): one struct.pack.
    # Anything else (bigger ints, numpy scalars, bad values) takes the checked path.
    if len(values) == 5:
        item_id, participant, asset, amount, period_start = values
        if (
            type(item_id) is int
            and type(amount) is int
            and type(period_start) is int
            and type(participant) is bytes
            and type(asset) is bytes
            and len(participant) == _WORD
            and len(asset) == _WORD
            and 0 <= item_id < _UINT64_LIMIT
            and -_INT64_LIMIT <= amount < _INT64_LIMIT
            and 0 <= period_start < _UINT64_LIMIT
        ):
            sign = _SIGN_EXTENSION if amount < 0 else _ZERO_EXTENSION
            return _LEAF_STRUCT_64(item_id, participant, asset, sign, amount, period_start)
    return _encode_leaf_checked(values)


def _encode_leaf_checked(values: Sequence[Any]) -> bytes:
    if len(values) != len(LEAF_ENCODING):
        raise ValueError(f"a leaf has {len(LEAF_ENCODING)} values, got {len(values)}")
    item_id = _int_field(values[0], "item id")
    participant = _bytes32_field(values[1], "participant reference")
    asset = _bytes32_field(values[2], "asset code")
    amount = _int_field(values[3], "amount")
    period_start = _int_field(values[4], "period start")
    if not 0 <= item_id < _UINT256_LIMIT:
        raise ValueError(f"item id out of uint256 range: {item_id}")
    if not -_INT256_LIMIT <= amount < _INT256_LIMIT:
        raise ValueError(f"amount out of int256 range: {amount}")
    if not 0 <= period_start < _UINT64_LIMIT:
        raise ValueError(f"period start out of uint64 range: {period_start}")
    return b"".join(
        (
            item_id.to_bytes(_WORD, "big"),
            participant,
            asset,
            amount.to_bytes(_WORD, "big", signed=True),
            period_start.to_bytes(_WORD, "big"),
        )
    )


def leaf_hash(values: Sequence[Any]) -> bytes:
    """OpenZeppelin standard leaf hash: ``keccak256(keccak256(abi.encode(values)))``."""
    return keccak_256(keccak_256(encode_leaf(values)).digest()).digest()


_digest = keccak_256.digest


def _double_hash_records(encoded: bytes, width: int) -> bytes:
    """keccak(keccak(record)) of each ``width``-byte record of ``encoded``, concatenated."""
    k, d = keccak_256, _digest
    return b"".join([d(k(d(k(encoded[o : o + width])))) for o in range(0, len(encoded), width)])


def leaf_hashes(rows: Iterable[Sequence[Any]]) -> bytes:
    """Leaf hashes of many leaf value tuples, as one ``n * 32``-byte string in input order.

    Checks every value like :func:`encode_leaf`. For large columnar inputs (numpy arrays from a
    query) :func:`leaf_hashes_columns` is faster.
    """
    out: list[bytes] = []
    batch: list[bytes] = []
    for row in rows:
        batch.append(encode_leaf(row))
        if len(batch) == _CHUNK:
            out.append(_double_hash_records(b"".join(batch), _LEAF_BYTES))
            batch.clear()
    if batch:
        out.append(_double_hash_records(b"".join(batch), _LEAF_BYTES))
    return b"".join(out)


def _bytes32_column(column: Any, n: int, name: str) -> np.ndarray:
    """A ``(n, 32)`` uint8 array from bytes (``n * 32``), a (n, 32) array or a sequence of 32-byte values."""
    if isinstance(column, bytes | bytearray | memoryview):
        arr = np.frombuffer(column, dtype=np.uint8)
    elif isinstance(column, np.ndarray):
        arr = column
        if arr.dtype.kind == "S":
            if arr.dtype.itemsize != _WORD:
                raise ValueError(f"{name} must have dtype S32")
            arr = np.ascontiguousarray(arr).view(np.uint8)
        elif arr.dtype != np.uint8:
            raise ValueError(f"{name} must be a uint8 array of shape (n, 32)")
    else:
        values = [_bytes32_field(v, name) for v in column]
        arr = np.frombuffer(b"".join(values), dtype=np.uint8)
    if arr.size != n * _WORD:
        raise ValueError(f"{name} must hold {n} values of 32 bytes")
    return arr.reshape(n, _WORD)


def _uint64_column(column: Any, name: str) -> np.ndarray:
    arr = np.asarray(column)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-d integer array")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError(f"{name} must not be negative")
    return arr.astype(np.uint64, copy=False)


def leaf_hashes_columns(
    item_ids: Any,
    participant_refs: Any,
    asset_codes: Any,
    amounts: Any,
    period_starts: Any,
) -> bytes:
    """Leaf hashes of ``n`` leaves given as columns, vectorised; ``n * 32`` bytes in row order.

    ``item_ids`` and ``period_starts``: 1-d arrays of non-negative integers below 2**64;
    ``amounts``: 1-d int64 array (negative allowed; amounts beyond int64 need :func:`leaf_hashes`);
    ``participant_refs`` and ``asset_codes``: ``(n, 32)`` uint8 arrays, ``S32`` arrays,
    ``n * 32`` bytes, or sequences of 32-byte values. Same result as :func:`leaf_hashes`.
    """
    ids = _uint64_column(item_ids, "item ids")
    n = ids.shape[0]
    refs = _bytes32_column(participant_refs, n, "participant references")
    assets = _bytes32_column(asset_codes, n, "asset codes")
    amts = np.asarray(amounts)
    if amts.ndim != 1 or amts.dtype.kind not in "iu":
        raise ValueError("amounts must be a 1-d integer array")
    if amts.dtype.kind == "u" and amts.size and int(amts.max()) > np.iinfo(np.int64).max:
        raise ValueError("amounts beyond int64: use leaf_hashes()")
    amts = amts.astype(np.int64, copy=False)
    starts = _uint64_column(period_starts, "period starts")
    if not (refs.shape[0] == assets.shape[0] == amts.shape[0] == starts.shape[0] == n):
        raise ValueError("all columns must have the same length")

    out: list[bytes] = []
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        m = hi - lo
        enc = np.zeros((m, _LEAF_BYTES), dtype=np.uint8)
        enc[:, 24:32] = ids[lo:hi].astype(">u8").view(np.uint8).reshape(m, 8)
        enc[:, 32:64] = refs[lo:hi]
        enc[:, 64:96] = assets[lo:hi]
        chunk_amounts = amts[lo:hi]
        enc[chunk_amounts < 0, 96:120] = 0xFF  # sign extension of the int256 word
        enc[:, 120:128] = chunk_amounts.astype(">i8").view(np.uint8).reshape(m, 8)
        enc[:, 152:160] = starts[lo:hi].astype(">u8").view(np.uint8).reshape(m, 8)
        out.append(_double_hash_records(enc.tobytes(), _LEAF_BYTES))
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# Tree
# --------------------------------------------------------------------------------------------


@functools.cache
def _proof_struct(length: int) -> struct.Struct:
    return struct.Struct(f"{_WORD}s" * length)


def split_proof(packed: bytes) -> list[bytes]:
    """A packed proof (concatenated 32-byte siblings, see ``packed_proofs``) as a list."""
    if len(packed) % _WORD:
        raise ValueError("a packed proof is a multiple of 32 bytes")
    return list(_proof_struct(len(packed) // _WORD).unpack(packed))


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
    k, d = keccak_256, _digest
    for lo in range(0, children.shape[0], 2 * _CHUNK):
        block = children[lo : lo + 2 * _CHUNK]
        a, b = block[0::2], block[1::2]
        swap = _greater(a, b)
        pairs = np.empty((a.shape[0], 2 * _WORD), dtype=np.uint8)
        pairs[:, :_WORD] = np.where(swap[:, None], b, a)
        pairs[:, _WORD:] = np.where(swap[:, None], a, b)
        data = pairs.tobytes()
        out.append(b"".join([d(k(data[o : o + 64])) for o in range(0, len(data), 64)]))
    return b"".join(out)


def _leaf_array(leaves: Any) -> np.ndarray:
    if isinstance(leaves, np.ndarray):
        arr = np.ascontiguousarray(leaves, dtype=np.uint8).reshape(-1)
    elif isinstance(leaves, bytes | bytearray | memoryview):
        arr = np.frombuffer(bytes(leaves), dtype=np.uint8)
    else:
        arr = np.frombuffer(b"".join(_bytes32_field(v, "leaf hash") for v in leaves), dtype=np.uint8)
    if arr.size % _WORD:
        raise ValueError("leaf hashes must be a multiple of 32 bytes")
    return arr.reshape(-1, _WORD)


def _format_value(values: Sequence[Any]) -> list[str]:
    encode_leaf(values)  # validates
    return [
        str(int(values[0])),
        "0x" + bytes(values[1]).hex(),
        "0x" + bytes(values[2]).hex(),
        str(int(values[3])),
        str(int(values[4])),
    ]


def _parse_value(raw: Sequence[Any]) -> LeafValues:
    if len(raw) != len(LEAF_ENCODING):
        raise ValueError(f"a leaf has {len(LEAF_ENCODING)} values, got {len(raw)}")

    def as_int(x: Any) -> int:
        if isinstance(x, str):
            return int(x, 0) if x.lower().startswith(("0x", "-0x")) else int(x, 10)
        return _int_field(x, "value")

    def as_bytes32(x: Any) -> bytes:
        if not isinstance(x, str) or not x.startswith("0x"):
            raise ValueError(f"bytes32 values must be 0x-prefixed hex: {x!r}")
        return _bytes32_field(bytes.fromhex(x[2:]), "bytes32 value")

    value: LeafValues = (as_int(raw[0]), as_bytes32(raw[1]), as_bytes32(raw[2]), as_int(raw[3]), as_int(raw[4]))
    encode_leaf(value)  # range checks
    return value


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
        tree = np.empty((2 * n - 1, _WORD), dtype=np.uint8)
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
                tree[lo : hi + 1] = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, _WORD)
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
        target = _bytes32_field(leaf, "leaf hash")
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
            stride = depth * _WORD
            for row, length in enumerate(lengths):
                start = row * stride
                yield data[start : start + length * _WORD]

    def proofs(self, *, chunk: int = _PROOF_CHUNK) -> Iterator[list[bytes]]:
        """Every proof in value order (item ``i`` equals ``proof(i)``), produced lazily in batches."""
        for data, lengths, depth in self._proof_batches(chunk):
            stride = depth * _WORD
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
        hashes = np.frombuffer(leaf_hashes(values), dtype=np.uint8).reshape(-1, _WORD)
        if not np.array_equal(hashes, self._tree[self._tree_index]):
            raise ValueError("values do not match the leaves of this tree")
        hexed = self._tree.tobytes().hex()
        step = 2 * _WORD
        return {
            "format": DUMP_FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": ["0x" + hexed[o : o + step] for o in range(0, len(hexed), step)],
            "values": [
                {"value": _format_value(v), "treeIndex": t}
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
        values = [_parse_value(entry["value"]) for entry in entries]
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
