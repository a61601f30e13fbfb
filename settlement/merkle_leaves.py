"""The leaves of settlement Merkle trees (``settlement.merkle``): their values, ABI encoding and hashes.

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

leaf hash = ``keccak256(keccak256(abi.encode(values)))`` (OpenZeppelin ``StandardMerkleTree``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from _pysha3 import keccak_256

LEAF_ENCODING: tuple[str, ...] = ("uint256", "bytes32", "bytes32", "int256", "uint64")

LeafValues = tuple[int, bytes, bytes, int, int]

WORD = 32
_LEAF_BYTES = WORD * len(LEAF_ENCODING)
_UINT256_LIMIT = 1 << 256
_INT256_LIMIT = 1 << 255
_UINT64_LIMIT = 1 << 64
_INT64_LIMIT = 1 << 63
# abi.encode of a leaf whose uint256 id and int256 amount fit in 64 bits: the high 24 bytes of
# the id and period words are zero, those of the amount word are its sign extension.
_LEAF_STRUCT_64 = struct.Struct(">24xQ32s32s24sq24xQ").pack
_ZERO_EXTENSION = bytes(24)
_SIGN_EXTENSION = b"\xff" * 24
# Rows hashed per batch: bounds the temporary memory.
CHUNK = 1 << 15


def keccak256(data: bytes | bytearray | memoryview) -> bytes:
    """Ethereum's keccak-256 (not NIST SHA3-256)."""
    return keccak_256(data).digest()


def participant_ref(public_id: str) -> bytes:
    """The ``bytes32`` participant reference of a leaf: keccak256 of the UTF-8 public id."""
    return keccak_256(public_id.encode("utf-8")).digest()


def asset_code(code: str) -> bytes:
    """The ``bytes32`` asset code of a leaf: ASCII ``code`` right-padded with zero bytes."""
    raw = code.encode("ascii")
    if not raw or len(raw) > WORD or b"\0" in raw:
        raise ValueError(f"asset code must be 1..32 ASCII characters without NUL: {code!r}")
    return raw.ljust(WORD, b"\0")


# --------------------------------------------------------------------------------------------
# Leaf encoding and hashing
# --------------------------------------------------------------------------------------------


def int_field(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def bytes32_field(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be 32 bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != WORD:
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
            and len(participant) == WORD
            and len(asset) == WORD
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
    item_id = int_field(values[0], "item id")
    participant = bytes32_field(values[1], "participant reference")
    asset = bytes32_field(values[2], "asset code")
    amount = int_field(values[3], "amount")
    period_start = int_field(values[4], "period start")
    if not 0 <= item_id < _UINT256_LIMIT:
        raise ValueError(f"item id out of uint256 range: {item_id}")
    if not -_INT256_LIMIT <= amount < _INT256_LIMIT:
        raise ValueError(f"amount out of int256 range: {amount}")
    if not 0 <= period_start < _UINT64_LIMIT:
        raise ValueError(f"period start out of uint64 range: {period_start}")
    return b"".join(
        (
            item_id.to_bytes(WORD, "big"),
            participant,
            asset,
            amount.to_bytes(WORD, "big", signed=True),
            period_start.to_bytes(WORD, "big"),
        )
    )


def leaf_hash(values: Sequence[Any]) -> bytes:
    """OpenZeppelin standard leaf hash: ``keccak256(keccak256(abi.encode(values)))``."""
    return keccak_256(keccak_256(encode_leaf(values)).digest()).digest()


digest = keccak_256.digest


def _double_hash_records(encoded: bytes, width: int) -> bytes:
    """keccak(keccak(record)) of each ``width``-byte record of ``encoded``, concatenated."""
    k, d = keccak_256, digest
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
        if len(batch) == CHUNK:
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
            if arr.dtype.itemsize != WORD:
                raise ValueError(f"{name} must have dtype S32")
            arr = np.ascontiguousarray(arr).view(np.uint8)
        elif arr.dtype != np.uint8:
            raise ValueError(f"{name} must be a uint8 array of shape (n, 32)")
    else:
        values = [bytes32_field(v, name) for v in column]
        arr = np.frombuffer(b"".join(values), dtype=np.uint8)
    if arr.size != n * WORD:
        raise ValueError(f"{name} must hold {n} values of 32 bytes")
    return arr.reshape(n, WORD)


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
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
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


def format_leaf_value(values: Sequence[Any]) -> list[str]:
    encode_leaf(values)  # validates
    return [
        str(int(values[0])),
        "0x" + bytes(values[1]).hex(),
        "0x" + bytes(values[2]).hex(),
        str(int(values[3])),
        str(int(values[4])),
    ]


def parse_leaf_value(raw: Sequence[Any]) -> LeafValues:
    if len(raw) != len(LEAF_ENCODING):
        raise ValueError(f"a leaf has {len(LEAF_ENCODING)} values, got {len(raw)}")

    def as_int(x: Any) -> int:
        if isinstance(x, str):
            return int(x, 0) if x.lower().startswith(("0x", "-0x")) else int(x, 10)
        return int_field(x, "value")

    def as_bytes32(x: Any) -> bytes:
        if not isinstance(x, str) or not x.startswith("0x"):
            raise ValueError(f"bytes32 values must be 0x-prefixed hex: {x!r}")
        return bytes32_field(bytes.fromhex(x[2:]), "bytes32 value")

    value: LeafValues = (as_int(raw[0]), as_bytes32(raw[1]), as_bytes32(raw[2]), as_int(raw[3]), as_int(raw[4]))
    encode_leaf(value)  # range checks
    return value
