"""The market's hook points: how higher layers learn of market facts, and lend the market theirs, without the
market importing them (layers: accounts <- assessment <- market <- activation <- settlement).

Signals the market sends (receivers connect in their ``AppConfig.ready()``):

* ``awards_committed``: awards were written; sent from ``transaction.on_commit`` with ``award_ids=list[int]``.
  Activation turns each award into an event.
* ``request_submitted`` (``request_id``) and ``auction_opened`` (``auction_id``, ``gate_closure``): work to do
  later; ``market.tasks`` connects the Celery adapters that clear them (``MarketConfig.ready()``), so the
  services never import the tasks that call them.

Providers higher layers register (from their ``AppConfig.ready()``):

* a collateral provider (:func:`register_collateral_provider`): ``fn(organisation, *, lock) ->
  CollateralPosition``, the FLEX an organisation has staked and how much of it open orders and unsettled awards
  lock (ADR 0025); with ``lock=True`` the organisation's collateral row is locked until the transaction ends, so
  two orders never take the same collateral. An order of a tier with collateral (premium markets, priority
  activation) is refused when the free collateral does not cover it. Settlement registers its staking ledger.
* premise sources (:func:`register_premise_source`): a model whose writes change a premise's capacity inputs, and
  how to find the premise of a row; the order path's kept answers for that premise are renewed on every save
  and delete (``market.services.eligibility``). Activation registers its enrollments and verifications.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.dispatch import Signal

awards_committed = Signal()
request_submitted = Signal()
auction_opened = Signal()


def on_commit_send(signal: Signal, **kwargs) -> None:
    """Send ``signal`` with ``kwargs`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: signal.send(sender=signal, **kwargs))


def awards_committed_on_commit(award_ids: Iterable[int] | Callable[[], Iterable[int]]) -> None:
    """Send :data:`awards_committed` once the current transaction commits. ``award_ids``: the ids, or a function
    that finds them after the commit (a backend that returns no ids from bulk inserts)."""

    def send() -> None:
        ids = [int(pk) for pk in (award_ids() if callable(award_ids) else award_ids)]
        if ids:
            awards_committed.send(sender=awards_committed_on_commit, award_ids=ids)

    transaction.on_commit(send)


# -- collateral -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollateralPosition:
    """An organisation's staked FLEX, and the part of it open orders and unsettled awards lock."""

    staked: Decimal
    locked: Decimal

    @property
    def free(self) -> Decimal:
        return self.staked - self.locked


_collateral_provider: Callable[..., CollateralPosition] | None = None


def register_collateral_provider(fn: Callable[..., CollateralPosition]) -> None:
    """Register the one source of staked collateral (``fn(organisation, *, lock: bool) -> CollateralPosition``).
    Registering again replaces it (a reloaded app)."""
    global _collateral_provider
    _collateral_provider = fn


def collateral_position(organisation, *, lock: bool = False) -> CollateralPosition:
    """The organisation's collateral as the registered provider says (``lock=True``: its collateral row locked
    until the transaction ends); nothing staked when no provider is registered (a deployment without settlement
    has no staking, so every order that needs collateral is refused)."""
    if _collateral_provider is None:
        return CollateralPosition(staked=Decimal("0"), locked=Decimal("0"))
    return _collateral_provider(organisation, lock=lock)


# -- premise sources --------------------------------------------------------------------------------------------

_premise_sources: dict[type, Callable[[object], int | None]] = {}
_premise_source_listeners: list[Callable[[type, Callable[[object], int | None]], None]] = []


def register_premise_source(model: type, premise_id_of: Callable[[object], int | None]) -> None:
    """A model whose rows are capacity inputs of a premise (``premise_id_of(row)`` finds it, or None)."""
    _premise_sources[model] = premise_id_of
    for listener in _premise_source_listeners:
        listener(model, premise_id_of)


def premise_sources() -> dict[type, Callable[[object], int | None]]:
    return dict(_premise_sources)


def on_premise_source(listener: Callable[[type, Callable[[object], int | None]], None]) -> None:
    """Call ``listener(model, premise_id_of)`` for every premise source, those registered so far and later ones
    (apps become ready in INSTALLED_APPS order: market's receivers are connected before activation registers)."""
    _premise_source_listeners.append(listener)
    for model, premise_id_of in list(_premise_sources.items()):
        listener(model, premise_id_of)
