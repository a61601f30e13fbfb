"""The market's error codes (``flexplatform.errors.ApplicationError.code``): what API clients and callers branch on.

A ``StrEnum``: each member is the string the API has always returned, so the error body does not change.
"""

from enum import StrEnum


class MarketError(StrEnum):
    # input and state
    INVALID_STATE = "invalid_state"
    UNKNOWN_PARAMETER = "unknown_parameter"
    PARAMETER_OUT_OF_RANGE = "parameter_out_of_range"
    # participants and resources
    TRADING_SUSPENDED = "trading_suspended"
    NOT_ASSESSED = "not_assessed"
    OVER_CAPACITY = "over_capacity"
    WRONG_LOCATION = "wrong_location"
    NOT_QUALIFIED = "not_qualified"
    BELOW_MINIMUM_SIZE = "below_minimum_size"
    BELOW_MINIMUM_AGGREGATION = "below_minimum_aggregation"
    INSUFFICIENT_STAKE = "insufficient_stake"
    # products, timing and auctions
    MARKET_PRODUCT_MISMATCH = "market_product_mismatch"
    NOT_LOCATIONAL = "not_locational"
    TOO_LATE = "too_late"
    BAD_INTERVAL = "bad_interval"
    GATE_CLOSED = "gate_closed"
    NOT_DUE = "not_due"
    UNKNOWN_RULE_VERSION = "unknown_rule_version"
    # storage arbitrage
    INFEASIBLE = "infeasible"
