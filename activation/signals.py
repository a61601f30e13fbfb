"""Signals activation sends to the layers above it, which connect their receivers in ``AppConfig.ready()``
(activation never imports them).

``penalty_recorded``: a penalty was recorded and its transaction has committed; sent with ``penalty_id: int``
(settlement charges it in the ledger, idempotent per penalty).

``verification_final``: an event's verification was recorded and its transaction has committed; sent with
``event_id: int`` and ``verified_at: datetime`` (settlement settles the event at once, ADR 0027).
"""

from django.dispatch import Signal

penalty_recorded = Signal()
verification_final = Signal()
