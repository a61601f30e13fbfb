"""What activation lends the lower layers and how it answers the market's signals, connected at start-up by
``activation.apps.ActivationConfig.ready()``.

* :class:`ActivationFacts`: the provider of activation's facts that assessment reads (event days, verified
  events, derate, suspension), registered with ``assessment.hooks.register_activation_facts``. One mechanism
  for those facts; why a provider and not a copy kept by assessment is written in ``assessment.hooks``.
* :func:`on_awards_committed`: the receiver of ``market.hooks.awards_committed``: each committed award becomes an
  event or a reservation, through the ``create_event_for_award`` task (already sent from ``on_commit``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from assessment.hooks import VerifiedEvent


class ActivationFacts:
    """Activation's facts for assessment (``assessment.hooks.ActivationFacts``), read from activation's rows."""

    def event_days(self, *, premise_id: int, tz: str) -> set[date]:
        from .selectors import event_days_for_premise

        return event_days_for_premise(premise_id=premise_id, tz=tz)

    def verified_events(self, *, premise_id: int, limit: int | None = None) -> list[VerifiedEvent]:
        from .models import EventVerification

        qs = (
            EventVerification.objects.filter(event__premise=premise_id)
            .select_related("event")
            .order_by("-event__start", "-pk")
        )
        if limit:
            qs = qs[:limit]
        return [
            VerifiedEvent(
                event_id=v.event_id,
                start=v.event.start,
                end=v.event.end,
                committed_kwh=v.committed_kwh,
                delivered_kwh=v.delivered_kwh,
            )
            for v in qs
        ]

    def derate(self, premise_id: int) -> Decimal:
        from .selectors import resource_derate

        return resource_derate(premise_id)

    def suspended(self, premise_id: int) -> bool:
        from .selectors import resource_suspended

        return resource_suspended(premise_id)


def on_awards_committed(sender, *, award_ids: list[int], **kwargs) -> None:
    """Turn each committed award into an event (or a reservation): one task per award, idempotent per award."""
    from .tasks import create_event_for_award

    for pk in award_ids:
        create_event_for_award.delay(pk)


def connect() -> None:
    from assessment.hooks import register_activation_facts

    register_activation_facts(ActivationFacts())
    try:  # the signal arrives with arch-market-settlement's market/hooks.py (issue 13)
        from market.hooks import awards_committed
    except ImportError:
        return
    awards_committed.connect(on_awards_committed, dispatch_uid="activation-awards-committed")
