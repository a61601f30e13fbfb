"""Signals activation sends to the layers above it, which connect their receivers in ``AppConfig.ready()``
(activation never imports them).

``penalty_recorded``: a penalty was recorded and its transaction has committed; sent with ``penalty_id: int``
(settlement charges it in the ledger, idempotent per penalty).
"""

from django.dispatch import Signal

penalty_recorded = Signal()
