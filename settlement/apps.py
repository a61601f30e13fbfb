from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = "Settlement, ledger and anchoring"

    def ready(self) -> None:
        from activation.signals import penalty_recorded, verification_final
        from market.hooks import register_collateral_provider

        from .services.staking import staked_collateral

        penalty_recorded.connect(_settle_penalty, dispatch_uid="settlement.settle_penalty")
        verification_final.connect(_settle_verified_event, dispatch_uid="settlement.settle_verified_event")
        register_collateral_provider(staked_collateral)


def _settle_penalty(sender, penalty_id: int, **kwargs) -> None:
    """A penalty activation recorded (sent after its commit): charge it in the ledger (idempotent per penalty)."""
    from . import tasks

    tasks.settle_penalty.delay(penalty_id)


def _settle_verified_event(sender, event_id: int, **kwargs) -> None:
    """An event's verification committed (sent after its commit): settle the event now (ADR 0027)."""
    from . import tasks

    tasks.settle_verified_event.delay(event_id)
