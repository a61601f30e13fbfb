"""Facts that higher layers own and the participant's compliance status reads, lent to accounts at start-up.

Accounts is the lowest app (layers: accounts <- assessment <- market <- activation <- settlement) and never
imports a higher one. Two of the compliance rules it lists read facts that live higher up:

* metering (owner: assessment): a premise's annual consumption estimated from its revenue-meter history (the
  jurisdiction's minimum-consumption rule), whether its revenue meter is validated and why not, and since when.
  ``assessment.apps.AssessmentConfig.ready()`` registers :class:`MeteringFacts`.
* aggregation (owner: market eligibility): an aggregator's portfolio per ISO against the FERC Order 2222
  minimum aggregation size. ``market.apps.MarketConfig.ready()`` registers :class:`AggregationFacts`.

A provider the deployment lacks answers as if the fact were unknown: no consumption history, no validated
meter, no portfolio. Registering again replaces the provider (a reloaded app).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .compliance import AggregationPortfolio
    from .models import Meter, Organisation, Premise


class MeteringFacts(Protocol):
    def validated_premise_ids(self) -> QuerySet:
        """Ids of premises with a validated revenue meter, as a subquery for ``pk__in``."""

    def validated_since(self, premise_ids: Iterable[int]) -> dict[int, datetime | None]:
        """Per premise with a validated revenue meter: since when."""

    def validation_reasons(self, premise: Premise) -> list[str]:
        """Why the premise has no validated revenue meter (empty when it has one), in words for its owner."""

    def annual_kwh(self, premise: Premise, *, now: datetime) -> Decimal | None:
        """The premise's annual consumption estimated from its meter history; None without enough history."""

    def meter_validation(self, meter: Meter) -> str:
        """One meter's validation in a few words (the admin's meter lists)."""

    def validation_reasons_many(self, premises: list[Premise]) -> dict[int, list[str]]:
        """:meth:`validation_reasons` for many premises (their ``meters`` prefetched) in one query."""

    def validation_reasons_by_name(self, names: Mapping[int, str]) -> dict[int, list[str]]:
        """:meth:`validation_reasons` for many premises given as id -> name, in constant queries."""

    def annual_kwh_by_id(self, premise_ids, *, now: datetime) -> dict[int, Decimal | None]:
        """:meth:`annual_kwh` for many premises (ids or a subquery of ids) in constant queries; absent: unknown."""


class AggregationFacts(Protocol):
    def portfolios(self, organisation: Organisation, *, now: datetime) -> list[AggregationPortfolio]:
        """The aggregator's portfolio per ISO that sets a minimum aggregation size."""


class _NoMetering:
    def validated_premise_ids(self) -> QuerySet:
        from .models import Premise

        return Premise.objects.none().values("pk")

    def validated_since(self, premise_ids: Iterable[int]) -> dict[int, datetime | None]:
        return {}

    def validation_reasons(self, premise: Premise) -> list[str]:
        return [f"{premise.name}: no meter validation is available."]

    def annual_kwh(self, premise: Premise, *, now: datetime) -> Decimal | None:
        return None

    def meter_validation(self, meter: Meter) -> str:
        return "not checked yet"

    def validation_reasons_many(self, premises: list[Premise]) -> dict[int, list[str]]:
        return {p.pk: self.validation_reasons(p) for p in premises}

    def validation_reasons_by_name(self, names: Mapping[int, str]) -> dict[int, list[str]]:
        return {pid: [f"{name}: no meter validation is available."] for pid, name in names.items()}

    def annual_kwh_by_id(self, premise_ids, *, now: datetime) -> dict[int, Decimal | None]:
        return {}


class _NoAggregation:
    def portfolios(self, organisation: Organisation, *, now: datetime) -> list[AggregationPortfolio]:
        return []


_metering: MeteringFacts = _NoMetering()
_aggregation: AggregationFacts = _NoAggregation()


def register_metering_facts(provider: MeteringFacts) -> None:
    global _metering
    _metering = provider


def register_aggregation_facts(provider: AggregationFacts) -> None:
    global _aggregation
    _aggregation = provider


def metering() -> MeteringFacts:
    return _metering


def aggregation() -> AggregationFacts:
    return _aggregation
