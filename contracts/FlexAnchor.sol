// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title FlexAnchor
/// @notice Public anchor for settlement Merkle roots: one root per settlement period.
/// @dev Roots are OpenZeppelin StandardMerkleTree roots (leaf = keccak256(keccak256(abi.encode(values))),
///      pairs hashed sorted), built off-chain by `settlement/merkle.py`. A participant can check
///      that its settlement line is part of an anchored period with `verify`.
///
///      Storage: one `Anchor` per period, two slots: slot 0 = root, slot 1 = leafCount | anchoredAt.
///      The cost of `anchor` is therefore constant: it never depends on the number of leaves.
///      On prague it is ~70.8k gas: 21,000 intrinsic + 2 x 22,100 for two slots written from zero
///      + 2,100 for the cold role check + calldata and the event. (Storing the root alone would
///      cost ~48.6k; leafCount and anchoredAt in the second slot are the extra ~22k.)
///      `anchoredAt` is the BLOCK NUMBER of the anchoring transaction (not a timestamp), so that
///      the off-chain side can compare it with receipts and detect reorganisations.
contract FlexAnchor is AccessControl {
    /// @notice Role allowed to anchor roots. The deployer holds it and DEFAULT_ADMIN_ROLE.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    struct Anchor {
        bytes32 root; // slot 0
        uint64 leafCount; // slot 1, bits 0..63
        uint64 anchoredAt; // slot 1, bits 64..127 (block number)
    }

    mapping(uint64 period => Anchor) private _anchors;

    /// @notice The zero root is refused: it is the "not anchored" marker.
    error ZeroRoot();
    /// @notice A period is anchored once and never overwritten.
    error PeriodAlreadyAnchored(uint64 period);

    event RootAnchored(uint64 indexed period, bytes32 root, uint64 leafCount);

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(ANCHORER_ROLE, msg.sender);
    }

    /// @notice Anchor `root` (a tree of `leafCount` leaves) for `period`. Write-once per period.
    function anchor(uint64 period, bytes32 root, uint64 leafCount) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        Anchor storage a = _anchors[period];
        if (a.root != bytes32(0)) revert PeriodAlreadyAnchored(period);
        a.root = root;
        a.leafCount = leafCount;
        a.anchoredAt = uint64(block.number);
        emit RootAnchored(period, root, leafCount);
    }

    /// @notice The anchored root of `period`, its leaf count and the block number it was anchored in.
    ///         All zero when the period is not anchored.
    function rootOf(uint64 period) external view returns (bytes32 root, uint64 leafCount, uint64 anchoredAt) {
        Anchor storage a = _anchors[period];
        return (a.root, a.leafCount, a.anchoredAt);
    }

    /// @notice True when `proof` proves `leaf` against the root anchored for `period`.
    ///         False when the period has no root.
    function verify(uint64 period, bytes32[] calldata proof, bytes32 leaf) external view returns (bool) {
        bytes32 root = _anchors[period].root;
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
