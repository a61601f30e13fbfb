"""Reads about emergency calls (the operator console's account of a call)."""

from __future__ import annotations

from .models import DREvent


def emergency_not_dispatched(*, program, start, end) -> int:
    """How many resources an emergency call of ``program`` over ``[start, end)`` did not dispatch because they
    were over the program's caps (their events recorded cancelled "not dispatched (...)")."""
    return DREvent.objects.filter(
        program=program,
        source=DREvent.Source.EMERGENCY,
        start=start,
        end=end,
        status=DREvent.Status.CANCELLED,
        cancel_reason__startswith="not dispatched",
    ).count()
