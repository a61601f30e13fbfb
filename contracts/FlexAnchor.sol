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
///      Storage: exactly ONE slot per period (the root). The leaf count and the block number are
///      in the `RootAnchored` event (indexed by period), which any node serves from its logs and
///      which is as permanent as the storage write (see docs/adr/0003-anchor-gas.md). The cost of
///      `anchor` is constant, never dependent on the number of leaves: on prague ~48.6k gas =
///      21,000 intrinsic + 22,100 (one slot written from zero, cold) + 2,100 (cold role check)
///      + calldata (~0.9k) + the LOG2 (~1.9k) + execution.
contract FlexAnchor is AccessControl {
    /// @notice Role allowed to anchor roots. The deployer holds it and DEFAULT_ADMIN_ROLE.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    mapping(uint64 period => bytes32 root) private _roots;

    /// @notice The zero root is refused: it is the "not anchored" marker.
    error ZeroRoot();
    /// @notice A period is anchored once and never overwritten.
    error PeriodAlreadyAnchored(uint64 period);

    /// @notice One per anchored period: its root, leaf count and the block it was anchored in.
    event RootAnchored(uint64 indexed period, bytes32 root, uint64 leafCount, uint64 blockNumber);

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(ANCHORER_ROLE, msg.sender);
    }

    /// @notice Anchor `root` (a tree of `leafCount` leaves) for `period`. Write-once per period.
    function anchor(uint64 period, bytes32 root, uint64 leafCount) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (_roots[period] != bytes32(0)) revert PeriodAlreadyAnchored(period);
        _roots[period] = root;
        emit RootAnchored(period, root, leafCount, uint64(block.number));
    }

    /// @notice The anchored root of `period`; zero when the period is not anchored.
    ///         Its leaf count and block: the `RootAnchored` log with topic1 = period.
    function rootOf(uint64 period) external view returns (bytes32) {
        return _roots[period];
    }

    /// @notice True when `proof` proves `leaf` against the root anchored for `period`.
    ///         False when the period has no root.
    function verify(uint64 period, bytes32[] calldata proof, bytes32 leaf) external view returns (bool) {
        bytes32 root = _roots[period];
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
