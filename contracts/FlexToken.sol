// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title FlexToken
/// @notice The FLEX token family as one ERC-1155 contract (id 1 Capacity, 2 Energy, 3 Availability,
///         4 Performance, 5 Governance; amounts in hundredths of a token, "decimals": 2 in each id's
///         metadata) with its own Merkle distributor: tokens come into existence ONLY through `claim`,
///         by the account a claims root names, for the difference between its cumulative amount and
///         what it already claimed. See docs/adr/0023-flex-tokens-on-chain.md.
/// @dev Claims roots are OpenZeppelin StandardMerkleTree roots over leaves
///      (address account, uint256 id, uint256 cumulative): leaf = keccak256(keccak256(abi.encode(...))),
///      pairs hashed sorted, built off-chain by `settlement/claims_tree.py`.
///      Roles: DEFAULT_ADMIN_ROLE (metadata, roles), DISTRIBUTOR_ROLE (publishes one root per claim
///      epoch, write-once). Nobody, admin included, can mint outside `claim`.
contract FlexToken is ERC1155, AccessControl {
    /// @notice Role allowed to publish claims roots (the platform's anchoring key).
    bytes32 public constant DISTRIBUTOR_ROLE = keccak256("DISTRIBUTOR_ROLE");

    mapping(uint64 epoch => bytes32 root) private _roots;
    mapping(address account => mapping(uint256 id => uint256 amount)) private _claimed;
    mapping(uint256 id => string tokenUri) private _uris;

    /// @notice The zero root is refused: it is the "not anchored" marker.
    error ZeroRoot();
    /// @notice An epoch's root is written once and never overwritten.
    error EpochAlreadyAnchored(uint64 epoch);
    /// @notice No root was published for this epoch.
    error UnknownEpoch(uint64 epoch);
    /// @notice The proof does not prove (msg.sender, id, cumulative) against the epoch's root.
    error InvalidProof();
    /// @notice The cumulative amount is not above what the account already claimed (a replay, or an older root).
    error NothingToClaim(address account, uint256 id, uint256 cumulative, uint256 claimed);

    /// @notice One per epoch: the claims root and its leaf count.
    event ClaimRootAnchored(uint64 indexed epoch, bytes32 root, uint64 leafCount);
    /// @notice One per successful claim: `amount` minted to `account`, now `cumulative` claimed in total.
    event Claimed(address indexed account, uint256 indexed id, uint64 indexed epoch, uint256 amount, uint256 cumulative);

    constructor(string memory defaultUri) ERC1155(defaultUri) {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(DISTRIBUTOR_ROLE, msg.sender);
    }

    /// @notice Publish the claims root of `epoch` (a tree of `leafCount` leaves). Write-once.
    function anchorClaims(uint64 epoch, bytes32 root, uint64 leafCount) external onlyRole(DISTRIBUTOR_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (_roots[epoch] != bytes32(0)) revert EpochAlreadyAnchored(epoch);
        _roots[epoch] = root;
        emit ClaimRootAnchored(epoch, root, leafCount);
    }

    /// @notice Claim, for the caller, `cumulative - claimedOf(caller, id)` tokens of `id`, proven by
    ///         `proof` against the root of `epoch`. Refused: unknown epoch, a proof of another leaf
    ///         (another account's, another amount), nothing left to claim (replay, older root).
    function claim(uint64 epoch, uint256 id, uint256 cumulative, bytes32[] calldata proof) external {
        bytes32 root = _roots[epoch];
        if (root == bytes32(0)) revert UnknownEpoch(epoch);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, id, cumulative))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
        uint256 already = _claimed[msg.sender][id];
        if (cumulative <= already) revert NothingToClaim(msg.sender, id, cumulative, already);
        _claimed[msg.sender][id] = cumulative;
        emit Claimed(msg.sender, id, epoch, cumulative - already, cumulative);
        _mint(msg.sender, id, cumulative - already, "");
    }

    /// @notice The claims root of `epoch`; zero when none was published.
    function claimsRootOf(uint64 epoch) external view returns (bytes32) {
        return _roots[epoch];
    }

    /// @notice What `account` has claimed of `id` so far, in all epochs.
    function claimedOf(address account, uint256 id) external view returns (uint256) {
        return _claimed[account][id];
    }

    /// @notice Set the metadata URI of one token id (admin).
    function setTokenURI(uint256 id, string calldata tokenUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _uris[id] = tokenUri;
        emit URI(tokenUri, id);
    }

    /// @notice The metadata URI of `id`: its own when set, else the default (with the `{id}` pattern).
    function uri(uint256 id) public view override returns (string memory) {
        string memory own = _uris[id];
        return bytes(own).length > 0 ? own : super.uri(id);
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
