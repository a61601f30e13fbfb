"""Transactions that are rolled back whole on any error, so the services inside need no savepoints.

A service opens ``transaction.atomic()``; called inside another atomic block, Django makes that a savepoint
(``SAVEPOINT`` and ``RELEASE``: two more round trips) so that its caller may catch an error and go on. A caller
that never goes on after an error, such as the ``Idempotency-Key`` wrapper of the order endpoint, opens
:func:`whole_transaction` instead. Services that use :func:`atomic` then run without a savepoint of their own:
any error inside rolls back the whole block.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps

from django.db import transaction

_state = threading.local()


@contextmanager
def whole_transaction() -> Iterator[None]:
    """An atomic block that its caller leaves on any error (it never catches one inside and goes on)."""
    with transaction.atomic():
        depth = getattr(_state, "depth", 0)
        _state.depth = depth + 1
        try:
            yield
        finally:
            _state.depth = depth


def atomic(func):
    """``transaction.atomic`` for a service function: a savepoint only when not inside
    :func:`whole_transaction`."""

    @wraps(func)
    def inner(*args, **kwargs):
        with transaction.atomic(savepoint=not getattr(_state, "depth", 0)):
            return func(*args, **kwargs)

    return inner
