"""Signals activation sends to the layers above it, which connect their receivers in ``AppConfig.ready()``
(activation never imports them).

``penalty_recorded``: a penalty was recorded and its transaction has committed; sent with ``penalty_id: int``
(settlement charges it in the ledger, idempotent per penalty).

``verification_final``: an event's verification was recorded and its transaction has committed; sent with
``event_id: int`` and ``verified_at: datetime`` (settlement settles the event at once, ADR 0027).

``verifications_final``: a chunk of verifications was recorded and committed (``services.events_verify``, the
workers' sweep; issue #21, ADR 0044); sent once per chunk with ``event_ids: list[int]`` (the events verified) and
``penalty_ids: list[int]`` (their shortfall penalties): settlement charges the penalties and settles the events'
windows in one task. The events and penalties of a chunk are not also sent one by one.
"""

from django.dispatch import Signal

penalty_recorded = Signal()
verification_final = Signal()
verifications_final = Signal()
