from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = "Settlement, ledger and anchoring"

    def ready(self) -> None:
        from activation.signals import penalty_recorded, verification_final, verifications_final
        from market.hooks import register_collateral_provider

        from .services.collateral import collateral_position

        penalty_recorded.connect(_settle_penalty, dispatch_uid="settlement.settle_penalty")
        verification_final.connect(_settle_verified_event, dispatch_uid="settlement.settle_verified_event")
        verifications_final.connect(_settle_verified_events, dispatch_uid="settlement.settle_verified_events")
        register_collateral_provider(collateral_position)


def _settle_penalty(sender, penalty_id: int, **kwargs) -> None:
    """A penalty activation recorded (sent after its commit): charge it in the ledger (idempotent per penalty)."""
    from . import tasks

    tasks.settle_penalty.delay(penalty_id)


def _settle_verified_event(sender, event_id: int, **kwargs) -> None:
    """An event's verification committed (sent after its commit): settle the event now (ADR 0027)."""
    from . import tasks

    tasks.settle_verified_event.delay(event_id)


def _settle_verified_events(sender, event_ids: list[int], penalty_ids: list[int], **kwargs) -> None:
    """A chunk of verifications committed (sent after the commits): one task charges its penalties and settles its
    events' windows (issue #21, ADR 0044)."""
    from . import tasks

    tasks.settle_verified_events.delay(list(event_ids), list(penalty_ids))
