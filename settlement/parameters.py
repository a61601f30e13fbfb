"""The market parameters governance may change, with their defaults (used until a proposal executes)."""

from decimal import Decimal

DEFAULTS: dict[str, Decimal] = {
    "penalty_rate": Decimal("1.5"),  # x cleared price on the shortfall (activation)
    "minimum_offer_kw": Decimal("1"),  # market
    "platform_fee_pct": Decimal("2"),  # % of performance payments, paid by the operator
    "over_delivery_bonus_rate": Decimal("0.10"),  # x cleared price on delivery above commitment
    "over_delivery_cap": Decimal("0.20"),  # bonus counts excess up to this share of the commitment
    "slashing_rate": Decimal("0.10"),  # share of the stake slashed per non-delivery in a premium market
    "non_delivery_threshold": Decimal("0.5"),  # delivered below this share of commitment = non-delivery
    "staking_reward_share_pct": Decimal("50"),  # % of a day's platform fees paid to stakers
    "governance_quorum_pct": Decimal("20"),  # % of staked Governance tokens that must vote
}
