"""Settlement rows for anchoring tests: a payee and items spread over several closed hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import Organisation
from accounts.services import organisation_create
from settlement.chain import AnvilProcess
from settlement.chain.anvil import anvil_binary
from settlement.models import SettlementItem, SettlementPeriod

HOUR = timedelta(hours=1)


def closed_hours(count: int, *, hours_ago: int = 30) -> list[datetime]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = now - timedelta(hours=hours_ago)
    return [first + i * HOUR for i in range(count)]


def items_create(
    hours: list[datetime], *, per_hour: int = 3, payee: Organisation | None = None
) -> list[SettlementItem]:
    """Settlement items (direct rows: the payment workflow is another issue's) in each hour."""
    payee = payee or organisation_create(name="Anchoring test household", kind=Organisation.Kind.CONSUMER)
    items = []
    for hour in hours:
        period, _ = SettlementPeriod.objects.get_or_create(start=hour, defaults={"end": hour + HOUR})
        for k in range(per_hour):
            items.append(
                SettlementItem.objects.create(
                    business_key=f"anchor-test:{hour.isoformat()}:{k}:{payee.pk}",
                    kind=SettlementItem.Kind.PERFORMANCE,
                    payee=payee,
                    quantity_kwh=Decimal("2.5000") + k,
                    price_per_mwh=Decimal("120.00"),
                    amount=Decimal("0.30") + k,
                    currency="USD",
                    delivery_start=hour,
                    period=period,
                )
            )
    return items


@pytest.fixture(scope="module")
def anvil_node() -> Iterator[AnvilProcess]:
    if not anvil_binary().is_file():
        pytest.skip(f"anvil binary not found at {anvil_binary()} (run `npm ci`)")
    with AnvilProcess() as node:
        yield node
