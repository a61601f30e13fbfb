"""settlement.merkle against OpenZeppelin's @openzeppelin/merkle-tree (StandardMerkleTree).

The reference vectors are produced by the JS library itself, run with node from the project's
node_modules; one small vector is also hard-coded so the module is checked without node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from settlement.merkle import (
    DUMP_FORMAT,
    LEAF_ENCODING,
    MerkleTree,
    asset_code,
    encode_leaf,
    keccak256,
    leaf_hash,
    leaf_hashes,
    leaf_hashes_columns,
    participant_ref,
    split_proof,
    verify_proof,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OZ_MERKLE_TREE = PROJECT_ROOT / "node_modules" / "@openzeppelin" / "merkle-tree"

UINT256_MAX = 2**256 - 1
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1
UINT64_MAX = 2**64 - 1
USD = asset_code("USD")
EUR = asset_code("EUR")

# Three leaves hashed by @openzeppelin/merkle-tree 1.0.8 (StandardMerkleTree.of(values, LEAF_ENCODING)).
KNOWN_VALUES = [
    (1, participant_ref("participant-1"), USD, 12_345, 1_700_000_000),
    (2, participant_ref("participant-2"), EUR, -678, 1_700_000_000),
    (3, participant_ref("participant-1"), USD, 0, 1_700_003_600),
]
KNOWN_ROOT = "0x05b99f807663401c91680e2f2442f7bbca9b3f61dee2c8c3edc60008fa17216d"

_OZ_SCRIPT = r"""
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.cases.map((values) => {
  const tree = StandardMerkleTree.of(values, input.encoding);
  return { root: tree.root, dump: tree.dump(), proofs: values.map((_, i) => tree.getProof(i)) };
});
process.stdout.write(JSON.stringify(out));
"""


def _values(size: int, *, salt: str = "") -> list[tuple[int, bytes, bytes, int, int]]:
    """Deterministic leaf values covering the edges of every ABI type (negative amounts included)."""
    edge_ids = [0, 1, UINT256_MAX, 2**64, 2**128 + 7]
    edge_amounts = [INT256_MIN, INT256_MAX, -1, 0, 1, -(10**18)]
    edge_starts = [0, UINT64_MAX, 1_700_000_000]
    rows = []
    for i in range(size):
        item_id = edge_ids[i] if i < len(edge_ids) else 1_000 + i
        amount = edge_amounts[i] if i < len(edge_amounts) else (i * 7_919) * (-1) ** i
        start = edge_starts[i % len(edge_starts)]
        participant = participant_ref(f"{salt}participant-{i % 13}")
        asset = USD if i % 3 else EUR
        rows.append((item_id, participant, asset, amount, start))
    return rows


def _js_value(values: tuple[int, bytes, bytes, int, int]) -> list[str]:
    return [str(values[0]), "0x" + values[1].hex(), "0x" + values[2].hex(), str(values[3]), str(values[4])]


def _reference_tree(leaves: list[bytes]) -> list[bytes]:
    """Straight port of OZ makeMerkleTree over sorted leaves (slow, obviously correct)."""
    ordered = sorted(leaves)  # Python's sort is stable, like V8's
    tree: list[bytes] = [b""] * (2 * len(ordered) - 1)
    for i, leaf in enumerate(ordered):
        tree[len(tree) - 1 - i] = leaf
    for i in range(len(tree) - 1 - len(ordered), -1, -1):
        a, b = sorted((tree[2 * i + 1], tree[2 * i + 2]))
        tree[i] = keccak256(a + b)
    return tree


# ------------------------------------------------------------------------------------------
# OpenZeppelin compatibility
# ------------------------------------------------------------------------------------------

CASES = {
    "1": _values(1),
    "2": _values(2),
    "3": _values(3),
    "7": _values(7),
    "7-duplicates": _values(4) + _values(3),
    "100": _values(100, salt="x"),
}


@pytest.fixture(scope="module")
def oz_vectors() -> dict[str, dict]:
    node = shutil.which("node")
    if node is None or not OZ_MERKLE_TREE.is_dir():
        pytest.skip("node or node_modules/@openzeppelin/merkle-tree not available (run `npm ci`)")
    payload = {
        "encoding": list(LEAF_ENCODING),
        "cases": [[_js_value(v) for v in values] for values in CASES.values()],
    }
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [node, "-e", _OZ_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        timeout=60,
    )
    return dict(zip(CASES, json.loads(result.stdout), strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_matches_openzeppelin_js(case: str, oz_vectors: dict[str, dict]) -> None:
    expected = oz_vectors[case]
    values = CASES[case]
    tree = MerkleTree.of(values)

    assert "0x" + tree.root.hex() == expected["root"]
    assert tree.dump() == expected["dump"]
    assert [["0x" + p.hex() for p in tree.proof(i)] for i in range(len(values))] == expected["proofs"]
    assert [["0x" + p.hex() for p in proof] for proof in tree.proofs()] == expected["proofs"]


def test_known_vector_without_node() -> None:
    tree = MerkleTree.of(KNOWN_VALUES)
    assert "0x" + tree.root.hex() == KNOWN_ROOT
    for i, values in enumerate(KNOWN_VALUES):
        assert verify_proof(tree.root, leaf_hash(values), tree.proof(i))


def test_known_vector_matches_js(oz_vectors: dict[str, dict]) -> None:
    node = shutil.which("node")
    assert node is not None
    payload = {"encoding": list(LEAF_ENCODING), "cases": [[_js_value(v) for v in KNOWN_VALUES]]}
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [node, "-e", _OZ_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)[0]["root"] == KNOWN_ROOT


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100, 257])
def test_tree_layout_matches_reference_port(size: int) -> None:
    leaves = [keccak256(i.to_bytes(8, "big")) for i in range(size)]
    tree = MerkleTree(b"".join(leaves))
    reference = _reference_tree(leaves)
    assert [node.tobytes() for node in tree.tree] == reference
    for i, leaf in enumerate(leaves):
        assert tree.leaf(i) == leaf
        assert reference[tree.tree_index(i)] == leaf


def test_sorting_with_shared_prefixes_and_duplicates() -> None:
    # Hashes that agree on their first 8 (or all 32) bytes exercise the full 256-bit sort.
    prefix = b"\x00" * 8
    leaves = [prefix + keccak256(bytes([i]))[:24] for i in range(20)]
    leaves += [leaves[3], leaves[3], b"\xff" * 32, b"\x00" * 32, prefix + b"\x00" * 23 + b"\x01"]
    tree = MerkleTree(leaves)
    assert [node.tobytes() for node in tree.tree] == _reference_tree(leaves)
    # Equal leaves keep input order (stable sort), as in JS: the first copy sits further right.
    first, second = tree.tree_index(20), tree.tree_index(21)
    assert tree.tree_index(3) > first > second
    for i, leaf in enumerate(leaves):
        assert tree.verify(leaf, tree.proof(i))


# ------------------------------------------------------------------------------------------
# Encoding
# ------------------------------------------------------------------------------------------


def test_encode_leaf_is_abi_encode_of_five_words() -> None:
    ref = participant_ref("p")
    encoded = encode_leaf((5, ref, USD, -2, 1_700_000_000))
    assert len(encoded) == 160
    assert encoded[:32] == (5).to_bytes(32, "big")
    assert encoded[32:64] == ref
    assert encoded[64:96] == b"USD" + b"\x00" * 29
    assert encoded[96:128] == b"\xff" * 31 + b"\xfe"  # two's complement of -2
    assert encoded[128:160] == (1_700_000_000).to_bytes(32, "big")
    assert leaf_hash((5, ref, USD, -2, 1_700_000_000)) == keccak256(keccak256(encoded))


@pytest.mark.parametrize(
    "values",
    [
        (-1, USD, USD, 0, 0),
        (UINT256_MAX + 1, USD, USD, 0, 0),
        (0, USD, USD, INT256_MAX + 1, 0),
        (0, USD, USD, INT256_MIN - 1, 0),
        (0, USD, USD, 0, UINT64_MAX + 1),
        (0, USD, USD, 0, -1),
        (0, b"short", USD, 0, 0),
        (0, USD, USD, 0),
    ],
)
def test_encode_leaf_rejects_out_of_range(values: tuple) -> None:
    with pytest.raises(ValueError):
        encode_leaf(values)


def test_encode_leaf_rejects_wrong_types() -> None:
    with pytest.raises(TypeError):
        encode_leaf(("1", USD, USD, 0, 0))
    with pytest.raises(TypeError):
        encode_leaf((True, USD, USD, 0, 0))
    with pytest.raises(TypeError):
        encode_leaf((1, "0x" + "00" * 32, USD, 0, 0))


def test_asset_code() -> None:
    assert asset_code("USD") == b"USD" + bytes(29)
    with pytest.raises(ValueError):
        asset_code("")
    with pytest.raises(ValueError):
        asset_code("X" * 33)


def test_columns_match_rows() -> None:
    n = 1_000
    rng = np.random.default_rng(7)
    ids = np.arange(10, 10 + n, dtype=np.uint64)
    refs = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    assets = np.frombuffer((USD + EUR) * (n // 2), dtype=np.uint8).reshape(n, 32)
    amounts = rng.integers(-(2**62), 2**62, size=n, dtype=np.int64)
    amounts[:3] = [np.iinfo(np.int64).min, -1, np.iinfo(np.int64).max]
    starts = np.full(n, UINT64_MAX, dtype=np.uint64)
    rows = [(int(ids[i]), refs[i].tobytes(), assets[i].tobytes(), int(amounts[i]), int(starts[i])) for i in range(n)]
    expected = leaf_hashes(rows)
    assert len(expected) == 32 * n
    assert expected[:32] == leaf_hash(rows[0])
    assert leaf_hashes_columns(ids, refs, assets, amounts, starts) == expected
    # Other accepted column forms: bytes, S32 arrays, sequences of bytes.
    assert leaf_hashes_columns(ids, refs.tobytes(), assets.view("S32").ravel(), amounts, starts) == expected
    assert leaf_hashes_columns(ids, [r[1] for r in rows], [r[2] for r in rows], amounts, starts) == expected


def test_columns_reject_negative_ids() -> None:
    with pytest.raises(ValueError):
        leaf_hashes_columns(np.array([-1]), USD, USD, np.array([0]), np.array([0]))


# ------------------------------------------------------------------------------------------
# Tree behaviour
# ------------------------------------------------------------------------------------------


def test_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError):
        MerkleTree(b"")
    with pytest.raises(ValueError):
        MerkleTree.of([])


def test_single_leaf() -> None:
    values = _values(1)
    tree = MerkleTree.of(values)
    assert tree.leaf_count == 1
    assert tree.root == leaf_hash(values[0])
    assert tree.proof(0) == []
    assert list(tree.proofs()) == [[]]
    assert list(tree.packed_proofs()) == [b""]
    assert verify_proof(tree.root, leaf_hash(values[0]), [])


def test_proofs_verify_and_tampering_fails() -> None:
    values = _values(100)
    tree = MerkleTree.of(values)
    for i, (proof, packed) in enumerate(zip(tree.proofs(chunk=7), tree.packed_proofs(chunk=7), strict=True)):
        assert proof == tree.proof(i) == split_proof(packed)
        assert verify_proof(tree.root, leaf_hash(values[i]), proof)
    item_id, participant, asset, amount, start = values[10]
    tampered = (item_id, participant, asset, amount + 1, start)
    assert not verify_proof(tree.root, leaf_hash(tampered), tree.proof(10))
    bad_proof = tree.proof(10)
    bad_proof[0] = bytes(32)
    assert not verify_proof(tree.root, leaf_hash(values[10]), bad_proof)
    assert not verify_proof(tree.root, leaf_hash(values[10]), tree.proof(11))


def test_proof_by_leaf_hash() -> None:
    values = _values(33)
    tree = MerkleTree.of(values)
    for i, v in enumerate(values):
        assert tree.index_of(leaf_hash(v)) == i
        assert tree.proof(leaf_hash(v)) == tree.proof(i)
    with pytest.raises(KeyError):
        tree.proof(bytes(32))
    with pytest.raises(IndexError):
        tree.proof(33)


def test_dump_load_roundtrip() -> None:
    values = _values(50)
    tree = MerkleTree.of(values)
    dump = tree.dump()
    assert dump["format"] == DUMP_FORMAT
    assert dump["leafEncoding"] == list(LEAF_ENCODING)
    assert len(dump["tree"]) == 2 * 50 - 1
    loaded = MerkleTree.load(json.loads(json.dumps(dump)))
    assert loaded.root == tree.root
    assert loaded.values == values
    assert loaded.dump() == dump
    assert [loaded.proof(i) for i in range(50)] == [tree.proof(i) for i in range(50)]


def test_load_rejects_inconsistent_dumps() -> None:
    dump = MerkleTree.of(_values(5)).dump()
    bad_value = json.loads(json.dumps(dump))
    bad_value["values"][0]["value"][3] = "999"
    bad_node = json.loads(json.dumps(dump))
    bad_node["tree"][0] = "0x" + "00" * 32
    bad_format = dict(dump, format="simple-v1")
    bad_encoding = dict(dump, leafEncoding=["uint256"])
    for bad in (bad_value, bad_node, bad_format, bad_encoding):
        with pytest.raises(ValueError):
            MerkleTree.load(bad)


def test_dump_checks_values() -> None:
    tree = MerkleTree.of(_values(5))
    with pytest.raises(ValueError):
        tree.dump(_values(5, salt="other"))
    with pytest.raises(ValueError):
        MerkleTree(leaf_hashes(_values(5))).dump()


def test_deterministic_and_order_independent_root() -> None:
    values = _values(64)
    first = MerkleTree.of(values)
    second = MerkleTree.of(values)
    assert first.tree.tobytes() == second.tree.tobytes()
    # Sorted leaves: the root does not depend on the order the lines were read in.
    shuffled = MerkleTree.of(values[::-1])
    assert shuffled.root == first.root
    assert shuffled.tree.tobytes() == first.tree.tobytes()
    assert MerkleTree.of(values[:-1]).root != first.root


def test_tree_is_read_only_and_contiguous() -> None:
    tree = MerkleTree.of(_values(9))
    assert tree.tree.shape == (17, 32)
    assert tree.tree.dtype == np.uint8
    assert tree.tree.flags.c_contiguous
    with pytest.raises(ValueError):
        tree.tree[0, 0] = 1
