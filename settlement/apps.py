from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = "Settlement, ledger and anchoring"

    def ready(self) -> None:
        from activation.signals import penalty_recorded
        from market.hooks import register_collateral_provider

        from .services.collateral import collateral_position

        penalty_recorded.connect(_settle_penalty, dispatch_uid="settlement.settle_penalty")
        register_collateral_provider(collateral_position)


def _settle_penalty(sender, penalty_id: int, **kwargs) -> None:
    """A penalty activation recorded (sent after its commit): charge it in the ledger (idempotent per penalty)."""
    from . import tasks

    tasks.settle_penalty.delay(penalty_id)
