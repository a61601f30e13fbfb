"""What assessment learns of activation's facts, without importing activation.

Assessment sits below activation (layers: accounts <- assessment <- market <- activation <- settlement). Four
facts activation owns go into assessment's answers:

* event days of a premise: excluded from its baselines (CAISO BPM for Demand Response, 10-in-10: event days
  are not baseline days);
* verified events (committed vs delivered kWh): the reliability factor of accredited capacity;
* the derate for repeated non-performance and the suspension of a resource: accredited capacity.

One mechanism: a **provider activation registers at start-up** (``activation.apps.ActivationConfig.ready()`` ->
:func:`register_activation_facts`, implemented in ``activation.hooks``). Assessment reads the facts when it
answers, from the rows activation keeps; nothing is copied. Chosen over an assessment-owned copy written by
activation because the market keeps capacity answers per process and renews them on every write to
activation's enrollments and verifications (``market.services.eligibility``): a copy would be a second store
to keep in step with those rows (and their bulk updates), and the answers, query counts included, stay as they
were. Without activation installed, the provider answers as for a premise that never took part in an event:
no event days, no verified events, derate 1, not suspended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class VerifiedEvent:
    """One verified event of a premise: what it committed and what it delivered (kWh)."""

    event_id: int
    start: datetime
    end: datetime
    committed_kwh: Decimal
    delivered_kwh: Decimal


class ActivationFacts(Protocol):
    def event_days(self, *, premise_id: int, tz: str) -> set[date]:
        """Local dates on which the premise had an event that was not cancelled."""

    def event_days_many(self, premise_tz: dict[int, str]) -> dict[int, set[date]]:
        """:meth:`event_days` of many premises (premise id -> its timezone) in one read; every premise asked for
        is in the answer."""

    def verified_events(self, *, premise_id: int, limit: int | None = None) -> list[VerifiedEvent]:
        """The premise's verified events, newest first (at most ``limit``)."""

    def derate(self, premise_id: int) -> Decimal:
        """The lowest derate factor among the premise's program enrollments (1 = full capacity)."""

    def suspended(self, premise_id: int) -> bool:
        """The premise is suspended from a program for repeated non-performance."""

    def device_usage(self, *, device_ids: list[int], day: date) -> dict[int, tuple[int, int]]:
        """Device pk -> (events commanded on local ``day``, events commanded in its month) (ADR 0029)."""

    def factors_many(self, premise_ids) -> dict[int, tuple[Decimal, bool]]:
        """Per premise with an enrollment: (lowest derate, suspended), in one read (``premise_ids``: ids or a
        subquery of ids); premises absent from the answer have derate 1 and are not suspended."""

    def verified_events_many(self, premise_ids, *, limit: int | None = None) -> dict[int, list[VerifiedEvent]]:
        """Per premise: its verified events, newest first (at most ``limit`` each), in one read."""

    def deliveries_many(self, premise_ids, *, limit: int) -> dict[int, list[tuple[Decimal, Decimal]]]:
        """Per premise with verified events: (delivered kWh, committed kWh) of its ``limit`` latest, newest first,
        in one read (``premise_ids``: ids or a subquery of ids); what its reliability factor is computed from."""


class _NoActivation:
    def event_days(self, *, premise_id: int, tz: str) -> set[date]:
        return set()

    def event_days_many(self, premise_tz: dict[int, str]) -> dict[int, set[date]]:
        return {pk: set() for pk in premise_tz}

    def verified_events(self, *, premise_id: int, limit: int | None = None) -> list[VerifiedEvent]:
        return []

    def derate(self, premise_id: int) -> Decimal:
        return Decimal("1")

    def suspended(self, premise_id: int) -> bool:
        return False

    def device_usage(self, *, device_ids: list[int], day: date) -> dict[int, tuple[int, int]]:
        return {}

    def factors_many(self, premise_ids) -> dict[int, tuple[Decimal, bool]]:
        return {}

    def verified_events_many(self, premise_ids, *, limit: int | None = None) -> dict[int, list[VerifiedEvent]]:
        return {}

    def deliveries_many(self, premise_ids, *, limit: int) -> dict[int, list[tuple[Decimal, Decimal]]]:
        return {}


_activation: ActivationFacts = _NoActivation()


def register_activation_facts(provider: ActivationFacts) -> None:
    """Register activation's facts (registering again replaces them: a reloaded app)."""
    global _activation
    _activation = provider


def activation() -> ActivationFacts:
    return _activation
