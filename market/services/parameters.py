"""The one write path of the governed market parameters (``market.parameters``): settlement's governance calls it
when a passed proposal executes."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from flexplatform.errors import ApplicationError

from ..errors import MarketError
from ..models import MarketParameter
from ..parameters import DEFAULTS, MAXIMA, market_parameters_invalidate


@transaction.atomic
def market_parameter_set(*, name: str, value: Decimal) -> MarketParameter:
    """Set a governed parameter within its bounds (0 to ``MAXIMA``). Renews the parameters' version token inside
    the transaction, so every process reads the new value once it commits."""
    if name not in DEFAULTS:
        raise ApplicationError(
            f"Unknown market parameter {name!r}.",
            code=MarketError.UNKNOWN_PARAMETER,
            fields={"parameter": [f"One of {', '.join(sorted(DEFAULTS))}."]},
        )
    if value < 0 or (name in MAXIMA and value > MAXIMA[name]):
        raise ApplicationError(
            f"{name} must lie between 0 and {MAXIMA.get(name, 'any positive value')}.",
            code=MarketError.PARAMETER_OUT_OF_RANGE,
            fields={"new_value": [f"At most {MAXIMA[name]}." if name in MAXIMA else "Must not be negative."]},
        )
    parameter, _ = MarketParameter.objects.update_or_create(name=name, defaults={"value": value})
    market_parameters_invalidate()
    return parameter
