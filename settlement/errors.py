"""Settlement's error codes (``flexplatform.errors.ApplicationError.code``): what API clients and callers branch on.

A ``StrEnum``: each member is the string the API has always returned, so the error body does not change.
"""

from enum import StrEnum


class SettlementError(StrEnum):
    INVALID = "invalid"
    # ledger
    UNBALANCED_ENTRY = "unbalanced_entry"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    # runs and payments
    INVALID_WINDOW = "invalid_window"
    INVALID_PENALTY = "invalid_penalty"
    NOT_VERIFIED = "not_verified"
    NOT_SETTLEABLE = "not_settleable"
    # fiat payouts (ADR 0027)
    PAYOUT_REFUSED = "payout_refused"
    # staking
    STAKE_INVALID = "stake_invalid"
    STAKE_LOCKED = "stake_locked"
    # proofs
    NOT_ANCHORED = "not_anchored"
    RECORD_CHANGED = "record_changed"
    CHAIN_UNAVAILABLE = "chain_unavailable"
    NO_DEPLOYMENT = "no_deployment"
