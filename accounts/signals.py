"""Signals accounts sends so that higher layers can react without accounts importing them (docs/adr: layers).

``participation_ended``: a participant may no longer offer some or all of its resources: a consent was revoked or
ran out, an enrolment ended, or a verification (KYC) lapsed so that trading is suspended. Sent once the change has
committed (``transaction.on_commit``) with

* ``organisation_id`` (int): the seller whose participation ended (the aggregator of a consent or enrolment, or the
  verified organisation);
* ``premise_ids`` (list[int] | None): the premises it may no longer offer, or None for all of them;
* ``reason`` (str): one of :class:`ParticipationEnded`.

The market connects its withdrawal of resting offers and orders in ``MarketConfig.ready()``.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import transaction
from django.dispatch import Signal

participation_ended = Signal()


class ParticipationEnded(StrEnum):
    CONSENT_REVOKED = "consent_revoked"
    CONSENT_EXPIRED = "consent_expired"
    ENROLMENT_ENDED = "enrolment_ended"
    VERIFICATION_EXPIRED = "verification_expired"
    SUSPENDED = "suspended"


def participation_ended_on_commit(*, organisation_id: int, premise_ids: list[int] | None, reason: str) -> None:
    """Send :data:`participation_ended` once the current transaction commits (at once outside one)."""
    ids = None if premise_ids is None else list(premise_ids)
    transaction.on_commit(
        lambda: participation_ended.send(
            sender=ParticipationEnded, organisation_id=organisation_id, premise_ids=ids, reason=str(reason)
        )
    )
