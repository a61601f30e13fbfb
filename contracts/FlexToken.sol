// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC165, ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

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
///
///      The ERC-1155 core is written here (same semantics, events and errors as OpenZeppelin 5.x
///      `ERC1155`, whose balances are private) so that an (id, account)'s balance and claimed amount
///      share ONE storage slot (`Holding`): a first claim writes one slot from zero instead of two
///      (ADR 0023, gas). Both halves are uint128 (amounts are hundredths of a token): a cumulative
///      above 2**128 - 1 is refused (`SafeCastOverflowedUintDowncast`), balances use checked arithmetic.
contract FlexToken is ERC165, IERC1155, IERC1155MetadataURI, IERC1155Errors, AccessControl {
    /// @notice Role allowed to publish claims roots (the platform's anchoring key).
    bytes32 public constant DISTRIBUTOR_ROLE = keccak256("DISTRIBUTOR_ROLE");

    /// @dev One storage slot per (id, account): its ERC-1155 balance and what it has claimed in total.
    struct Holding {
        uint128 balance;
        uint128 claimed;
    }

    mapping(uint256 id => mapping(address account => Holding)) private _holdings;
    mapping(address account => mapping(address operator => bool)) private _operatorApprovals;
    mapping(uint64 epoch => bytes32 root) private _roots;
    mapping(uint256 id => string tokenUri) private _uris;
    string private _defaultUri;

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

    constructor(string memory defaultUri) {
        _defaultUri = defaultUri;
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(DISTRIBUTOR_ROLE, msg.sender);
    }

    // ---- claims ------------------------------------------------------------------------------

    /// @notice Publish the claims root of `epoch` (a tree of `leafCount` leaves). Write-once.
    function anchorClaims(uint64 epoch, bytes32 root, uint64 leafCount) external onlyRole(DISTRIBUTOR_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (_roots[epoch] != bytes32(0)) revert EpochAlreadyAnchored(epoch);
        _roots[epoch] = root;
        emit ClaimRootAnchored(epoch, root, leafCount);
    }

    /// @notice Claim, for the caller, `cumulative - claimedOf(caller, id)` tokens of `id`, proven by
    ///         `proof` against the root of `epoch`. Refused: unknown epoch, a proof of another leaf
    ///         (another account's, another amount), nothing left to claim (replay, older root), a
    ///         cumulative above 2**128 - 1. Emits `Claimed`, then the ERC-1155 `TransferSingle` mint
    ///         (operator and receiver: the caller) and runs the receiver acceptance check.
    function claim(uint64 epoch, uint256 id, uint256 cumulative, bytes32[] calldata proof) external {
        bytes32 root = _roots[epoch];
        if (root == bytes32(0)) revert UnknownEpoch(epoch);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, id, cumulative))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof();
        Holding storage holding = _holdings[id][msg.sender];
        Holding memory current = holding; // one SLOAD: balance and claimed
        if (cumulative <= current.claimed) revert NothingToClaim(msg.sender, id, cumulative, current.claimed);
        uint128 newClaimed = SafeCast.toUint128(cumulative);
        uint128 amount;
        unchecked {
            amount = newClaimed - current.claimed; // newClaimed > current.claimed (checked above)
        }
        // One SSTORE: claimed = cumulative <= 2**128 - 1; the balance's addition is checked.
        holding.balance = current.balance + amount;
        holding.claimed = newClaimed;
        emit Claimed(msg.sender, id, epoch, amount, cumulative);
        emit TransferSingle(msg.sender, address(0), msg.sender, id, amount);
        ERC1155Utils.checkOnERC1155Received(msg.sender, address(0), msg.sender, id, amount, "");
    }

    /// @notice The claims root of `epoch`; zero when none was published.
    function claimsRootOf(uint64 epoch) external view returns (bytes32) {
        return _roots[epoch];
    }

    /// @notice What `account` has claimed of `id` so far, in all epochs.
    function claimedOf(address account, uint256 id) external view returns (uint256) {
        return _holdings[id][account].claimed;
    }

    // ---- metadata ----------------------------------------------------------------------------

    /// @notice Set the metadata URI of one token id (admin).
    function setTokenURI(uint256 id, string calldata tokenUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _uris[id] = tokenUri;
        emit URI(tokenUri, id);
    }

    /// @notice The metadata URI of `id`: its own when set, else the default (with the `{id}` pattern).
    function uri(uint256 id) public view returns (string memory) {
        string memory own = _uris[id];
        return bytes(own).length > 0 ? own : _defaultUri;
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC165, IERC165, AccessControl) returns (bool) {
        return
            interfaceId == type(IERC1155).interfaceId ||
            interfaceId == type(IERC1155MetadataURI).interfaceId ||
            super.supportsInterface(interfaceId);
    }

    // ---- ERC-1155 (semantics of OpenZeppelin 5.x ERC1155) --------------------------------------

    /// @inheritdoc IERC1155
    function balanceOf(address account, uint256 id) public view returns (uint256) {
        return _holdings[id][account].balance;
    }

    /// @inheritdoc IERC1155
    function balanceOfBatch(address[] calldata accounts, uint256[] calldata ids) external view returns (uint256[] memory) {
        if (accounts.length != ids.length) revert ERC1155InvalidArrayLength(ids.length, accounts.length);
        uint256[] memory balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = _holdings[ids[i]][accounts[i]].balance;
        }
        return balances;
    }

    /// @inheritdoc IERC1155
    function setApprovalForAll(address operator, bool approved) external {
        if (operator == address(0)) revert ERC1155InvalidOperator(address(0));
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @inheritdoc IERC1155
    function isApprovedForAll(address account, address operator) public view returns (bool) {
        return _operatorApprovals[account][operator];
    }

    /// @inheritdoc IERC1155
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data) external {
        _checkTransfer(from, to);
        _move(from, to, id, value);
        emit TransferSingle(msg.sender, from, to, id, value);
        ERC1155Utils.checkOnERC1155Received(msg.sender, from, to, id, value, data);
    }

    /// @inheritdoc IERC1155
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] calldata ids,
        uint256[] calldata values,
        bytes calldata data
    ) external {
        _checkTransfer(from, to);
        if (ids.length != values.length) revert ERC1155InvalidArrayLength(ids.length, values.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            _move(from, to, ids[i], values[i]);
        }
        if (ids.length == 1) {
            emit TransferSingle(msg.sender, from, to, ids[0], values[0]);
            ERC1155Utils.checkOnERC1155Received(msg.sender, from, to, ids[0], values[0], data);
        } else {
            emit TransferBatch(msg.sender, from, to, ids, values);
            ERC1155Utils.checkOnERC1155BatchReceived(msg.sender, from, to, ids, values, data);
        }
    }

    /// @dev The caller may move `from`'s tokens (its own, or as an approved operator), to a non-zero address.
    function _checkTransfer(address from, address to) private view {
        if (from != msg.sender && !isApprovedForAll(from, msg.sender)) {
            revert ERC1155MissingApprovalForAll(msg.sender, from);
        }
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        if (from == address(0)) revert ERC1155InvalidSender(address(0));
    }

    /// @dev Move `value` of `id` between balances; the claimed halves are never touched by a transfer.
    function _move(address from, address to, uint256 id, uint256 value) private {
        Holding storage source = _holdings[id][from];
        uint128 fromBalance = source.balance;
        if (fromBalance < value) revert ERC1155InsufficientBalance(from, fromBalance, value, id);
        unchecked {
            source.balance = fromBalance - uint128(value); // value <= fromBalance < 2**128
        }
        Holding storage target = _holdings[id][to];
        target.balance += uint128(value); // read after the debit: from == to nets to nothing
    }
}
