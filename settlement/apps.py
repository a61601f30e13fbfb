from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = "Settlement, ledger and anchoring"

    def ready(self) -> None:
        from market.hooks import register_collateral_provider

        from .services.staking import staked_collateral

        register_collateral_provider(staked_collateral)
