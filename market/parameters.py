"""The governed market parameters: their defaults (used until a proposal executes), bounds, and their read side.

The parameters live in the market layer (:class:`market.models.MarketParameter`) so that every layer above reads
them without the market importing settlement; settlement's governance changes one only through
``market.services.parameters.market_parameter_set``.

Every parameter is read by its consumer at the moment of use (:func:`market_parameter`), from this process's copy
while the version token :data:`PARAMETERS_VERSION` stands (``flexplatform.snapshots``), so an executed proposal
changes the next penalty, fee or reward and leaves earlier ones as they were:

==============================  =============================================================================
parameter                       read by
==============================  =============================================================================
penalty_rate                    ``activation.services`` shortfall and opt-out penalties of market events
minimum_offer_kw                the market's order validation
platform_fee_pct                ``settlement.services.runs`` (platform fee per event)
over_delivery_bonus_rate, _cap  ``settlement.services.runs`` (over-delivery bonus)
slashing_rate                   ``settlement.services.staking.stake_slash_for_event``
non_delivery_threshold          ``settlement.services.runs`` (which premium-market events slash)
staking_reward_share_pct        ``settlement.services.runs`` (staking pool funding)
governance_quorum_pct           ``settlement.services.governance.proposal_create``
reward_pool_share_pct           ``settlement.services.rewards`` (reward pool funding)
availability_reward_per_hour    ``settlement.services.rewards`` (fiat availability rewards)
shift_recovery_hours            ``settlement.services.shifting`` (rebound measurement window)
off_peak_price_per_mwh          ``settlement.services.shifting`` (energy credit spread)
token_price                     ``settlement.services.tax_statements`` (fiat value of a FLEX token for tax)
==============================  =============================================================================
"""

from __future__ import annotations

from decimal import Decimal

from flexplatform import snapshots

DEFAULTS: dict[str, Decimal] = {
    "penalty_rate": Decimal("1.5"),  # x the market price on the shortfall of a market event (activation)
    "minimum_offer_kw": Decimal("1"),  # market
    "platform_fee_pct": Decimal("2"),  # % of performance payments, paid by the operator
    "over_delivery_bonus_rate": Decimal("0.10"),  # x cleared price on delivery above commitment
    "over_delivery_cap": Decimal("0.20"),  # bonus counts excess up to this share of the commitment
    "slashing_rate": Decimal("0.10"),  # share of the stake slashed per non-delivery in a premium market
    "non_delivery_threshold": Decimal("0.5"),  # delivered below this share of commitment = non-delivery
    "staking_reward_share_pct": Decimal("50"),  # % of a day's platform fees paid to stakers
    "governance_quorum_pct": Decimal("20"),  # % of staked Governance tokens that must vote
    "reward_pool_share_pct": Decimal("25"),  # % of a day's platform fees moved to the reward pool
    "availability_reward_per_hour": Decimal("0.05"),  # fiat per contract hour of verified readiness
    "shift_recovery_hours": Decimal("4"),  # after an event, the window its shifted energy is measured in
    "off_peak_price_per_mwh": Decimal("40"),  # off-peak reference price; credit = (cleared - this) per MWh
    "token_price": Decimal("0.10"),  # fiat per FLEX token (any FLEX asset): token income's value on tax statements
}

# Upper bounds a proposal must respect (lower bound: 0 for all), so no executed proposal can make a later
# run impossible (a share above 100 % would overdraw the fees account, a slash above 1 the stake).
MAXIMA: dict[str, Decimal] = {
    "platform_fee_pct": Decimal("100"),
    "over_delivery_cap": Decimal("10"),
    "slashing_rate": Decimal("1"),
    "non_delivery_threshold": Decimal("1"),
    "staking_reward_share_pct": Decimal("100"),
    "governance_quorum_pct": Decimal("100"),
    "reward_pool_share_pct": Decimal("100"),
    "shift_recovery_hours": Decimal("24"),
}


#: the version token of the governed parameters (``flexplatform.snapshots``)
PARAMETERS_VERSION = "market-parameters"
#: a copy is kept at most this long (s), whatever else happens.
PARAMETERS_TTL = 300.0
_parameter_snapshots = snapshots.Snapshots(ttl_seconds=PARAMETERS_TTL)


def _stored_parameters() -> dict[str, Decimal]:
    from .models import MarketParameter

    stored = dict(MarketParameter.objects.values_list("name", "value"))
    return {name: stored.get(name, default) for name, default in DEFAULTS.items()}


def market_parameters_request() -> snapshots.Request:
    """The governed parameters as a ``flexplatform.snapshots`` request (the order path asks for them together
    with its other answers: one token round trip)."""
    return snapshots.Request(("market-parameters",), (PARAMETERS_VERSION,), lambda: (_stored_parameters(), None))


def _parameters_current() -> dict[str, Decimal]:
    """The parameters, read from the table, or from this process's copy while their version token stands.

    ``market_parameter_set`` renews the token once its change is committed (:func:`market_parameters_invalidate`):
    a process that sees the new token reads the table after the commit, so once a proposal has executed no
    caller gets the old value; the executing transaction itself reads the table until then. Tokens
    unreachable: the table is read (a few rows)."""
    (values,) = _parameter_snapshots.get([market_parameters_request()])
    return values


def market_parameters_invalidate() -> None:
    """Called inside the transaction of the one service that changes a parameter: this transaction reads the
    table from now on, and every process does once the change commits (a new version token)."""
    snapshots.invalidate(PARAMETERS_VERSION)


def market_parameter(name: str) -> Decimal:
    """The current value of a governed market parameter (its default until a proposal changes it)."""
    if name not in DEFAULTS:
        raise KeyError(f"Unknown market parameter {name!r}.")
    return _parameters_current()[name]


def market_parameters() -> dict[str, Decimal]:
    return dict(_parameters_current())


def parameters_forget() -> None:
    """Forget this process's copy (tests start from nothing)."""
    _parameter_snapshots.clear()
