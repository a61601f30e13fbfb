from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market"

    def ready(self) -> None:
        from accounts.hooks import register_aggregation_facts
        from accounts.signals import participation_ended

        from . import tasks
        from .services import eligibility, gates
        from .services.withdrawals import participation_ended_received

        eligibility.connect()
        tasks.connect()
        participation_ended.connect(participation_ended_received, dispatch_uid="market-participation-withdraw")
        # the compliance status lists the aggregation minimum through this provider (accounts.hooks)
        register_aggregation_facts(gates.AggregationFacts())
