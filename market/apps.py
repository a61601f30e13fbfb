from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market"

    def ready(self) -> None:
        from accounts.signals import participation_ended

        from . import tasks
        from .services import eligibility
        from .services.withdrawals import participation_ended_received

        eligibility.connect()
        tasks.connect()
        participation_ended.connect(participation_ended_received, dispatch_uid="market-participation-withdraw")
